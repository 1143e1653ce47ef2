package policy

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	sgroot "github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore/pkg/cryptoutils"

	"github.com/sealsign/seal/internal/identity"
	"github.com/sealsign/seal/internal/oci"
	ocibundle "github.com/sealsign/seal/internal/oci/bundle"
	"github.com/sealsign/seal/internal/oci/legacy"
	"github.com/sealsign/seal/internal/publish"
	"github.com/sealsign/seal/internal/signing"
	"github.com/sealsign/seal/internal/testbed"
	"github.com/sealsign/seal/internal/verify"
)

// vsaPredicate is a Verification Summary of image as `seal verify --vsa`
// writes one, with the given result, levels and verifier.
func vsaPredicate(t *testing.T, image, result, verifier string, levels ...string) []byte {
	t.Helper()
	v := verify.VSA{
		Verifier:           verify.VSAVerifier{ID: verifier},
		TimeVerified:       time.Now().UTC().Format(time.RFC3339),
		ResourceURI:        image,
		Policy:             verify.VSAResource{URI: "seal:verify?requireSignature=true", Digest: map[string]string{"sha256": vsaPolicyDigest}},
		VerificationResult: result,
		VerifiedLevels:     levels,
		SLSAVersion:        "1.0",
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := verify.ValidateVSA(b); err != nil {
		t.Fatalf("ValidateVSA() = %v", err)
	}
	return b
}

// vsaPolicyDigest is the policy.digest of the summaries vsaPredicate writes.
var vsaPolicyDigest = strings.Repeat("5e", 32)

// attestVSA publishes pred about ref, signed by s, in both formats, with no
// image signature: what `seal attest --vsa` publishes, a record beside any
// summary published before.
func (b *bed) attestVSA(s *signing.Signer, ref string, pred []byte) {
	b.t.Helper()
	b.send(s, publish.Request{Ref: ref, Attestations: []publish.Attestation{vsaRecord{publish.Predicate{Type: VSA, JSON: pred}}}})
}

// vsaRecord is a summary published as a record (publish.Record), as
// `seal attest --vsa` publishes one.
type vsaRecord struct{ publish.Predicate }

func (vsaRecord) Record() {}

// vsaImages are images that carry a Verification Summary and nothing else,
// one per case of TestVSAPolicies, attested by one promotion signer.
type vsaImages struct {
	good          string // PASSED at Build L2, from Seal's verifier
	failed        string // FAILED
	failedLevel   string // PASSED, but with a FAILED level
	otherSigner   string // PASSED, signed by another identity or key
	otherVerifier string // PASSED at Build L2, from another verifier
	lowLevel      string // PASSED at Build L1
	replayed      string // good's summary, copied onto this image in both formats
	several       string // a FAILED summary, then a PASSED one
}

func (b *bed) vsaImages(signer, other *signing.Signer) vsaImages {
	b.t.Helper()
	var im vsaImages
	attest := func(s *signing.Signer, result, verifier string, levels ...string) string {
		ref := b.push("acme/app")
		b.attestVSA(s, ref, vsaPredicate(b.t, ref, result, verifier, levels...))
		return ref
	}
	im.good = attest(signer, verify.ResultPassed, verify.VerifierID, verify.LevelBuild2)
	im.failed = attest(signer, verify.ResultFailed, verify.VerifierID, verify.LevelFailed)
	im.failedLevel = attest(signer, verify.ResultPassed, verify.VerifierID, verify.LevelBuild2, verify.LevelFailed)
	im.otherSigner = attest(other, verify.ResultPassed, verify.VerifierID, verify.LevelBuild2)
	im.otherVerifier = attest(signer, verify.ResultPassed, "https://verifier.example.com/slsa", verify.LevelBuild2)
	im.lowLevel = attest(signer, verify.ResultPassed, verify.VerifierID, verify.LevelBuild1)
	im.several = b.push("acme/app")
	b.attestVSA(signer, im.several, vsaPredicate(b.t, im.several, verify.ResultFailed, verify.VerifierID, verify.LevelFailed))
	b.attestVSA(signer, im.several, vsaPredicate(b.t, im.several, verify.ResultPassed, verify.VerifierID, verify.LevelBuild2))
	im.replayed = b.push("acme/app")
	for _, f := range []oci.Format{oci.Bundle, oci.Legacy} {
		b.copyAttestation(im.good, im.replayed, f, VSA)
	}
	// The replayed summary must be where the engines look, in both
	// formats, or a refusal would only mean that they found none.
	c := b.ociClient()
	s := b.resolve(c, im.replayed)
	bs, err := ocibundle.List(context.Background(), c, s, ocibundle.Filter{PredicateType: VSA})
	if err != nil || len(bs) != 1 {
		b.t.Fatalf("replayed image: %d summaries in bundles, %v; want 1", len(bs), err)
	}
	ls, err := legacy.Read(context.Background(), c, s, legacy.Attestation)
	if err != nil || len(ls) != 1 {
		b.t.Fatalf("replayed image: %d summaries in the .att tag, %v; want 1", len(ls), err)
	}
	return im
}

// TestVSAPolicies admits images on a SLSA Verification Summary alone
// (--no-signature --attestation vsa) with the real engines: Kyverno's CLI
// (ClusterPolicy, Cosign and SigstoreBundle types; ImageValidatingPolicy) and both
// policy-controller testers (legacy and bundle format), for a keyless
// promotion job (a GitHub preset where the engine can pin its repository,
// else its raw subject and issuer) and for a key. Each image carries a
// summary and nothing else: the right one is admitted; a FAILED one, one
// another signer attested, one from another verifier, one below the
// required level, and a valid summary of another image copied onto this
// one are refused. `seal verify --no-signature --attestation vsa` judges
// the same images. The policy digest, when asked, is checked too; and
// without --no-signature the summary is required beside the signature.
func TestVSAPolicies(t *testing.T) {
	kyverno := testbed.Bin(t, binKyverno)
	b := startBed(t, testbed.Distribution)
	iss, root := b.iss, b.root
	tuf := testbed.StartTUF(t, map[string][]byte{"trusted_root.json": root, "rekor.pub": unusedKey(t), "ctfe.pub": unusedKey(t)})

	// The promotion job: acme/promote's workflow on main, or a key.
	promote := testbed.GitHubClaims("acme/promote")
	keyless := b.vsaImages(b.keyless(iss.GitHub, promote), b.keyless(iss.GitHub, testbed.GitHubClaims("acme/promote-evil")))
	keySigner, pub := b.keyed()
	otherKey, _ := b.keyed()
	keyed := b.vsaImages(keySigner, otherKey)

	preset, err := identity.FromGitHub("acme/promote", "", "refs/heads/main", false)
	if err != nil {
		t.Fatal(err)
	}
	preset.Issuer = iss.GitHub

	kyv := engineRun{"kyverno", Kyverno, func(t *testing.T, policy []byte, image string) (bool, string) {
		return kyvernoAdmitsWith(t, kyverno, policy, image, nil, "-v=6")
	}}
	// Kyverno's SigstoreBundle type takes its trusted root from TUF only.
	bundleEnv := []string{"TUF_ROOT=" + testbed.StartTUF(t, map[string][]byte{"trusted_root.json": root}).InitCache(t)}
	kyvBundle := engineRun{"kyverno-bundle", Kyverno, func(t *testing.T, policy []byte, image string) (bool, string) {
		return kyvernoAdmitsWith(t, kyverno, policy, image, bundleEnv, "-v=6")
	}}
	pcs := b.policyControllerRuns()

	// Why each engine refuses, by case. Kyverno's ClusterPolicy names the
	// condition that failed, the ImageValidatingPolicy the validation (and,
	// at -v=6, why a summary did not verify); policy-controller says only
	// that the Rego policy failed, so each image differs from the good one
	// in the one respect its case is about. Every engine checks the
	// statement's subject against the image's digest: the replayed
	// summary is refused for that.
	type whys struct{ failed, failedLevel, otherSigner, otherVerifier, lowLevel, replayed string }
	kyvWhys := whys{
		failed:        `the verification summary must say: verificationResult is PASSED`,
		failedLevel:   `the verification summary must say: verifiedLevels is not empty and holds no FAILED`,
		otherSigner:   `subject mismatch|accepted signatures do not match threshold`,
		otherVerifier: `the verification summary must say: verifier.id is`,
		lowLevel:      `the verification summary must say: verifiedLevels holds SLSA_BUILD_LEVEL_2`,
		replayed:      `no matching subject digest found`,
	}
	// The SigstoreBundle type logs sigstore-go's reasons at -v=4.
	kyvBundleWhys := kyvWhys
	kyvBundleWhys.otherSigner = `expected SAN value to match regex|accepted signatures do not match threshold`
	kyvBundleWhys.replayed = `provided artifact digest does not match any digest in statement`
	ivpWhys := whys{
		failed:        `verification summary where verificationResult is PASSED`,
		failedLevel:   `verification summary where verifiedLevels is not empty and holds no FAILED`,
		otherSigner:   `expected SAN value to match regex|accepted signatures do not match threshold`,
		otherVerifier: `verification summary where verifier.id is`,
		lowLevel:      `verification summary where verifiedLevels holds SLSA_BUILD_LEVEL_2`,
		replayed:      `provided artifact digest does not match any digest in statement`,
	}
	pcWhys := whys{
		failed:        badClaim,
		failedLevel:   badClaim,
		otherSigner:   wrongSigner,
		otherVerifier: badClaim,
		lowLevel:      badClaim,
		replayed:      `no matching subject digest found|provided artifact digest does not match any digest in statement`,
	}

	type tc struct {
		name string
		e    engineRun
		spec Spec
		im   vsaImages
		why  whys
	}
	var cases []tc
	for _, e := range pcs {
		cases = append(cases,
			tc{"preset-legacy", e, Spec{Identity: &preset, Format: oci.Legacy, TrustedRoot: root}, keyless, pcWhys},
			tc{"raw-bundle", e, Spec{Identity: rawOf(&preset), Format: oci.Bundle, TrustedRoot: root}, keyless, pcWhys},
			tc{"key-legacy", e, Spec{PublicKey: pub, Format: oci.Legacy}, keyed, pcWhys},
		)
	}
	cases = append(cases,
		tc{"preset-legacy", kyv, Spec{Identity: &preset, Format: oci.Legacy, TrustedRoot: root}, keyless, kyvWhys},
		tc{"key-legacy", kyv, Spec{PublicKey: pub, Format: oci.Legacy}, keyed, kyvWhys},
		tc{"raw-bundle", kyvBundle, Spec{Identity: rawOf(&preset), Format: oci.Bundle}, keyless, kyvBundleWhys},
		tc{"key-bundle", kyvBundle, Spec{PublicKey: pub, Format: oci.Bundle}, keyed, kyvBundleWhys},
		tc{"ivp-raw", kyv, Spec{Identity: rawOf(&preset), KyvernoKind: ImageValidatingPolicyKind, Format: oci.Legacy, TrustedRoot: root, TUFMirror: tuf.URL, TUFRoot: tuf.RootJSON}, keyless, ivpWhys},
		tc{"ivp-key", kyv, Spec{PublicKey: pub, KyvernoKind: ImageValidatingPolicyKind, Format: oci.Legacy}, keyed, ivpWhys},
	)
	// What the engines and seal verify are asked of a summary: the same
	// flags, --vsa-level SLSA_BUILD_LEVEL_2.
	minLevel := verify.VSACheck{MinLevel: verify.LevelBuild2}
	t.Run("engines", func(t *testing.T) {
		for _, c := range cases {
			c.spec.Images = []string{b.reg.Host + "/**"}
			c.spec.NoSignature = true
			c.spec.Attestations = []string{"vsa"}
			c.spec.NoTlog = true
			c.spec.VSA = minLevel
			policy, err := Generate(c.e.kind, c.spec)
			if err != nil {
				t.Fatalf("%s %s: Generate() = %v", c.e.name, c.name, err)
			}
			for _, v := range []struct {
				name string
				v    verdict
			}{
				{"good", verdict{c.im.good, true, ""}},
				{"failed", verdict{c.im.failed, false, c.why.failed}},
				{"failed-level", verdict{c.im.failedLevel, false, c.why.failedLevel}},
				{"other-signer", verdict{c.im.otherSigner, false, c.why.otherSigner}},
				{"other-verifier", verdict{c.im.otherVerifier, false, c.why.otherVerifier}},
				{"low-level", verdict{c.im.lowLevel, false, c.why.lowLevel}},
				{"replayed", verdict{c.im.replayed, false, c.why.replayed}},
			} {
				t.Run(fmt.Sprintf("%s/%s/%s", c.e.name, c.name, v.name), func(t *testing.T) {
					t.Parallel()
					got, out := c.e.admits(t, policy, v.v.image)
					t.Logf("admitted=%v: %s", got, lastLines(out, 3))
					v.v.check(t, got, out, policy)
				})
			}
			// An image promoted after a failed promotion carries both
			// summaries. What the policies' headers say: Kyverno's
			// ClusterPolicy holds every summary to the checks,
			// policy-controller wants one that passes, and the
			// ImageValidatingPolicy judges whichever it verified last
			// (not asserted: the order is the registry's).
			t.Run(fmt.Sprintf("%s/%s/several", c.e.name, c.name), func(t *testing.T) {
				t.Parallel()
				got, out := c.e.admits(t, policy, c.im.several)
				t.Logf("admitted=%v: %s", got, lastLines(out, 3))
				switch {
				case c.spec.KyvernoKind == ImageValidatingPolicyKind:
				case c.e.kind == Kyverno:
					verdict{c.im.several, false, c.why.failed}.check(t, got, out, policy)
				default:
					verdict{c.im.several, true, ""}.check(t, got, out, policy)
				}
			})
		}
	})

	// The policy digest, when asked, must be the summary's.
	t.Run("policy-digest", func(t *testing.T) {
		for _, e := range append([]engineRun{kyv}, pcs...) {
			for _, d := range []struct {
				digest string
				want   bool
			}{{vsaPolicyDigest, true}, {strings.Repeat("0", 64), false}} {
				policy, err := Generate(e.kind, Spec{Images: []string{b.reg.Host + "/**"}, PublicKey: pub, Format: oci.Legacy, KyvernoKind: ClusterPolicyKind, NoTlog: true,
					NoSignature: true, Attestations: []string{"vsa"}, VSA: verify.VSACheck{PolicyDigest: "sha256:" + d.digest}})
				if err != nil {
					t.Fatal(err)
				}
				t.Run(fmt.Sprintf("%s/%v", e.name, d.want), func(t *testing.T) {
					got, out := e.admits(t, policy, keyed.good)
					verdict{keyed.good, d.want, `policy.digest|failed evaluating rego policy`}.check(t, got, out, policy)
				})
			}
		}
	})

	// Without --no-signature the summary comes on top of the image
	// signature: a summary alone is refused, a signed image with one is
	// admitted, and a signed image with a FAILED one refused.
	t.Run("with-signature", func(t *testing.T) {
		signed := b.push("acme/app")
		b.send(keySigner, publish.Request{Ref: signed, Sign: true, Attestations: []publish.Attestation{
			vsaRecord{publish.Predicate{Type: VSA, JSON: vsaPredicate(t, signed, verify.ResultPassed, verify.VerifierID, verify.LevelBuild2)}}}})
		signedFailed := b.push("acme/app")
		b.send(keySigner, publish.Request{Ref: signedFailed, Sign: true, Attestations: []publish.Attestation{
			vsaRecord{publish.Predicate{Type: VSA, JSON: vsaPredicate(t, signedFailed, verify.ResultFailed, verify.VerifierID, verify.LevelFailed)}}}})
		for _, e := range append([]engineRun{kyv}, pcs...) {
			policy, err := Generate(e.kind, Spec{Images: []string{b.reg.Host + "/**"}, PublicKey: pub, Format: oci.Legacy, KyvernoKind: ClusterPolicyKind, NoTlog: true,
				Attestations: []string{"vsa"}})
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range []struct {
				name string
				v    verdict
			}{
				{"summary-alone", verdict{keyed.good, false, `no signatures found|no matching signatures`}},
				{"signed", verdict{signed, true, ""}},
				{"signed-failed", verdict{signedFailed, false, `verificationResult is PASSED|failed evaluating rego policy`}},
			} {
				t.Run(e.name+"/"+v.name, func(t *testing.T) {
					got, out := e.admits(t, policy, v.v.image)
					v.v.check(t, got, out, policy)
				})
			}
		}
	})

	// seal verify --no-signature --attestation vsa, with the flags the
	// policies were written from, on the same images: it agrees with every
	// engine, refusing each image for its case's reason, and, like
	// policy-controller, admits an image with a FAILED and a PASSED summary.
	t.Run("seal-verify", func(t *testing.T) {
		trusted, err := sgroot.NewTrustedRootFromJSON(root)
		if err != nil {
			t.Fatal(err)
		}
		key, err := cryptoutils.UnmarshalPEMToPublicKey(pub)
		if err != nil {
			t.Fatal(err)
		}
		v := verify.New(b.ociClient())
		for _, s := range []struct {
			name        string
			p           verify.Policy
			im          vsaImages
			otherSigner string
		}{
			{"preset", verify.Policy{Identity: &preset, Trusted: trusted}, keyless, "does not match"},
			{"key", verify.Policy{Key: key}, keyed, "another key signed it"},
		} {
			s.p.Attestations = []string{VSA}
			for _, c := range []struct {
				name, image string
				check       verify.VSACheck
				why         string // "" admits
			}{
				{"good", s.im.good, minLevel, ""},
				{"failed", s.im.failed, minLevel, "verificationResult FAILED"},
				{"failed-level", s.im.failedLevel, minLevel, "lists a FAILED level"},
				{"other-signer", s.im.otherSigner, minLevel, s.otherSigner},
				{"other-verifier", s.im.otherVerifier, minLevel, `from verifier "https://verifier.example.com/slsa", want "` + verify.VerifierID + `"`},
				{"other-verifier-asked", s.im.otherVerifier, verify.VSACheck{VerifierID: "https://verifier.example.com/slsa", MinLevel: verify.LevelBuild2}, ""},
				{"low-level", s.im.lowLevel, minLevel, "verifiedLevels [SLSA_BUILD_LEVEL_1], want SLSA_BUILD_LEVEL_2 or higher"},
				{"replayed", s.im.replayed, minLevel, "about another artifact"},
				{"several", s.im.several, minLevel, ""},
				{"policy-digest", s.im.good, verify.VSACheck{PolicyDigest: "sha256:" + vsaPolicyDigest}, ""},
				{"other-policy-digest", s.im.good, verify.VSACheck{PolicyDigest: "sha256:" + strings.Repeat("0", 64)}, "policy.digest sha256 \"" + vsaPolicyDigest + "\", want"},
			} {
				p := s.p
				p.VSA = c.check
				_, err := v.Verify(context.Background(), c.image, p, false)
				t.Logf("%s/%s: seal verify: %v", s.name, c.name, err)
				switch {
				case c.why == "" && err != nil:
					t.Errorf("%s/%s: seal verify refused: %v", s.name, c.name, err)
				case c.why != "" && (err == nil || !strings.Contains(err.Error(), c.why)):
					t.Errorf("%s/%s: seal verify = %v, want a refusal saying %q", s.name, c.name, err, c.why)
				}
			}
		}
	})
}
