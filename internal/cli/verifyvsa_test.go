package cli

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sealsign/seal/internal/cli/options"
	"github.com/sealsign/seal/internal/predicate"
	"github.com/sealsign/seal/internal/verify"
)

// TestVSAVerifyFlags: seal verify takes seal policy's summary checks, with
// the same names and meaning, into its policy; without a required summary,
// or with a level or digest it cannot read, they are usage errors, as in
// seal policy, before any registry is asked.
func TestVSAVerifyFlags(t *testing.T) {
	pub := filepath.Join("..", "policy", "testdata", "cosign.pub")
	digest := "sha256:" + strings.Repeat("ab", 32)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"level without a summary", []string{"--key", pub, "--vsa-level", "SLSA_BUILD_LEVEL_1"}, "need --attestation vsa"},
		{"verifier beside another attestation", []string{"--key", pub, "--attestation", "spdx", "--vsa-verifier", "https://verifier.example.com"}, "need --attestation vsa"},
		{"digest without a summary", []string{"--key", pub, "--vsa-policy-digest", digest}, "need --attestation vsa"},
		{"unknown level", []string{"--key", pub, "--attestation", "vsa", "--vsa-level", "SLSA_BUILD_LEVEL_4"}, `SLSA level "SLSA_BUILD_LEVEL_4": want one of SLSA_BUILD_LEVEL_0`},
		{"bad digest", []string{"--key", pub, "--attestation", "vsa", "--vsa-policy-digest", "sha256:abc"}, "want sha256:HEX"},
		{"verifier with a control character", []string{"--key", pub, "--attestation", "vsa", "--vsa-verifier", "https://v.example.com\x1b[2J"}, "control character"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := Execute(context.Background(), append(append([]string{"verify"}, tc.args...), "127.0.0.1:1/app@sha256:"+strings.Repeat("0", 64)), &stdout, &stderr)
			if code != 2 || !strings.Contains(stderr.String(), tc.want) {
				t.Errorf("exit code %d, stderr %q: want 2 and %q", code, stderr.String(), tc.want)
			}
		})
	}

	a := &app{stdout: io.Discard, stderr: io.Discard, lookupEnv: os.LookupEnv}
	o := &options.Verify{Identity: options.Identity{Key: pub}, Attestations: []string{"vsa"}, NoSignature: true,
		VSACheck: options.VSACheck{VSAVerifier: "https://verifier.example.com", VSALevel: "SLSA_BUILD_LEVEL_2", VSAPolicyDigest: digest}}
	p, err := a.verifyPolicy(context.Background(), o)
	if err != nil {
		t.Fatalf("verifyPolicy() = %v", err)
	}
	if diff := cmp.Diff(verify.VSACheck{VerifierID: "https://verifier.example.com", MinLevel: "SLSA_BUILD_LEVEL_2", PolicyDigest: digest}, p.VSA); diff != "" {
		t.Errorf("policy's summary checks (-want +got):\n%s", diff)
	}
	if d := p.Document(false); d.VSA == nil || d.VSA.MinLevel != verify.LevelBuild2 || p.Attestations[0] != predicate.VSA {
		t.Errorf("policy document %s: want the summary checks in it", d.JSON())
	}
}
