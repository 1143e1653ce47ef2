package verify

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/binary"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/digitorus/timestamp"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/sign"

	"github.com/sealsign/seal/internal/signing"
)

// testCA is a Fulcio-like CA and a timestamp authority made in the test,
// for keyless checks without a running Sigstore.
type testCA struct {
	t                 *testing.T
	caCert, tsaCert   *x509.Certificate
	caKey, tsaKey     *ecdsa.PrivateKey
	tsaLeaf           *x509.Certificate
	withoutCT, withCT root.TrustedMaterial
	ctLogID           []byte // withCT's log
	issuer            string
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	c := &testCA{t: t, issuer: "https://token.actions.githubusercontent.com"}
	start := time.Now().Add(-time.Hour)
	c.caKey, c.caCert = c.selfSigned("test fulcio", start, x509.ExtKeyUsageCodeSigning)
	c.tsaKey, c.tsaCert = c.selfSigned("test tsa root", start, x509.ExtKeyUsageTimeStamping)
	eku, err := asn1.Marshal([]asn1.ObjectIdentifier{{1, 3, 6, 1, 5, 5, 7, 3, 8}})
	if err != nil {
		t.Fatal(err)
	}
	leafKey := c.tsaKey // the TSA root signs its own leaf key's certificate: one key is enough here
	c.tsaLeaf = c.issue(&x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "test tsa"},
		NotBefore: start, NotAfter: start.Add(24 * time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtraExtensions: []pkix.Extension{{Id: asn1.ObjectIdentifier{2, 5, 29, 37}, Critical: true, Value: eku}},
	}, c.tsaCert, c.tsaKey, &leafKey.PublicKey)
	cas := []root.CertificateAuthority{&root.FulcioCertificateAuthority{Root: c.caCert, ValidityPeriodStart: start}}
	tsas := []root.TimestampingAuthority{&root.SigstoreTimestampingAuthority{Root: c.tsaCert, Leaf: c.tsaLeaf, ValidityPeriodStart: start}}
	if c.withoutCT, err = root.NewTrustedRoot(root.TrustedRootMediaType01, cas, nil, tsas, nil); err != nil {
		t.Fatal(err)
	}
	ctKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(ctKey.Public())
	if err != nil {
		t.Fatal(err)
	}
	id := sha256.Sum256(der)
	c.ctLogID = id[:]
	ct := map[string]*root.TransparencyLog{hex.EncodeToString(id[:]): {
		ID: id[:], PublicKey: ctKey.Public(), HashFunc: crypto.SHA256, ValidityPeriodStart: start, BaseURL: "https://ct.example",
	}}
	if c.withCT, err = root.NewTrustedRoot(root.TrustedRootMediaType01, cas, ct, tsas, nil); err != nil {
		t.Fatal(err)
	}
	return c
}

func (c *testCA) selfSigned(cn string, start time.Time, eku x509.ExtKeyUsage) (*ecdsa.PrivateKey, *x509.Certificate) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		c.t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn},
		NotBefore: start, NotAfter: start.Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{eku},
		BasicConstraintsValid: true, IsCA: true,
	}
	return key, c.issue(tmpl, tmpl, key, &key.PublicKey)
}

func (c *testCA) issue(tmpl, parent *x509.Certificate, parentKey *ecdsa.PrivateKey, pub crypto.PublicKey) *x509.Certificate {
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, parentKey)
	if err != nil {
		c.t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		c.t.Fatal(err)
	}
	return cert
}

// leaf issues a short-lived code-signing certificate for san with the
// OIDC issuer, the given Fulcio extensions (OID suffix after
// 1.3.6.1.4.1.57264.1 → value) and any extra ones, and returns it with its
// key.
func (c *testCA) leaf(san string, ext map[int]string, extra ...pkix.Extension) (*x509.Certificate, *ecdsa.PrivateKey) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		c.t.Fatal(err)
	}
	u, err := url.Parse(san)
	if err != nil {
		c.t.Fatal(err)
	}
	all := map[int]string{8: c.issuer}
	for k, v := range ext {
		all[k] = v
	}
	var exts []pkix.Extension
	for k, v := range all {
		val, err := asn1.MarshalWithParams(v, "utf8")
		if err != nil {
			c.t.Fatal(err)
		}
		exts = append(exts, pkix.Extension{Id: asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, k}, Value: val})
	}
	exts = append(exts, extra...)
	now := time.Now().Add(-time.Minute)
	cert := c.issue(&x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), NotBefore: now, NotAfter: now.Add(10 * time.Minute),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
		URIs: []*url.URL{u}, ExtraExtensions: exts,
	}, c.caCert, c.caKey, &key.PublicKey)
	return cert, key
}

// forgedSCT is the embedded SCT list extension (RFC 6962 §3.3) of one
// well-formed SCT that names logID, whose signature no log made.
func forgedSCT(t *testing.T, logID []byte) pkix.Extension {
	t.Helper()
	sig := []byte{0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01} // ECDSA r=1, s=1
	sct := append([]byte{0}, logID...)                            // v1, log ID
	sct = binary.BigEndian.AppendUint64(sct, uint64(time.Now().UnixMilli()))
	sct = append(sct, 0, 0, 4, 3) // no extensions; SHA-256, ECDSA
	sct = binary.BigEndian.AppendUint16(sct, uint16(len(sig)))
	sct = append(sct, sig...)
	list := binary.BigEndian.AppendUint16(nil, uint16(len(sct)+2))
	list = binary.BigEndian.AppendUint16(list, uint16(len(sct)))
	val, err := asn1.Marshal(append(list, sct...))
	if err != nil {
		t.Fatal(err)
	}
	return pkix.Extension{Id: asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 11129, 2, 4, 2}, Value: val}
}

// timestamp is an RFC 3161 timestamp response over data.
func (c *testCA) timestamp(data []byte) []byte {
	req, err := timestamp.CreateRequest(bytes.NewReader(data), &timestamp.RequestOptions{Hash: crypto.SHA256})
	if err != nil {
		c.t.Fatal(err)
	}
	parsed, err := timestamp.ParseRequest(req)
	if err != nil {
		c.t.Fatal(err)
	}
	ts := timestamp.Timestamp{HashAlgorithm: parsed.HashAlgorithm, HashedMessage: parsed.HashedMessage, Time: time.Now(), Policy: asn1.ObjectIdentifier{1, 2, 3}}
	resp, err := ts.CreateResponseWithOpts(c.tsaLeaf, c.tsaKey, crypto.SHA256)
	if err != nil {
		c.t.Fatal(err)
	}
	return resp
}

func certPEM(cert *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})
}

const testDigest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func digestBytes(t *testing.T) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.TrimPrefix(testDigest, "sha256:"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func simpleSigning(digest string) []byte {
	return []byte(fmt.Sprintf(`{"critical":{"identity":{"docker-reference":"r.example/app"},"image":{"docker-manifest-digest":%q},"type":"cosign container image signature"},"optional":null}`, digest))
}

func statementAbout(digest, predicateType string) []byte {
	return []byte(fmt.Sprintf(`{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"r.example/app","digest":{"sha256":%q}}],"predicateType":%q,"predicate":{}}`,
		strings.TrimPrefix(digest, "sha256:"), predicateType))
}

// keyedSigner signs with a new ephemeral key; kp verifies what it signs.
func keyedSigner(t *testing.T) (*signing.Signer, sign.Keypair) {
	t.Helper()
	kp, err := sign.NewEphemeralKeypair(nil)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := signing.NewKeyed(kp)
	if err != nil {
		t.Fatal(err)
	}
	return signer, kp
}
