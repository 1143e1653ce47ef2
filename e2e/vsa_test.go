package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sealsign/seal/internal/testbed"
)

const vsaType = "https://slsa.dev/verification_summary/v1"

// TestVSA is a promotion job: seal verify --vsa checks keyless provenance
// from a GitHub-hosted runner and writes a Verification Summary; seal
// attest --vsa signs it with the promotion job's key and publishes it in
// both formats, on a registry with the referrers API and one without;
// cosign v2 and v3 verify-attestation --type
// https://slsa.dev/verification_summary/v1 accept it in each format, and
// seal verify --attestation vsa admits the image on it alone. A FAILED
// summary, signed the same way, does not satisfy that requirement, and a
// summary cannot be attested about another image than the one verified.
func TestVSA(t *testing.T) {
	cosign := map[int]string{2: testbed.Bin(t, testbed.BinCosign), 3: testbed.Bin(t, testbed.BinCosignV3)}
	s := startSigstore(t)
	dir := t.TempDir()
	claims := testbed.GitHubClaims(s.githubRepo)
	keyEnv := []string{"COSIGN_PASSWORD=" + s.password}
	promote := func(host, file, img, format string) (string, error) {
		return run(t, keyEnv, sealBin, "attest", "--vsa", file, "--format", format, "--key", s.key, "--no-tlog", "--no-timestamp", "--insecure-registry", host, img)
	}

	// On a registry with the referrers API and one without; one image per
	// format, as cosign v2 reads the legacy tags only of an image without
	// bundles.
	var reg *testbed.Registry
	var passed, img string
	for _, kind := range []testbed.RegistryKind{testbed.Distribution, testbed.Olareg} {
		reg = testbed.StartRegistry(t, kind)
		for _, format := range []string{"bundle", "legacy"} {
			t.Run(fmt.Sprintf("%s/%s", kind, format), func(t *testing.T) {
				img = pushImage(t, reg.Host, "promote/"+format)
				s.keylessSign(t, reg.Host, img, format, claims)
				passed = filepath.Join(dir, fmt.Sprintf("%s-%s.vsa.json", kind, format))
				out := mustRun(t, nil, sealBin, s.verifyArgs(reg.Host, "--github-repo", s.githubRepo, "--attestation", "slsaprovenance1", "--vsa", passed, img)...)
				if !strings.Contains(out, "PASSED, SLSA_BUILD_LEVEL_2") {
					t.Errorf("seal verify --vsa does not report a PASSED summary at Build L2:\n%s", out)
				}
				checkSummary(t, passed, img)
				if out, err := promote(reg.Host, passed, img, format); err != nil {
					t.Fatalf("seal attest --vsa: %v\n%s", err, out)
				}
				// A re-run of the job publishes that summary once.
				if out, err := promote(reg.Host, passed, img, format); err != nil || !strings.Contains(out, "exists "+format+" attestation "+vsaType) {
					t.Errorf("seal attest --vsa again: %v, want the summary reported as existing:\n%s", err, out)
				}
				for _, v := range []int{2, 3} {
					out := mustRun(t, nil, cosign[v], append(append([]string{"verify-attestation", "--type", vsaType}, s.cosignArgs(v, false, format)...), img)...)
					for _, l := range strings.Split(out, "\n") {
						if strings.Contains(l, "Verification for") || strings.Contains(l, "were verified against") {
							t.Logf("cosign v%d (%s): %s", v, format, strings.TrimSpace(l))
						}
					}
					if got := attestedTypes(t, out); len(got) != 1 || got[0] != vsaType {
						t.Errorf("cosign v%d verify-attestation (%s) verified statements of types %q, want the one %s:\n%s", v, format, got, vsaType, out)
					}
				}
				expectVerify(t, true, "", "verify", "--key", s.pub, "--no-signature", "--attestation", "vsa", "--insecure-registry", reg.Host, img)
			})
		}
	}
	if t.Failed() {
		return
	}

	// The summary checks seal policy writes into admission policies, with
	// the same flags: the verifier (Seal's by default), the minimum level
	// and the policy digest. A summary of this run records them.
	t.Run("summary-checks", func(t *testing.T) {
		var st struct {
			Predicate struct {
				Policy struct {
					Digest map[string]string `json:"digest"`
				} `json:"policy"`
			} `json:"predicate"`
		}
		raw, err := os.ReadFile(passed)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(raw, &st); err != nil {
			t.Fatal(err)
		}
		digest := "sha256:" + st.Predicate.Policy.Digest["sha256"]
		verify := func(flags ...string) []string {
			return append(append([]string{"verify", "--key", s.pub, "--no-signature", "--attestation", "vsa", "--insecure-registry", reg.Host}, flags...), img)
		}
		expectVerify(t, true, "", verify("--vsa-level", "SLSA_BUILD_LEVEL_2", "--vsa-policy-digest", digest)...)
		expectVerify(t, false, "verifiedLevels [SLSA_BUILD_LEVEL_2], want SLSA_BUILD_LEVEL_3", verify("--vsa-level", "SLSA_BUILD_LEVEL_3")...)
		expectVerify(t, false, `is from verifier "https://github.com/sealsign/seal/verify", want "https://verifier.example.com"`, verify("--vsa-verifier", "https://verifier.example.com")...)
		expectVerify(t, false, "policy.digest sha256", verify("--vsa-policy-digest", "sha256:"+strings.Repeat("0", 64))...)
		again := filepath.Join(dir, "again.vsa.json")
		mustRun(t, nil, sealBin, verify("--vsa-level", "SLSA_BUILD_LEVEL_2", "--vsa", again)...)
		if raw, err := os.ReadFile(again); err != nil || !strings.Contains(string(raw), "vsa.minLevel=SLSA_BUILD_LEVEL_2") || !strings.Contains(string(raw), "vsa.verifier=https%3A%2F%2Fgithub.com%2Fsealsign%2Fseal%2Fverify") {
			t.Errorf("seal verify --vsa --attestation vsa --vsa-level: %v, want the summary checks in policy.uri:\n%s", err, raw)
		}
	})

	// A bare predicate with --type vsa is a record too: a later summary is
	// published beside the first. The whole statement is pointed to --vsa.
	var st struct {
		Predicate map[string]any `json:"predicate"`
	}
	raw, err := os.ReadFile(passed)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &st); err != nil {
		t.Fatal(err)
	}
	st.Predicate["timeVerified"] = "2030-01-01T00:00:00Z"
	later, err := json.Marshal(st.Predicate)
	if err != nil {
		t.Fatal(err)
	}
	pred := writeFile(t, dir, "later.vsa-predicate.json", string(later))
	out, err := run(t, keyEnv, sealBin, "attest", "--predicate", pred, "--type", "vsa", "--format", "legacy", "--key", s.key, "--no-tlog", "--no-timestamp", "--insecure-registry", reg.Host, img)
	if err != nil || !strings.Contains(out, "wrote legacy attestation "+vsaType) {
		t.Errorf("seal attest --predicate --type vsa of a later summary: %v, want it written:\n%s", err, out)
	}
	out, err = run(t, keyEnv, sealBin, "attest", "--predicate", passed, "--type", "vsa", "--key", s.key, "--no-tlog", "--insecure-registry", reg.Host, img)
	if err == nil || !strings.Contains(out, "give it with --vsa FILE") {
		t.Errorf("seal attest --predicate STATEMENT --type vsa: %v, want it pointed to --vsa:\n%s", err, out)
	}

	// A keyless promotion job: the summary signed with the job's identity.
	t.Run("keyless", func(t *testing.T) {
		img := pushImage(t, reg.Host, "promote/keyless")
		s.keylessSign(t, reg.Host, img, "both", claims)
		file := filepath.Join(dir, "keyless.vsa.json")
		mustRun(t, nil, sealBin, s.verifyArgs(reg.Host, "--github-repo", s.githubRepo, "--attestation", "slsaprovenance1", "--vsa", file, img)...)
		s.keylessRun(t, reg.Host, img, "both", claims, "--vsa", file)
		for _, v := range []int{2, 3} {
			out := mustRun(t, nil, cosign[v], append(append([]string{"verify-attestation", "--type", vsaType}, s.cosignArgs(v, true, "bundle")...), img)...)
			for _, l := range strings.Split(out, "\n") {
				if strings.Contains(l, "Verification for") || strings.Contains(l, "Certificate subject") || strings.Contains(l, "Certificate issuer") {
					t.Logf("cosign v%d (keyless): %s", v, strings.TrimSpace(l))
				}
			}
			if got := attestedTypes(t, out); len(got) != 1 || got[0] != vsaType {
				t.Errorf("cosign v%d verify-attestation (keyless) verified statements of types %q, want the one %s:\n%s", v, got, vsaType, out)
			}
		}
		expectVerify(t, true, "", s.verifyArgs(reg.Host, "--github-repo", s.githubRepo, "--attestation", "vsa", img)...)
	})

	// The same checks against another repository fail: the summary says so,
	// and once signed it is no evidence for the image.
	other := pushImage(t, reg.Host, "promote/other")
	s.keylessSign(t, reg.Host, other, "both", claims)
	failed := filepath.Join(dir, "failed.vsa.json")
	out, err = run(t, nil, sealBin, s.verifyArgs(reg.Host, "--github-repo", "acme/payment", "--attestation", "slsaprovenance1", "--vsa", failed, other)...)
	if err == nil || !strings.Contains(out, "FAILED, FAILED") {
		t.Fatalf("seal verify --vsa against another repository: %v, want a failure and a FAILED summary:\n%s", err, out)
	}
	if out, err := promote(reg.Host, failed, other, "both"); err != nil {
		t.Fatalf("seal attest --vsa (FAILED): %v\n%s", err, out)
	}
	mustRun(t, nil, cosign[3], append(append([]string{"verify-attestation", "--type", vsaType}, s.cosignArgs(3, false, "bundle")...), other)...)
	expectVerify(t, false, "verificationResult FAILED", "verify", "--key", s.pub, "--no-signature", "--attestation", "vsa", "--insecure-registry", reg.Host, other)

	// A summary of one image is not attested about another.
	out, err = promote(reg.Host, passed, other, "both")
	if err == nil || !strings.Contains(out, "the verification summary is about "+strings.SplitN(img, "@", 2)[1]) {
		t.Fatalf("seal attest --vsa about another image: %v, want a refusal naming the verified image:\n%s", err, out)
	}
}

// checkSummary checks that the summary names the image, the repository the
// policy required and what verified.
func checkSummary(t *testing.T, path, img string) {
	t.Helper()
	var st struct {
		Subject []struct {
			Digest map[string]string `json:"digest"`
		} `json:"subject"`
		Predicate struct {
			ResourceURI string `json:"resourceUri"`
			Policy      struct {
				URI string `json:"uri"`
			} `json:"policy"`
			InputAttestations []struct {
				URI string `json:"uri"`
			} `json:"inputAttestations"`
		} `json:"predicate"`
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &st); err != nil {
		t.Fatalf("the summary is not JSON: %v\n%s", err, raw)
	}
	if len(st.Subject) != 1 || "sha256:"+st.Subject[0].Digest["sha256"] != strings.SplitN(img, "@", 2)[1] || st.Predicate.ResourceURI != img ||
		!strings.Contains(st.Predicate.Policy.URI, "ext.sourceRepositoryURI=") || len(st.Predicate.InputAttestations) == 0 {
		t.Errorf("summary does not name the image, the repository checked and what verified:\n%s", raw)
	}
	t.Logf("policy.uri %s", st.Predicate.Policy.URI)
}

// attestedTypes are the predicate types of the envelopes cosign
// verify-attestation prints, one JSON object a line.
func attestedTypes(t *testing.T, out string) []string {
	t.Helper()
	var types []string
	for _, l := range strings.Split(out, "\n") {
		var env struct {
			Payload []byte `json:"payload"`
		}
		if !strings.HasPrefix(l, "{") || json.Unmarshal([]byte(l), &env) != nil {
			continue
		}
		var st struct {
			PredicateType string `json:"predicateType"`
		}
		if err := json.Unmarshal(env.Payload, &st); err != nil {
			t.Fatalf("cosign printed an envelope whose payload is no statement: %v", err)
		}
		types = append(types, st.PredicateType)
	}
	return types
}
