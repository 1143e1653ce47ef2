package testbed

import (
	"bytes"
	"crypto"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	prototrustroot "github.com/sigstore/protobuf-specs/gen/pb-go/trustroot/v1"
	"github.com/sigstore/sigstore-go/pkg/root"
)

// trustedSince is how far back the testbed's trust material claims to be valid. Fulcio's and the
// TSA's in-memory CAs are minted at start-up, but verifiers compare signing times against the
// validity period, so it opens a little before them.
const trustedSince = 24 * time.Hour

// TrustedRootJSON returns a Sigstore trusted root
// (application/vnd.dev.sigstore.trustedroot+json;version=0.1) holding fulcio's CA and tsa's
// chain, valid from a day ago with no end, and no transparency or CT logs. Either peer may be nil,
// for example a TSA alone for key-based signatures with timestamps.
func TrustedRootJSON(t testing.TB, fulcio *Fulcio, tsa *TSA) []byte {
	t.Helper()
	return trustedRootJSON(t, fulcio, tsa, nil)
}

// TrustedRootWithRekorJSON is TrustedRootJSON plus rekor as the one transparency log (when
// rekor is not nil): baseUrl, SHA-256 Merkle hashing, the checkpoint key and the log ID, the
// entry verifiers look an entry's logId.keyId up by. The entry has the same shape for Rekor v1
// and v2: for v1 the key also signs the signed entry timestamps.
func TrustedRootWithRekorJSON(t testing.TB, fulcio *Fulcio, tsa *TSA, rekor *Rekor) []byte {
	t.Helper()
	return trustedRootJSON(t, fulcio, tsa, rekor)
}

func trustedRootJSON(t testing.TB, fulcio *Fulcio, tsa *TSA, rekor *Rekor) []byte {
	t.Helper()
	since := time.Now().Add(-trustedSince).Truncate(time.Second)
	var cas []root.CertificateAuthority
	if fulcio != nil {
		certs := fulcio.RootCerts()
		cas = append(cas, &root.FulcioCertificateAuthority{
			Root:                certs[len(certs)-1],
			Intermediates:       certs[:len(certs)-1],
			ValidityPeriodStart: since,
			URI:                 fulcio.URL,
		})
	}
	var tsas []root.TimestampingAuthority
	if tsa != nil {
		chain := tsa.Chain()
		a := &root.SigstoreTimestampingAuthority{
			Root:                chain[len(chain)-1],
			ValidityPeriodStart: since,
			URI:                 tsa.TimestampURL(),
		}
		if len(chain) > 1 {
			a.Leaf = chain[0]
			a.Intermediates = chain[1 : len(chain)-1]
		}
		tsas = append(tsas, a)
	}
	var tlogs map[string]*root.TransparencyLog
	if rekor != nil {
		tlogs = map[string]*root.TransparencyLog{hex.EncodeToString(rekor.LogID): {
			BaseURL:             rekor.URL,
			ID:                  rekor.LogID,
			ValidityPeriodStart: since,
			HashFunc:            crypto.SHA256,
			PublicKey:           rekor.PublicKey,
			SignatureHashFunc:   crypto.SHA256,
		}}
	}
	tr, err := root.NewTrustedRoot(root.TrustedRootMediaType01, cas, nil, tsas, tlogs)
	if err != nil {
		t.Fatalf("building trusted root: %v", err)
	}
	b, err := tr.MarshalJSON()
	if err != nil {
		t.Fatalf("encoding trusted root: %v", err)
	}
	return indent(t, b)
}

// TrustedRoot writes TrustedRootJSON to trusted_root.json in a new temporary directory and
// returns its path, for sigstore-go's root.NewTrustedRootFromPath and cosign's --trusted-root.
func TrustedRoot(t testing.TB, fulcio *Fulcio, tsa *TSA) string {
	t.Helper()
	return writeTemp(t, "trusted_root.json", TrustedRootJSON(t, fulcio, tsa))
}

// TrustedRootWithRekor writes TrustedRootWithRekorJSON to trusted_root.json in a new temporary
// directory and returns its path.
func TrustedRootWithRekor(t testing.TB, fulcio *Fulcio, tsa *TSA, rekor *Rekor) string {
	t.Helper()
	return writeTemp(t, "trusted_root.json", TrustedRootWithRekorJSON(t, fulcio, tsa, rekor))
}

// TrustedRootJSONL writes the trusted root as JSON Lines (one compact document on one line) to
// trusted_root.jsonl and returns its path: `gh attestation verify --custom-trusted-root` reads
// that format.
func TrustedRootJSONL(t testing.TB, fulcio *Fulcio, tsa *TSA) string {
	t.Helper()
	return writeJSONL(t, TrustedRootJSON(t, fulcio, tsa))
}

// TrustedRootWithRekorJSONL is TrustedRootJSONL with rekor's log, for gh.
func TrustedRootWithRekorJSONL(t testing.TB, fulcio *Fulcio, tsa *TSA, rekor *Rekor) string {
	t.Helper()
	return writeJSONL(t, TrustedRootWithRekorJSON(t, fulcio, tsa, rekor))
}

func writeJSONL(t testing.TB, doc []byte) string {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Compact(&buf, doc); err != nil {
		t.Fatalf("compacting trusted root: %v", err)
	}
	buf.WriteByte('\n')
	return writeTemp(t, "trusted_root.jsonl", buf.Bytes())
}

// SigningConfig writes a Sigstore signing config
// (application/vnd.dev.sigstore.signingconfig.v0.2+json) naming fulcio as the CA and tsa as the
// timestamp authority, with no Rekor log, to signing_config.json in a new temporary directory and
// returns its path. Either peer may be nil.
func SigningConfig(t testing.TB, fulcio *Fulcio, tsa *TSA) string {
	t.Helper()
	return signingConfig(t, fulcio, tsa, nil)
}

// SigningConfigWithRekor is SigningConfig plus rekor, when not nil, as the one transparency log,
// with majorApiVersion rekor.Version (2 for StartRekor, 1 for StartRekorV1) so that clients use
// the log's API.
func SigningConfigWithRekor(t testing.TB, fulcio *Fulcio, tsa *TSA, rekor *Rekor) string {
	t.Helper()
	return signingConfig(t, fulcio, tsa, rekor)
}

func signingConfig(t testing.TB, fulcio *Fulcio, tsa *TSA, rekor *Rekor) string {
	t.Helper()
	since := time.Now().Add(-trustedSince).Truncate(time.Second)
	var cas, tsas []root.Service
	if fulcio != nil {
		cas = append(cas, root.Service{URL: fulcio.URL, MajorAPIVersion: 1, ValidityPeriodStart: since, Operator: "seal-testbed"})
	}
	if tsa != nil {
		tsas = append(tsas, root.Service{URL: tsa.TimestampURL(), MajorAPIVersion: 1, ValidityPeriodStart: since, Operator: "seal-testbed"})
	}
	var logs []root.Service
	if rekor != nil {
		logs = append(logs, root.Service{URL: rekor.URL, MajorAPIVersion: uint32(rekor.Version), ValidityPeriodStart: since, Operator: "seal-testbed"})
	}
	sc, err := root.NewSigningConfig(root.SigningConfigMediaType02,
		cas, nil,
		logs, root.ServiceConfiguration{Selector: prototrustroot.ServiceSelector_ANY},
		tsas, root.ServiceConfiguration{Selector: prototrustroot.ServiceSelector_ANY})
	if err != nil {
		t.Fatalf("building signing config: %v", err)
	}
	b, err := sc.MarshalJSON()
	if err != nil {
		t.Fatalf("encoding signing config: %v", err)
	}
	return writeTemp(t, "signing_config.json", indent(t, b))
}

// indent re-encodes JSON with stable indentation: protojson varies its spacing on purpose.
func indent(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Indent(&buf, b, "", "  "); err != nil {
		t.Fatalf("indenting JSON: %v", err)
	}
	buf.WriteByte('\n')
	return buf.Bytes()
}

func writeTemp(t testing.TB, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatalf("writing %s: %v", name, err)
	}
	return p
}
