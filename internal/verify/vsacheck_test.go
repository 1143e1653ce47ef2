package verify

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sealsign/seal/internal/predicate"
)

// vsaPredicate is a PASSED summary of vsaImage from verifier, at levels,
// under the policy whose digest is policyDigest.
func vsaPredicate(t *testing.T, verifier, policyDigest string, levels ...string) []byte {
	t.Helper()
	b, err := marshalPlain(VSA{
		Verifier: VSAVerifier{ID: verifier}, TimeVerified: "2026-12-03T08:00:00Z", ResourceURI: vsaImage,
		Policy:             VSAResource{URI: "seal:verify?requireSignature=true", Digest: map[string]string{"sha256": policyDigest}},
		VerificationResult: ResultPassed, VerifiedLevels: levels, SLSAVersion: "1.0",
	}, "")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestVSACheck: a required summary must name the verifier asked for (Seal's
// by default), hold the minimum level or one above it up to Build L3, and
// record the policy digest asked for; each refusal says what the summary
// said and what was wanted. A summary nobody required gets only the checks
// every one gets.
func TestVSACheck(t *testing.T) {
	const other = "https://verifier.example.com/slsa"
	digest := strings.Repeat("5e", 32)
	for _, tc := range []struct {
		name  string
		check *VSACheck // nil: no summary required
		pred  []byte
		want  string // "" passes
	}{
		{"Seal's verifier by default", &VSACheck{}, vsaPredicate(t, VerifierID, digest, LevelBuild1), ""},
		{"another verifier", &VSACheck{}, vsaPredicate(t, other, digest, LevelBuild2),
			`verification summary is from verifier "` + other + `", want "` + VerifierID + `"`},
		{"the verifier asked for", &VSACheck{VerifierID: other}, vsaPredicate(t, other, digest, LevelBuild2), ""},
		{"Seal's when another is asked for", &VSACheck{VerifierID: other}, vsaPredicate(t, VerifierID, digest, LevelBuild2),
			`is from verifier "` + VerifierID + `", want "` + other + `"`},
		{"the minimum level", &VSACheck{MinLevel: LevelBuild2}, vsaPredicate(t, VerifierID, digest, LevelBuild2), ""},
		{"a higher level", &VSACheck{MinLevel: "slsa_build_level_2"}, vsaPredicate(t, VerifierID, digest, LevelBuild3), ""},
		{"a level below the minimum", &VSACheck{MinLevel: LevelBuild2}, vsaPredicate(t, VerifierID, digest, LevelBuild1),
			"records verifiedLevels [SLSA_BUILD_LEVEL_1], want SLSA_BUILD_LEVEL_2 or higher (one of SLSA_BUILD_LEVEL_2, SLSA_BUILD_LEVEL_3)"},
		{"a level above the accepted ones", &VSACheck{MinLevel: LevelBuild2}, vsaPredicate(t, VerifierID, digest, "SLSA_BUILD_LEVEL_4"),
			"records verifiedLevels [SLSA_BUILD_LEVEL_4], want SLSA_BUILD_LEVEL_2 or higher"},
		{"another track's level", &VSACheck{MinLevel: LevelBuild1}, vsaPredicate(t, VerifierID, digest, "SLSA_SOURCE_LEVEL_3"),
			"records verifiedLevels [SLSA_SOURCE_LEVEL_3], want SLSA_BUILD_LEVEL_1 or higher"},
		{"a build level beside another track's", &VSACheck{MinLevel: LevelBuild1}, vsaPredicate(t, VerifierID, digest, "SLSA_SOURCE_LEVEL_3", LevelBuild1), ""},
		{"the policy digest", &VSACheck{PolicyDigest: "sha256:" + strings.ToUpper(digest)}, vsaPredicate(t, VerifierID, digest, LevelBuild2), ""},
		{"another policy digest", &VSACheck{PolicyDigest: strings.Repeat("0", 64)}, vsaPredicate(t, VerifierID, digest, LevelBuild2),
			`records policy.digest sha256 "` + digest + `", want "` + strings.Repeat("0", 64) + `"`},
		{"every failure named", &VSACheck{MinLevel: LevelBuild3}, vsaPredicate(t, other, digest, LevelBuild2), "from verifier \"" + other + "\", want \"" + VerifierID + "\"; verification summary records verifiedLevels [SLSA_BUILD_LEVEL_2]"},
		{"not required: another verifier, any level", nil, vsaPredicate(t, other, digest, LevelBuild0), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := Policy{Attestations: []string{predicate.SPDX}}
			if tc.check != nil {
				p = Policy{Attestations: []string{predicate.SPDX + "|" + predicate.VSA}, VSA: *tc.check}
			}
			req, err := p.vsaRequirement()
			if err != nil {
				t.Fatalf("vsaRequirement() = %v", err)
			}
			if (req == nil) != (tc.check == nil) {
				t.Fatalf("vsaRequirement() = %+v: want one exactly when the policy requires a summary", req)
			}
			err = checkVSA(tc.pred, digestBytes(t), req)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("checkVSA() = %v, want it to pass", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("checkVSA() = %v, want an error saying %q", err, tc.want)
			}
		})
	}
}

// TestVSACheckRequirement: the flags are validated and normalized once,
// for seal verify and seal policy alike.
func TestVSACheckRequirement(t *testing.T) {
	got, err := VSACheck{MinLevel: "slsa_build_level_1", PolicyDigest: "sha256:" + strings.Repeat("AB", 32)}.Requirement()
	if err != nil {
		t.Fatalf("Requirement() = %v", err)
	}
	want := &VSARequirement{Verifier: VerifierID, MinLevel: LevelBuild1, Levels: []string{LevelBuild1, LevelBuild2, LevelBuild3}, Digest: strings.Repeat("ab", 32)}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Requirement() (-want +got):\n%s", diff)
	}
	for _, tc := range []struct {
		name  string
		check VSACheck
		want  string
	}{
		{"unknown level", VSACheck{MinLevel: "SLSA_SOURCE_LEVEL_2"}, `SLSA level "SLSA_SOURCE_LEVEL_2": want one of SLSA_BUILD_LEVEL_0, SLSA_BUILD_LEVEL_1, SLSA_BUILD_LEVEL_2, SLSA_BUILD_LEVEL_3`},
		{"level beyond L3", VSACheck{MinLevel: "SLSA_BUILD_LEVEL_4"}, "want one of"},
		{"short digest", VSACheck{PolicyDigest: "sha256:abc"}, "want sha256:HEX"},
		{"another algorithm", VSACheck{PolicyDigest: "sha512:" + strings.Repeat("ab", 32)}, "want sha256:HEX"},
		{"verifier with a line feed", VSACheck{VerifierID: "https://v.example.com\ninput.x == 1"}, "control character"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := tc.check.Requirement(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Requirement() = %v, want an error saying %q", err, tc.want)
			}
		})
	}
}

// TestVSACheckNeedsSummary: summary checks in a policy that requires no
// summary would check nothing, so verification refuses to start.
func TestVSACheckNeedsSummary(t *testing.T) {
	_, kp := keyedSigner(t)
	p := Policy{Key: kp.GetPublicKey(), Attestations: []string{predicate.SLSAProvenanceV1}, VSA: VSACheck{MinLevel: LevelBuild2}}
	_, err := VerifyBundles("app.tar", digestBytes(t), nil, p)
	if err == nil || errors.Is(err, ErrPolicy) || !strings.Contains(err.Error(), "apply to a required verification summary") {
		t.Errorf("VerifyBundles() = %v, want a refusal of the policy itself", err)
	}
}

// TestPolicyDocumentVSA: what a required summary must say is part of the
// policy document and its digest; a policy requiring none has no vsa field,
// so its digest is what it was before these checks.
func TestPolicyDocumentVSA(t *testing.T) {
	base := Policy{RequireSignature: true, Attestations: []string{predicate.VSA}}
	doc := base.Document(false)
	if doc.VSA == nil || doc.VSA.Verifier != VerifierID || doc.VSA.MinLevel != "" || doc.VSA.PolicyDigest != "" {
		t.Fatalf("Document().VSA = %+v, want Seal's verifier only", doc.VSA)
	}
	if uri := doc.URI(); !strings.Contains(uri, "vsa.verifier=https%3A%2F%2Fgithub.com%2Fsealsign%2Fseal%2Fverify") {
		t.Errorf("URI %s does not name the verifier", uri)
	}
	digests := map[string]string{"default": doc.Digest()}
	for name, c := range map[string]VSACheck{
		"verifier":      {VerifierID: "https://verifier.example.com"},
		"level":         {MinLevel: LevelBuild2},
		"policy digest": {PolicyDigest: strings.Repeat("ab", 32)},
	} {
		p := base
		p.VSA = c
		d := p.Document(false).Digest()
		for other, od := range digests {
			if d == od {
				t.Errorf("the %s check has the digest of the %s one", name, other)
			}
		}
		digests[name] = d
	}
	lower := base
	lower.VSA = VSACheck{MinLevel: "slsa_build_level_2", PolicyDigest: "sha256:" + strings.Repeat("AB", 32)}
	upper := base
	upper.VSA = VSACheck{MinLevel: LevelBuild2, PolicyDigest: strings.Repeat("ab", 32)}
	if lower.Document(false).Digest() != upper.Document(false).Digest() {
		t.Error("the same checks spelled differently have different digests")
	}
	if d := (Policy{RequireSignature: true}).Document(false); d.VSA != nil || strings.Contains(string(d.JSON()), "vsa") {
		t.Errorf("a policy requiring no summary: document %s, want no vsa field", d.JSON())
	}
}
