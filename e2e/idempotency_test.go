package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/sealsign/seal/internal/oci"
	"github.com/sealsign/seal/internal/oci/bundle"
	"github.com/sealsign/seal/internal/oci/legacy"
	"github.com/sealsign/seal/internal/testbed"
)

// TestRerunIsIdempotent: running the same job twice publishes nothing
// twice, in either format, keyed or keyless; a different signer still adds
// its own.
func TestRerunIsIdempotent(t *testing.T) {
	s := startSigstore(t)
	reg := testbed.StartRegistry(t, testbed.Distribution)
	client, err := oci.New(oci.WithInsecureHosts(reg.Host))
	if err != nil {
		t.Fatal(err)
	}
	sbom := writeFile(t, t.TempDir(), "sbom.json", spdxSBOM)
	count := func(t *testing.T, img string) (bundles, sigs, atts int) {
		sub, err := client.Resolve(context.Background(), img)
		if err != nil {
			t.Fatal(err)
		}
		bs, err := bundle.List(context.Background(), client, sub, bundle.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		ss, err := legacy.Read(context.Background(), client, sub, legacy.Signature)
		if err != nil {
			t.Fatal(err)
		}
		as, err := legacy.Read(context.Background(), client, sub, legacy.Attestation)
		if err != nil {
			t.Fatal(err)
		}
		return len(bs), len(ss), len(as)
	}
	for _, keyless := range []bool{false, true} {
		t.Run(map[bool]string{false: "key", true: "keyless"}[keyless], func(t *testing.T) {
			img := pushImage(t, reg.Host, fmt.Sprintf("rerun/%v", keyless))
			env := []string{"COSIGN_PASSWORD=" + s.password}
			args := []string{"attest", "--sign", "--provenance", "--predicate", sbom, "--insecure-registry", reg.Host, "--no-tlog"}
			if keyless {
				genv, tok := s.githubEnv(t)
				env = append(env, genv...)
				args = append(args, "--identity-token", tok, "--fulcio-url", s.fulcio.URL, "--timestamp-url", s.tsa.TimestampURL())
			} else {
				args = append(args, "--key", s.key)
			}
			first := mustRun(t, env, sealBin, append(args, img)...)
			if strings.Contains(first, "exists ") {
				t.Fatalf("first run found existing signatures:\n%s", first)
			}
			b1, s1, a1 := count(t, img)
			if b1 != 3 || s1 != 1 || a1 != 2 {
				t.Fatalf("after one run: %d bundles, %d legacy signatures, %d legacy attestations; want 3, 1, 2", b1, s1, a1)
			}
			second := mustRun(t, env, sealBin, append(args, img)...)
			if n := strings.Count(second, "exists "); n != 6 {
				t.Errorf("re-run reported %d existing artifacts, want 6:\n%s", n, second)
			}
			if b2, s2, a2 := count(t, img); b2 != b1 || s2 != s1 || a2 != a1 {
				t.Errorf("re-run added artifacts: %d/%d/%d after, %d/%d/%d before", b2, s2, a2, b1, s1, a1)
			}
			// Another signer (another key) is not a duplicate: it adds its own.
			k2 := t.TempDir() + "/k2"
			mustRun(t, []string{"COSIGN_PASSWORD=x"}, sealBin, "generate-key-pair", "--output-key-prefix", k2)
			mustRun(t, []string{"COSIGN_PASSWORD=x"}, sealBin, "sign", "--key", k2+".key", "--insecure-registry", reg.Host, "--no-tlog", img)
			if b3, s3, _ := count(t, img); b3 != b1+1 || s3 != s1+1 {
				t.Errorf("another key's signature: %d bundles, %d legacy signatures; want %d, %d", b3, s3, b1+1, s1+1)
			}
		})
	}
}
