package policy

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"sort"

	"github.com/sigstore/sigstore-go/pkg/root"
)

// trust is what the policies need of a trusted_root.json.
type trust struct {
	cas []ca
	// fulcioURL is the first CA's URI.
	fulcioURL string
	// fulcioChain is every CA certificate, PEM (Kyverno's roots).
	fulcioChain string
	// tsas are the timestamp authorities; tsaChain is the first one's
	// chain, leaf first, PEM (Kyverno takes one).
	tsas     []ca
	tsaChain string
	tlogs    []tlog
	rekorURL string
	rekorKey string // PEM of the first transparency log's key
	ctlogs   []tlog
	ctKey    string
}

type ca struct {
	org, cn, uri string
	chain        []byte // PEM, leaf (if any) first, root last
}

type tlog struct {
	url, hash string
	key       []byte // PEM
}

func parseTrust(b []byte) (*trust, error) {
	tr, err := root.NewTrustedRootFromJSON(b)
	if err != nil {
		return nil, fmt.Errorf("reading trusted root: %w", err)
	}
	t := &trust{}
	for _, c := range tr.FulcioCertificateAuthorities() {
		f, ok := c.(*root.FulcioCertificateAuthority)
		if !ok || f.Root == nil {
			continue
		}
		chain := append(append([]*x509.Certificate{}, f.Intermediates...), f.Root)
		t.cas = append(t.cas, newCA(f.Root, f.URI, chain, "fulcio"))
	}
	if len(t.cas) > 0 {
		t.fulcioURL = t.cas[0].uri
		var all []byte
		for _, c := range t.cas {
			all = append(all, c.chain...)
		}
		t.fulcioChain = string(all)
	}
	for _, a := range tr.TimestampingAuthorities() {
		s, ok := a.(*root.SigstoreTimestampingAuthority)
		if !ok || s.Root == nil {
			continue
		}
		var chain []*x509.Certificate
		if s.Leaf != nil {
			chain = append(chain, s.Leaf)
		}
		chain = append(append(chain, s.Intermediates...), s.Root)
		t.tsas = append(t.tsas, newCA(s.Root, s.URI, chain, "tsa"))
	}
	if len(t.tsas) > 0 {
		t.tsaChain = string(t.tsas[0].chain)
	}
	t.tlogs, err = logs(tr.RekorLogs())
	if err != nil {
		return nil, err
	}
	if len(t.tlogs) > 0 {
		t.rekorURL, t.rekorKey = t.tlogs[0].url, string(t.tlogs[0].key)
	}
	t.ctlogs, err = logs(tr.CTLogs())
	if err != nil {
		return nil, err
	}
	if len(t.ctlogs) > 0 {
		t.ctKey = string(t.ctlogs[0].key)
	}
	if len(t.cas) == 0 && len(t.tsas) == 0 {
		return nil, errors.New("trusted root names no certificate authority and no timestamp authority")
	}
	return t, nil
}

func newCA(rootCert *x509.Certificate, uri string, chain []*x509.Certificate, what string) ca {
	c := ca{org: what, cn: what, uri: uri}
	if o := rootCert.Subject.Organization; len(o) > 0 && o[0] != "" {
		c.org = o[0]
	}
	if rootCert.Subject.CommonName != "" {
		c.cn = rootCert.Subject.CommonName
	}
	if c.uri == "" {
		c.uri = "https://" + what + ".invalid"
	}
	var buf bytes.Buffer
	for _, cert := range chain {
		_ = pem.Encode(&buf, &pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})
	}
	c.chain = buf.Bytes()
	return c
}

// logs lists transparency logs in a stable order (the trusted root keeps
// them in a map).
func logs(m map[string]*root.TransparencyLog) ([]tlog, error) {
	ids := make([]string, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var out []tlog
	for _, id := range ids {
		l := m[id]
		if l.PublicKey == nil {
			continue
		}
		der, err := x509.MarshalPKIXPublicKey(l.PublicKey)
		if err != nil {
			return nil, fmt.Errorf("encoding the key of log %s: %w", l.BaseURL, err)
		}
		h := "sha-256"
		switch l.HashFunc {
		case crypto.SHA384:
			h = "sha-384"
		case crypto.SHA512:
			h = "sha-512"
		}
		out = append(out, tlog{url: l.BaseURL, hash: h, key: pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})})
	}
	return out, nil
}
