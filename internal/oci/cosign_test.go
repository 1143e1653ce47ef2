package oci_test

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sealsign/seal/internal/oci/bundle"
	"github.com/sealsign/seal/internal/oci/legacy"
	"github.com/sealsign/seal/internal/oci/ocitest"
	"github.com/sealsign/seal/internal/testbed"
)

// testCertPEM returns a self-signed certificate in PEM, as cosign wants to parse one.
func testCertPEM(t *testing.T) []byte {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "seal test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func runCosign(t *testing.T, bin string, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir(), "COSIGN_EXPERIMENTAL=0", "SIGSTORE_NO_CACHE=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("cosign %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestCosignReadsWhatSealWrites: cosign v2 and v3 list and download the
// signatures, attestations and bundles Seal publishes, and cosign's own append
// to the .sig tag keeps Seal's signature (and the other way round).
func TestCosignReadsWhatSealWrites(t *testing.T) {
	v2 := testbed.Bin(t, testbed.BinCosign)
	v3 := testbed.Bin(t, testbed.BinCosignV3)
	ctx := ocitest.Context(t)
	host := ocitest.StartDistribution(t)
	img := ocitest.PushImage(t, host, "app")
	c := ocitest.Client(t, host)
	s, err := c.Resolve(ctx, img.String())
	if err != nil {
		t.Fatal(err)
	}
	cert := testCertPEM(t)
	payload := []byte(`{"critical":{"identity":{"docker-reference":"` + img.Context().String() + `"},"image":{"docker-manifest-digest":"` +
		s.Descriptor.Digest.String() + `"},"type":"cosign container image signature"},"optional":null}`)
	sig, err := legacy.SignatureLayer(payload, []byte("seal-signature"), legacy.Material{Certificate: cert, RFC3161Timestamp: []byte{1, 2, 3}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := legacy.Append(ctx, c, s, legacy.Signature, []legacy.Layer{sig}); err != nil {
		t.Fatal(err)
	}
	env := []byte(`{"payloadType":"application/vnd.in-toto+json","payload":"e30=","signatures":[{"keyid":"","sig":"AA=="}]}`)
	att, err := legacy.AttestationLayer(env, "https://slsa.dev/provenance/v1", legacy.Material{Certificate: cert})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := legacy.Append(ctx, c, s, legacy.Attestation, []legacy.Layer{att}); err != nil {
		t.Fatal(err)
	}
	r, err := bundle.Put(ctx, c, s, bundle.Artifact{Bundle: ocitest.Bundle(7), Content: bundle.ContentDSSE, PredicateType: "https://slsa.dev/provenance/v1"})
	if err != nil {
		t.Fatal(err)
	}

	// cosign v2 attaches a signature of its own; Seal's must stay.
	dir := t.TempDir()
	pf, sf := filepath.Join(dir, "payload.json"), filepath.Join(dir, "sig")
	if err := os.WriteFile(pf, payload, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(sf, []byte(base64.StdEncoding.EncodeToString([]byte("cosign-signature"))), 0o600); err != nil {
		t.Fatal(err)
	}
	runCosign(t, v2, "attach", "signature", "--payload", pf, "--signature", sf, img.String())
	// And Seal appends after cosign, keeping cosign's.
	third, _ := legacy.SignatureLayer(payload, []byte("seal-again"), legacy.Material{})
	if _, err := legacy.Append(ctx, c, s, legacy.Signature, []legacy.Layer{third}); err != nil {
		t.Fatal(err)
	}

	for _, bin := range []string{v2, v3} {
		out := runCosign(t, bin, "download", "signature", img.String())
		var got []string
		sc := bufio.NewScanner(strings.NewReader(out))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var line struct {
				Base64Signature  string
				Payload          []byte
				Cert             *struct{ Raw []byte }
				RFC3161Timestamp *struct{ SignedRFC3161Timestamp []byte }
			}
			if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
				continue // cosign v3 prints notices too
			}
			sigBytes, _ := base64.StdEncoding.DecodeString(line.Base64Signature)
			got = append(got, string(sigBytes))
			if !bytes.Equal(line.Payload, payload) {
				t.Errorf("%s download signature: payload %q", bin, line.Payload)
			}
			if string(sigBytes) == "seal-signature" && (line.Cert == nil || line.RFC3161Timestamp == nil ||
				!bytes.Equal(line.RFC3161Timestamp.SignedRFC3161Timestamp, []byte{1, 2, 3})) {
				t.Errorf("%s download signature: certificate or timestamp lost: %s", bin, sc.Text())
			}
		}
		if diff := cmp.Diff([]string{"seal-signature", "cosign-signature", "seal-again"}, got); diff != "" {
			t.Errorf("%s download signature (-want +got):\n%s\n%s", bin, diff, out)
		}
		if out := runCosign(t, bin, "download", "attestation", img.String()); !strings.Contains(out, string(env)) {
			t.Errorf("%s download attestation = %s, want the envelope", bin, out)
		}
		out = runCosign(t, bin, "tree", img.String())
		for _, want := range []string{".sig", ".att"} {
			if !strings.Contains(out, want) {
				t.Errorf("%s tree lacks %s:\n%s", bin, want, out)
			}
		}
		if bin == v3 && !strings.Contains(out, "https://slsa.dev/provenance/v1 artifacts via OCI referrer: "+r.Ref) {
			t.Errorf("cosign v3 tree does not list the bundle referrer %s by predicate type:\n%s", r.Ref, out)
		}
	}
}
