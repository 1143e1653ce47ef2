package policy

import (
	"fmt"
	"testing"

	"github.com/sealsign/seal/internal/identity"
	"github.com/sealsign/seal/internal/oci"
	"github.com/sealsign/seal/internal/testbed"
)

// Reasons Kyverno's SigstoreBundle verifier gives. At -v=4 it logs why
// sigstore-go refused each bundle (sigstore.go, verifyBundles); the result
// only says that none verified.
const (
	kyvWrongSigner  = `expected SAN value to match regex`
	kyvWrongIssuer  = `expected (SAN|issuer) value to match`
	kyvNoProvenance = `image attestations verification failed, verifiedCount: 0, requiredCount: 1`
	kyvNotSigned    = `sigstore bundle verification failed: no matching signatures found`
)

// TestKyvernoCLIBundle applies the SigstoreBundle-type (bundle format)
// ClusterPolicies with Kyverno's own CLI to Pods running images Seal signed
// with a private Fulcio and TSA and no transparency log, on a registry
// without the OCI referrers API and on one with it. For this type Kyverno
// trusts only the trusted_root.json of its TUF repository, so the testbed
// serves one over TUF and Kyverno reads it from a TUF cache (TUF_ROOT), as
// a cluster whose Kyverno runs with --tufMirror and --tufRoot would.
func TestKyvernoCLIBundle(t *testing.T) {
	bin := testbed.Bin(t, binKyverno)
	iss := testbed.StartIssuer(t)
	fulcio := testbed.StartFulcio(t, iss)
	tsa := testbed.StartTSA(t)
	root := testbed.TrustedRootJSON(t, fulcio, tsa)
	tufCache := func(t *testing.T, trustedRoot []byte) []string {
		repo := testbed.StartTUF(t, map[string][]byte{"trusted_root.json": trustedRoot})
		return []string{"TUF_ROOT=" + repo.InitCache(t)}
	}
	env := tufCache(t, root)

	// Raw identities only: this type cannot check which repository
	// signed, so Generate refuses presets for it (TestForeignCaller).
	gh := func(workflow string) *identity.Identity {
		id, err := identity.FromGitHub("acme/app", workflow, "main", false)
		if err != nil {
			t.Fatal(err)
		}
		id.Issuer = iss.GitHub
		return rawOf(&id)
	}
	gl, err := identity.FromGitLab("acme-group/app", "", "main", false, false)
	if err != nil {
		t.Fatal(err)
	}
	gl.Issuer = iss.GitLab

	for _, kind := range []testbed.RegistryKind{testbed.Distribution, testbed.Olareg} {
		t.Run(string(kind), func(t *testing.T) {
			b := &bed{t: t, iss: iss, fulcio: fulcio, tsa: tsa, reg: testbed.StartRegistry(t, kind), root: root}
			im := b.kyvernoImages()

			for _, tc := range []struct {
				name     string
				spec     Spec
				verdicts []verdict
			}{
				{"provenance", Spec{Identity: gh(""), Attestations: []string{"slsaprovenance"}},
					[]verdict{{im.good, true, ""}, {im.typo, false, kyvWrongSigner}, {im.sigOnly, false, kyvNoProvenance}, {im.unsigned, false, kyvNotSigned}}},
				{"signature", Spec{Identity: gh("release.yml")},
					[]verdict{{im.good, true, ""}, {im.sigOnly, true, ""}, {im.typo, false, kyvWrongSigner}, {im.unsigned, false, kyvNotSigned}}},
				{"gitlab", Spec{Identity: rawOf(&gl), Attestations: []string{"slsaprovenance"}},
					[]verdict{{im.glGood, true, ""}, {im.good, false, kyvWrongIssuer}}},
			} {
				tc.spec.Images = []string{b.reg.Host + "/**"}
				tc.spec.Format = oci.Bundle
				tc.spec.NoTlog = true
				policy, err := Generate(Kyverno, tc.spec)
				if err != nil {
					t.Fatalf("%s: Generate() = %v", tc.name, err)
				}
				for i, v := range tc.verdicts {
					t.Run(fmt.Sprintf("%s/%d", tc.name, i), func(t *testing.T) {
						got, out := kyvernoAdmitsWith(t, bin, policy, v.image, env, "-v=4")
						v.check(t, got, out, policy)
					})
				}
			}

			if kind != testbed.Distribution {
				return
			}
			// The verdicts above come from the trusted root in Kyverno's TUF
			// repository: the same policy and image, with a TUF repository
			// whose root lacks Fulcio's CA or the TSA, are refused.
			policy, err := Generate(Kyverno, Spec{Images: []string{b.reg.Host + "/**"}, Identity: gh(""), Format: oci.Bundle, NoTlog: true})
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range []struct {
				name string
				root []byte
				why  string
			}{
				{"root-without-fulcio", testbed.TrustedRootJSON(t, nil, tsa), `failed to verify leaf certificate`},
				{"root-without-tsa", testbed.TrustedRootJSON(t, fulcio, nil), `threshold not met for verified signed & log entry integrated timestamps`},
			} {
				t.Run(c.name, func(t *testing.T) {
					got, out := kyvernoAdmitsWith(t, bin, policy, im.good, tufCache(t, c.root), "-v=4")
					verdict{im.good, false, c.why}.check(t, got, out, policy)
				})
			}
		})
	}
}
