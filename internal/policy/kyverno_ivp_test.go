package policy

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/sealsign/seal/internal/identity"
	"github.com/sealsign/seal/internal/oci"
	"github.com/sealsign/seal/internal/testbed"
)

// TestKyvernoIVP applies the ImageValidatingPolicies Generate writes with
// Kyverno's own CLI to Pods running images Seal signed with a private
// Fulcio and TSA, with no transparency log, in both formats (Seal's
// default; Kyverno's verifier for this kind reads the bundles) and in the
// legacy format alone: the right signer's images are admitted, and each
// attack of TestKyvernoCLI, TestEngineAttacks and TestForeignCaller is
// refused, or Generate refuses to write the policy.
func TestKyvernoIVP(t *testing.T) {
	bin := testbed.Bin(t, binKyverno)
	b := startBed(t, testbed.Distribution)
	iss, root := b.iss, b.root
	// Kyverno initialises its Sigstore client from TUF for every keyless
	// check, and insists on the transparency and CT logs' keys even when
	// the policy ignores both: this repository serves keys of logs that do
	// not exist, as a private instance's TUF repository serves its own.
	tuf := testbed.StartTUF(t, map[string][]byte{"trusted_root.json": root, "rekor.pub": unusedKey(t), "ctfe.pub": unusedKey(t)})
	im := b.kyvernoImages()

	main := testbed.GitHubClaims("acme/app")
	// The attacks on the attestations, in the format the engine reads:
	// bundles, since Seal published both.
	copied := b.push("acme/app")
	b.signKeyless(copied, iss.GitHub, main, nil)
	b.copyProvenance(im.good, copied, oci.Bundle)
	tampered := b.push("acme/app")
	b.signKeyless(tampered, iss.GitHub, main, nil)
	b.tamperProvenance(im.good, tampered, oci.Bundle)
	untimestamped := b.push("acme/app")
	b.signUntimestamped(untimestamped, iss.GitHub, main, githubMD(main))
	// acme/app's own workflow on another branch.
	feature := b.push("acme/app")
	fc := testbed.GitHubClaimsWith("acme/app", map[string]any{
		"ref": "refs/heads/feature", "job_workflow_ref": "acme/app/.github/workflows/release.yml@refs/heads/feature",
		"workflow_ref": "acme/app/.github/workflows/release.yml@refs/heads/feature",
	})
	b.signKeyless(feature, iss.GitHub, fc, githubMD(fc))
	// The foreign caller: attacker/x running acme/app's release workflow.
	attack := b.push("acme/app")
	ac := testbed.GitHubClaimsWith("attacker/x", map[string]any{
		"job_workflow_ref": "acme/app/.github/workflows/release.yml@refs/heads/main",
		"workflow_ref":     "attacker/x/.github/workflows/call.yml@refs/heads/main",
	})
	b.signKeyless(attack, iss.GitHub, ac, githubMD(main))
	if s := b.certSummary(attack); s.GithubWorkflowRepository != "attacker/x" || s.SubjectAlternativeName != b.certSummary(im.good).SubjectAlternativeName {
		t.Fatalf("the attack's certificate: repository %q, subject %q; want attacker/x and acme's subject", s.GithubWorkflowRepository, s.SubjectAlternativeName)
	}

	// The legacy format alone: the same images, signed with Seal
	// --format legacy, so that Kyverno finds no bundle.
	legacy := b.legacyImages(main)

	gh := func(workflow string) *identity.Identity {
		id, err := identity.FromGitHub("acme/app", workflow, "main", false)
		if err != nil {
			t.Fatal(err)
		}
		id.Issuer = iss.GitHub
		return &id
	}
	gl, err := identity.FromGitLab("acme-group/app", "", "main", false, false)
	if err != nil {
		t.Fatal(err)
	}
	gl.Issuer = iss.GitLab

	// Presets are refused: this kind cannot check which repository
	// signed. The refusal says why and what to use instead.
	t.Run("presets-refused", func(t *testing.T) {
		for _, id := range []*identity.Identity{gh(""), &gl} {
			for _, f := range []oci.Format{oci.Legacy, oci.Bundle} {
				_, err := Generate(Kyverno, Spec{Images: []string{b.reg.Host + "/**"}, Identity: id, Format: f, KyvernoKind: ImageValidatingPolicyKind, TrustedRoot: root, NoTlog: true})
				if err == nil {
					t.Fatalf("Generate(%s, %s) wrote an ImageValidatingPolicy for a preset", id.Source.Repository, f)
				}
				for _, want := range []string{"ImageValidatingPolicy", "Source Repository URI", "seal verify", "additionalExtensions"} {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("Generate() = %v, want it to mention %q", err, want)
					}
				}
			}
		}
	})

	s, pub := b.keyed()
	keyGood := b.push("acme/app")
	b.publish(s, keyGood, githubMD(main))
	other, _ := b.keyed()
	wrongKey := b.push("acme/app")
	b.publish(other, wrongKey, githubMD(main))

	// Subtests are named by image, so that the output says which case was
	// admitted or refused.
	names := map[string]string{
		im.good: "good", im.typo: "typosquat", im.sigOnly: "signature-only", im.unsigned: "unsigned", im.glGood: "gitlab-good",
		copied: "copied-attestation", tampered: "tampered-payload", untimestamped: "untimestamped", feature: "wrong-ref",
		legacy.good: "legacy-good", legacy.typo: "legacy-typosquat", legacy.untimestamped: "legacy-untimestamped",
		keyGood: "key-good", wrongKey: "wrong-key",
	}
	for _, tc := range []struct {
		name     string
		spec     Spec
		verdicts []verdict
	}{
		{"provenance", Spec{Identity: rawOf(gh("")), Attestations: []string{"slsaprovenance"}},
			[]verdict{{im.good, true, ""}, {im.typo, false, ivpRefused}, {feature, false, ivpRefused}, {im.sigOnly, false, ivpRefused}, {im.unsigned, false, ivpRefused},
				{copied, false, ivpRefused}, {tampered, false, ivpRefused}, {untimestamped, false, ivpRefused},
				// Known engine limitation: Kyverno 1.19 refuses every
				// attestation in cosign's tags without a log entry
				// (VerifyAttestationSignature ignores insecureIgnoreTlog,
				// which VerifyImageSignature honours), acme's own too. The
				// policy says so; Seal publishes bundles too by default.
				{legacy.good, false, ivpLegacyAttestation}}},
		{"signature", Spec{Identity: rawOf(gh("release.yml"))},
			[]verdict{{im.good, true, ""}, {im.sigOnly, true, ""}, {im.typo, false, ivpRefused}, {im.unsigned, false, ivpRefused}, {untimestamped, false, ivpRefused},
				// Known engine limitation, as for the ClusterPolicy's Cosign
				// type (TestEngineAttacks): a signature in cosign's tags
				// without a timestamp is checked at the current time, so it
				// is admitted while its certificate is valid (ten minutes).
				{legacy.good, true, ""}, {legacy.typo, false, ivpRefused}, {legacy.untimestamped, true, ""}}},
		{"gitlab-raw", Spec{Identity: rawOf(&gl), Attestations: []string{"slsaprovenance"}},
			[]verdict{{im.glGood, true, ""}, {im.good, false, ivpRefused}}},
		{"key", Spec{PublicKey: pub, Attestations: []string{"slsaprovenance"}},
			[]verdict{{keyGood, true, ""}, {wrongKey, false, ivpRefused}, {im.unsigned, false, ivpRefused}}},
	} {
		tc.spec.Images = []string{b.reg.Host + "/**"}
		tc.spec.Format = oci.Legacy
		tc.spec.KyvernoKind = ImageValidatingPolicyKind
		tc.spec.NoTlog = true
		if tc.spec.PublicKey == nil {
			tc.spec.TrustedRoot = root
			tc.spec.TUFMirror, tc.spec.TUFRoot = tuf.URL, tuf.RootJSON
		}
		policy, err := Generate(Kyverno, tc.spec)
		if err != nil {
			t.Fatalf("%s: Generate() = %v", tc.name, err)
		}
		for _, v := range tc.verdicts {
			t.Run(tc.name+"/"+names[v.image], func(t *testing.T) {
				got, out := kyvernoAdmitsWith(t, bin, policy, v.image, nil, "-v=6")
				t.Logf("admitted=%v: %s", got, lastLines(out, 1))
				v.check(t, got, out, policy)
			})
		}
	}

	// Why presets are refused: the policy Seal would have to write, by
	// hand, with the workflow-repository extension that the ClusterPolicy's
	// Cosign verifier checks. Kyverno accepts the field and ignores it, so
	// attacker/x's image is admitted. If Kyverno starts checking it, this
	// fails, and pinIVP can write presets.
	t.Run("engine-limits", func(t *testing.T) {
		p, err := Generate(Kyverno, Spec{Images: []string{b.reg.Host + "/**"}, Identity: rawOf(gh("")), Format: oci.Legacy, KyvernoKind: ImageValidatingPolicyKind,
			TrustedRoot: root, NoTlog: true, TUFMirror: tuf.URL, TUFRoot: tuf.RootJSON})
		if err != nil {
			t.Fatal(err)
		}
		var doc map[string]any
		if err := yaml.Unmarshal(p, &doc); err != nil {
			t.Fatal(err)
		}
		keyless := doc["spec"].(map[string]any)["attestors"].([]any)[0].(map[string]any)["cosign"].(map[string]any)["keyless"].(map[string]any)
		keyless["additionalExtensions"] = map[string]string{"githubWorkflowRepository": "acme/app"}
		edited, err := yaml.Marshal(doc)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			name, image string
			want        bool
		}{{"acme", im.good, true}, {"foreign-caller", attack, true}, {"legacy-foreign-caller", legacy.attack, true}} {
			got, out := kyvernoAdmitsWith(t, bin, edited, c.image, nil, "-v=4")
			t.Logf("ImageValidatingPolicy with additionalExtensions githubWorkflowRepository: acme/app: %s admitted=%v", c.name, got)
			if got != c.want {
				t.Errorf("admitted = %v, want %v: if the attack is refused, Kyverno now checks additionalExtensions and pinIVP can write presets\n%s\n%s", got, c.want, lastLines(out, 8), edited)
			}
		}
	})
}

// unusedKey is a PEM public key that signs nothing.
func unusedKey(t *testing.T) []byte {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// ivpRefused is what Kyverno's CLI says when an ImageValidatingPolicy's
// validation fails: the expression's message. Why the verifier refused is
// logged at -v=6 only, so the cases rely on each image differing from an
// admitted one in the one respect the case is about.
const ivpRefused = `every image must be`

// ivpLegacyAttestation is why Kyverno refuses an attestation in cosign's
// tags without a transparency-log entry (logged at -v=6).
const ivpLegacyAttestation = `cosign bundle verification failed`

// legacyImages are some of kyvernoImages' cases and attacks, published in
// cosign's legacy format alone. (The attacks on attestations would prove
// nothing here: Kyverno refuses every attestation in this format without
// a log entry.)
type legacyImageSet struct {
	good, typo, untimestamped, attack string
}

func (b *bed) legacyImages(main map[string]any) legacyImageSet {
	b.t.Helper()
	b.format = oci.Legacy
	defer func() { b.format = 0 }()
	var l legacyImageSet
	sign := func(claims map[string]any, withProvenance bool) string {
		ref := b.push("acme/app")
		md := githubMD(main)
		if !withProvenance {
			md = nil
		}
		b.signKeyless(ref, b.iss.GitHub, claims, md)
		return ref
	}
	l.good = sign(main, true)
	l.typo = sign(testbed.GitHubClaims("acme/app-evil"), true)
	l.untimestamped = b.push("acme/app")
	b.signUntimestamped(l.untimestamped, b.iss.GitHub, main, githubMD(main))
	l.attack = sign(testbed.GitHubClaimsWith("attacker/x", map[string]any{
		"job_workflow_ref": "acme/app/.github/workflows/release.yml@refs/heads/main",
		"workflow_ref":     "attacker/x/.github/workflows/call.yml@refs/heads/main",
	}), true)
	return l
}
