package policy

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/sealsign/seal/internal/identity"
	"github.com/sealsign/seal/internal/oci"
	"github.com/sealsign/seal/internal/oidc"
	"github.com/sealsign/seal/internal/signing"
	"github.com/sealsign/seal/internal/testbed"
)

// TestEnginesRequireRekorV1 is the public instance's default: signatures
// logged in a Rekor v1 log and policies that require the log (no
// --no-tlog). Seal signs keylessly through a real Rekor v1; Kyverno's CLI
// (legacy format) and policy-controller's tester (both formats) must admit
// the logged image and refuse one signed the same way without the log.
func TestEnginesRequireRekorV1(t *testing.T) {
	kyverno := testbed.Bin(t, binKyverno)
	tester := testbed.Bin(t, testbed.BinTester)
	rekor := testbed.StartRekorV1(t) // before the TSA: it must not hold the TSA's metrics port
	iss := testbed.StartIssuer(t)
	fulcio := testbed.StartFulcio(t, iss)
	tsa := testbed.StartTSA(t)
	root := testbed.TrustedRootWithRekorJSON(t, fulcio, tsa, rekor)
	b := &bed{t: t, iss: iss, fulcio: fulcio, tsa: tsa, reg: testbed.StartRegistry(t, testbed.Distribution), root: root, tester: tester}

	claims := testbed.GitHubClaims("acme/app")
	sign := func(svc signing.Services) string {
		ref := b.push("acme/app")
		tok, err := oidc.Parse(iss.Mint(iss.GitHub, claims))
		if err != nil {
			t.Fatal(err)
		}
		s, err := signing.NewKeyless(tok, signing.WithServices(svc))
		if err != nil {
			t.Fatal(err)
		}
		b.publish(s, ref, githubMD(claims))
		return ref
	}
	svc := signing.Services{FulcioURL: fulcio.URL, TSAURL: tsa.TimestampURL()}
	unlogged := sign(svc)
	svc.RekorURL, svc.RekorVersion = rekor.URL, 1
	logged := sign(svc)

	id, err := identity.FromGitHub("acme/app", "release.yml", "main", false)
	if err != nil {
		t.Fatal(err)
	}
	id.Issuer = iss.GitHub
	spec := func(f oci.Format) Spec {
		signer := &id
		if f == oci.Bundle {
			// Generate refuses presets in the bundle format
			// (TestForeignCaller); the log check is the same for a raw
			// identity.
			signer = rawOf(&id)
		}
		return Spec{Images: []string{b.reg.Host + "/**"}, Identity: signer, Attestations: []string{"slsaprovenance"}, Format: f, TrustedRoot: root}
	}
	verdicts := []verdict{{logged, true, ""}, {unlogged, false, `tlog|transparency|rekor|bundle|no signatures found|no matching`}}

	kpol, err := Generate(Kyverno, spec(oci.Legacy))
	if err != nil {
		t.Fatalf("Generate(Kyverno) = %v", err)
	}
	for i, v := range verdicts {
		t.Run(fmt.Sprintf("kyverno/%d", i), func(t *testing.T) {
			got, out := kyvernoAdmits(t, kyverno, kpol, v.image)
			v.check(t, got, out, kpol)
		})
	}
	ppol, err := Generate(PolicyController, spec(oci.Legacy))
	if err != nil {
		t.Fatalf("Generate(PolicyController) = %v", err)
	}
	for _, pc := range policyControllers {
		admits := b.admitsBy(testbed.Bin(t, pc.bin))
		for i, v := range verdicts {
			t.Run(fmt.Sprintf("policy-controller-%s/%d", pc.version, i), func(t *testing.T) {
				got, out := admits(t, ppol, v.image)
				v.check(t, got, out, ppol)
			})
		}
	}

	// policy-controller's bundle path cannot use a log from its own
	// TrustRoot: the policy Generate refuses to write, the tester refuses
	// even for the logged image (drop the refusal in policyController once
	// this admits it).
	p, err := spec(oci.Bundle).prepare()
	if err != nil {
		t.Fatal(err)
	}
	bpol, err := policyControllerDocs(p) // what policyController refuses to write
	if err != nil {
		t.Fatal(err)
	}
	for _, pc := range policyControllers {
		got, out := b.admitsBy(testbed.Bin(t, pc.bin))(t, bpol, logged)
		t.Logf("policy-controller %s, bundle format, log required from its TrustRoot: logged image admitted=%v", pc.version, got)
		if got || !regexp.MustCompile(`not enough verified log entries`).MatchString(out) {
			t.Errorf("policy-controller %s's bundle path admitted=%v with the log required; if it now works, drop the refusal:\n%s", pc.version, got, out)
		}
	}
	if _, err := Generate(PolicyController, spec(oci.Bundle)); err == nil || !strings.Contains(err.Error(), "--format legacy") {
		t.Errorf("Generate(PolicyController, bundle, log required) = %v, want the refusal naming --format legacy", err)
	}
}
