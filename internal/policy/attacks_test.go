package policy

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	sgroot "github.com/sigstore/sigstore-go/pkg/root"

	"github.com/sealsign/seal/internal/ci"
	"github.com/sealsign/seal/internal/identity"
	"github.com/sealsign/seal/internal/oci"
	ocibundle "github.com/sealsign/seal/internal/oci/bundle"
	"github.com/sealsign/seal/internal/oci/legacy"
	"github.com/sealsign/seal/internal/oidc"
	"github.com/sealsign/seal/internal/predicate"
	"github.com/sealsign/seal/internal/signing"
	"github.com/sealsign/seal/internal/testbed"
	"github.com/sealsign/seal/internal/verify"
)

const slsaV1 = "https://slsa.dev/provenance/v1"

// ociClient is a writing client for the bed's registry, for the attacks
// that move attestations between images behind Seal's back.
func (b *bed) ociClient() *oci.Client {
	b.t.Helper()
	c, err := oci.New(oci.WithInsecureHosts(b.reg.Host), oci.WithWriteAccess())
	if err != nil {
		b.t.Fatal(err)
	}
	return c
}

func (b *bed) resolve(c *oci.Client, ref string) oci.Subject {
	b.t.Helper()
	s, err := c.Resolve(context.Background(), ref)
	if err != nil {
		b.t.Fatal(err)
	}
	return s
}

// copyProvenance attaches from's provenance attestation, untouched, to
// to: a valid statement whose subject is from's digest.
func (b *bed) copyProvenance(from, to string, f oci.Format) {
	b.t.Helper()
	b.copyAttestation(from, to, f, slsaV1)
}

// copyAttestation attaches from's attestation of predicateType in format
// f (for the legacy format, every layer of from's .att tag) to to.
func (b *bed) copyAttestation(from, to string, f oci.Format, predicateType string) {
	b.t.Helper()
	ctx := context.Background()
	c := b.ociClient()
	src, dst := b.resolve(c, from), b.resolve(c, to)
	if f == oci.Bundle {
		bs, err := ocibundle.List(ctx, c, src, ocibundle.Filter{PredicateType: predicateType})
		if err != nil || len(bs) == 0 {
			b.t.Fatalf("Bundles() = %d, %v", len(bs), err)
		}
		if _, err := ocibundle.Put(ctx, c, dst, ocibundle.Artifact{Bundle: bs[0].Bundle, Content: bs[0].Content, PredicateType: bs[0].PredicateType}); err != nil {
			b.t.Fatal(err)
		}
		return
	}
	ls, err := legacy.Read(ctx, c, src, legacy.Attestation)
	if err != nil || len(ls) == 0 {
		b.t.Fatalf("Legacy() = %d, %v", len(ls), err)
	}
	if _, err := legacy.Append(ctx, c, dst, legacy.Attestation, ls); err != nil {
		b.t.Fatal(err)
	}
}

// tamperProvenance takes from's provenance attestation, edits its DSSE
// payload to name to's digest (keeping the signature), and attaches it
// to to.
func (b *bed) tamperProvenance(from, to string, f oci.Format) {
	b.t.Helper()
	ctx := context.Background()
	c := b.ociClient()
	src, dst := b.resolve(c, from), b.resolve(c, to)
	alter := func(payload string) string {
		st, err := base64.StdEncoding.DecodeString(payload)
		if err != nil {
			b.t.Fatal(err)
		}
		edited := bytes.ReplaceAll(st, []byte(src.Descriptor.Digest.Hex), []byte(dst.Descriptor.Digest.Hex))
		if bytes.Equal(edited, st) {
			b.t.Fatal("the provenance does not name its subject's digest")
		}
		return base64.StdEncoding.EncodeToString(edited)
	}
	if f == oci.Bundle {
		bs, err := ocibundle.List(ctx, c, src, ocibundle.Filter{PredicateType: slsaV1})
		if err != nil || len(bs) == 0 {
			b.t.Fatalf("Bundles() = %d, %v", len(bs), err)
		}
		var bundle map[string]any
		if err := json.Unmarshal(bs[0].Bundle, &bundle); err != nil {
			b.t.Fatal(err)
		}
		env := bundle["dsseEnvelope"].(map[string]any)
		env["payload"] = alter(env["payload"].(string))
		raw, err := json.Marshal(bundle)
		if err != nil {
			b.t.Fatal(err)
		}
		if _, err := ocibundle.Put(ctx, c, dst, ocibundle.Artifact{Bundle: raw, Content: bs[0].Content, PredicateType: bs[0].PredicateType}); err != nil {
			b.t.Fatal(err)
		}
		return
	}
	ls, err := legacy.Read(ctx, c, src, legacy.Attestation)
	if err != nil || len(ls) == 0 {
		b.t.Fatalf("Legacy() = %d, %v", len(ls), err)
	}
	var env map[string]any
	if err := json.Unmarshal(ls[0].Payload, &env); err != nil {
		b.t.Fatal(err)
	}
	env["payload"] = alter(env["payload"].(string))
	raw, err := json.Marshal(env)
	if err != nil {
		b.t.Fatal(err)
	}
	l := legacy.Layer{MediaType: ls[0].MediaType, Payload: raw, Annotations: ls[0].Annotations}
	if _, err := legacy.Append(ctx, c, dst, legacy.Attestation, []legacy.Layer{l}); err != nil {
		b.t.Fatal(err)
	}
}

// signUntimestamped publishes like signKeyless but with neither a TSA nor
// a transparency log: nothing proves the short-lived certificate was
// valid when it signed.
func (b *bed) signUntimestamped(ref, issuer string, claims map[string]any, md *ci.Metadata) {
	b.t.Helper()
	tok, err := oidc.Parse(b.iss.Mint(issuer, claims))
	if err != nil {
		b.t.Fatal(err)
	}
	s, err := signing.NewKeyless(tok, signing.WithServices(signing.Services{FulcioURL: b.fulcio.URL}))
	if err != nil {
		b.t.Fatal(err)
	}
	b.publish(s, ref, md)
}

// TestEngineAttacks runs attacks on the attestations themselves through
// policy-controller's tester and Kyverno's CLI, in each format the engine
// can run here: an attestation copied from another image, one whose
// payload was edited after signing, and signatures with no timestamp.
// Each image has a valid signature from the trusted signer, so only the
// check the case is about can reject it.
func TestEngineAttacks(t *testing.T) {
	b := startBed(t, testbed.Distribution)
	iss, root := b.iss, b.root

	main := testbed.GitHubClaims("acme/app")
	good := b.push("acme/app")
	b.signKeyless(good, iss.GitHub, main, githubMD(main))

	// One victim per attack and format, so that an attestation planted
	// for one format cannot be what the other format's check finds.
	victims := map[string]string{}
	for _, f := range []oci.Format{oci.Bundle, oci.Legacy} {
		copied := b.push("acme/app")
		b.signKeyless(copied, iss.GitHub, main, nil)
		b.copyProvenance(good, copied, f)
		victims["copied-"+f.String()] = copied

		tampered := b.push("acme/app")
		b.signKeyless(tampered, iss.GitHub, main, nil)
		b.tamperProvenance(good, tampered, f)
		victims["tampered-"+f.String()] = tampered
	}
	// The planted attestations must be where the engines look, or a
	// rejection would only mean they found no provenance at all.
	c := b.ociClient()
	for key, ref := range victims {
		s := b.resolve(c, ref)
		var n int
		var err error
		if strings.HasSuffix(key, oci.Bundle.String()) {
			var bs []ocibundle.Found
			bs, err = ocibundle.List(context.Background(), c, s, ocibundle.Filter{PredicateType: slsaV1})
			n = len(bs)
		} else {
			var ls []legacy.Layer
			ls, err = legacy.Read(context.Background(), c, s, legacy.Attestation)
			n = len(ls)
		}
		if err != nil || n != 1 {
			t.Fatalf("%s: %d provenance attestations on the victim, %v; want 1", key, n, err)
		}
	}
	untimestamped := b.push("acme/app")
	b.signUntimestamped(untimestamped, iss.GitHub, main, githubMD(main))

	id, err := identity.FromGitHub("acme/app", "", "refs/heads/main", false)
	if err != nil {
		t.Fatal(err)
	}
	id.Issuer = iss.GitHub

	// seal verify with the same preset judges the same images, so that
	// the policies can be held to its verdicts. It reads both formats at
	// once; each victim has a valid signature in both and the planted
	// attestation in one. Unlike the engines in the legacy format, it
	// never admits a signature without a timestamp.
	const noValidTimestamp = "no valid timestamp proves the short-lived certificate was valid when it signed"
	for _, tc := range []struct {
		name, image string
		atts        []string
		why         string // seal verify's reason to refuse, "" to admit
	}{
		{"good", good, []string{"slsaprovenance"}, ""},
		{"copied-bundle", victims["copied-bundle"], []string{"slsaprovenance"}, "statement is about another artifact"},
		{"copied-legacy", victims["copied-legacy"], []string{"slsaprovenance"}, "statement is about another artifact"},
		{"tampered-bundle", victims["tampered-bundle"], []string{"slsaprovenance"}, "signature does not verify"},
		{"tampered-legacy", victims["tampered-legacy"], []string{"slsaprovenance"}, "the RFC 3161 timestamp does not verify over this signature"},
		{"untimestamped-provenance", untimestamped, []string{"slsaprovenance"}, noValidTimestamp},
		{"untimestamped-signature", untimestamped, nil, noValidTimestamp},
	} {
		t.Run("seal-verify/"+tc.name, func(t *testing.T) {
			err := b.sealVerify(t, &id, tc.atts, tc.image)
			t.Logf("verdict: seal verify, %s: admitted=%v", tc.name, err == nil)
			switch {
			case tc.why == "" && err != nil:
				t.Errorf("seal verify refused it: %v", err)
			case tc.why != "" && err == nil:
				t.Error("seal verify admitted it")
			case tc.why != "" && !strings.Contains(err.Error(), tc.why):
				t.Errorf("seal verify refused it, but not for %q: %v", tc.why, err)
			}
		})
	}

	type engine struct {
		engineRun
		formats []oci.Format
	}
	var engines []engine
	for _, r := range b.policyControllerRuns() {
		engines = append(engines, engine{r, []oci.Format{oci.Bundle, oci.Legacy}})
	}
	// Kyverno's SigstoreBundle type takes its trusted root only from TUF
	// (see TestKyvernoCLI), so only the Cosign type runs here.
	engines = append(engines, engine{engineRun{"kyverno", Kyverno, func(t *testing.T, policy []byte, image string) (bool, string) {
		return kyvernoAdmits(t, testbed.Bin(t, binKyverno), policy, image)
	}}, []oci.Format{oci.Legacy}})
	// Why each engine rejects each attack, per format. In bundle format
	// policy-controller (cosign v2.5.0's
	// verifyImageAttestationsSigstoreBundle) drops every bundle that fails
	// verification (wrong subject, bad signature) without saying why, and
	// reports only that the bundles left, B's signature, are not
	// provenance. In legacy format the RFC 3161 timestamp covers the
	// envelope Seal signed, so the edited payload fails that check before
	// the signature's.
	const droppedBundle = `no matching attestations with type https://slsa\.dev/provenance/v1, checked the following predicateTypes: \\?"https://sigstore\.dev/cosign/sign/v1\\?": "\]`
	const noTimestamp = `threshold not met for verified signed timestamps: 0 < 1`
	for _, e := range engines {
		for _, f := range e.formats {
			copied, tampered := `no matching subject digest found`, `unable to verify RFC3161 timestamp bundle: hashed messages don't match`
			untimestamped := verdict{untimestamped, false, noTimestamp}
			if f == oci.Bundle {
				copied, tampered = droppedBundle, droppedBundle
			} else {
				// Known engine limitation, not a policy bug: both engines
				// verify cosign's .sig/.att layers with cosign v2's
				// verifier, which checks the certificate's validity at
				// the current time when a signature carries no
				// timestamp (pkg/cosign/verify.go: "if no timestamp has
				// been provided, use the current time"), and neither
				// engine has a setting that requires one. So an
				// untimestamped signature is admitted for the 10 minutes
				// its Fulcio certificate is valid, and refused ("expected
				// a signed timestamp to verify an expired certificate")
				// only after. This asserts that observed behaviour, so
				// that a change in it is noticed.
				untimestamped = verdict{untimestamped.image, true, ""}
			}
			for _, tc := range []struct {
				name string
				atts []string
				v    verdict
			}{
				{"good", []string{"slsaprovenance"}, verdict{good, true, ""}},
				{"copied", []string{"slsaprovenance"}, verdict{victims["copied-"+f.String()], false, copied}},
				{"tampered", []string{"slsaprovenance"}, verdict{victims["tampered-"+f.String()], false, tampered}},
				{"untimestamped-provenance", []string{"slsaprovenance"}, untimestamped},
				{"untimestamped-signature", nil, untimestamped},
			} {
				// The attacks are on the attestations, not on who signed:
				// in the bundle format, where Generate refuses presets
				// (TestForeignCaller), the preset's subject and issuer
				// stand alone.
				signer := &id
				if f == oci.Bundle {
					signer = rawOf(&id)
				}
				spec := Spec{Images: []string{b.reg.Host + "/**"}, Identity: signer, Attestations: tc.atts, Format: f, TrustedRoot: root, NoTlog: true}
				policy, err := Generate(e.kind, spec)
				if err != nil {
					t.Fatalf("%s %s: Generate() = %v", e.name, f, err)
				}
				t.Run(fmt.Sprintf("%s/%s/%s", e.name, f, tc.name), func(t *testing.T) {
					got, out := e.admits(t, policy, tc.v.image)
					t.Logf("verdict: %s, %s, %s: admitted=%v", e.name, f, tc.name, got)
					tc.v.check(t, got, out, policy)
				})
			}
		}
	}
}

// sealVerify is what `seal verify` with the preset or raw identity id and
// --attestation atts concludes about image, on the bed's private Sigstore
// without a log (--trusted-root, --no-tlog): nil when it admits the image.
// atts are resolved as the CLI resolves them (predicate.Required).
func (b *bed) sealVerify(t *testing.T, id *identity.Identity, atts []string, image string) error {
	t.Helper()
	trusted, err := sgroot.NewTrustedRootFromJSON(b.root)
	if err != nil {
		t.Fatal(err)
	}
	p := verify.Policy{Identity: id, Trusted: trusted, RequireSignature: true}
	for _, a := range atts {
		types, err := predicate.Required(a)
		if err != nil {
			t.Fatal(err)
		}
		p.Attestations = append(p.Attestations, strings.Join(types, "|"))
	}
	_, err = verify.New(b.ociClient()).Verify(context.Background(), image, p, false)
	return err
}

// TestRefusedTrigger is the attack of a pull request on a workflow of the
// right repository that runs on pull_request_target (or of a fork's run
// that a workflow_run workflow acts on): the run holds acme/app's token,
// so its Fulcio certificate is acme/app's in every field (subject,
// repository, ref, runner) but the trigger, while the code it runs is the
// outsider's. The GitHub preset refuses such certificates unless
// --allow-trigger names the event, and seal verify and every policy Seal
// writes for the preset must agree: each engine that can read the trigger
// (Kyverno's Cosign verifier and policy-controller in the legacy format,
// through GitHub's workflow-trigger extension) refuses the image for it;
// where no engine can (the bundle format, Kyverno's
// ImageValidatingPolicy), Generate writes no preset policy at all
// (TestForeignCaller). acme's own run on push is admitted throughout.
func TestRefusedTrigger(t *testing.T) {
	b := startBed(t, testbed.Distribution)
	iss := b.iss

	sign := func(claims map[string]any) string {
		ref := b.push("acme/app")
		b.signKeyless(ref, iss.GitHub, claims, githubMD(claims))
		return ref
	}
	push := testbed.GitHubClaims("acme/app")
	images := map[string]string{"push": sign(push)}
	for _, trig := range identity.RefusedGitHubTriggers() {
		// The honest provenance of the run: the certificate's trigger is
		// all that tells it apart.
		images[trig] = sign(testbed.GitHubClaimsWith("acme/app", map[string]any{"event_name": trig, "head_ref": "outsider-patch", "base_ref": "main"}))
		cs := b.certSummary(images[trig])
		if cs.BuildTrigger != trig || cs.GithubWorkflowTrigger != trig || cs.SourceRepositoryURI != "https://github.com/acme/app" {
			t.Fatalf("%s run's certificate: build trigger %q, workflow trigger %q, source %q", trig, cs.BuildTrigger, cs.GithubWorkflowTrigger, cs.SourceRepositoryURI)
		}
	}

	type engine struct {
		engineRun
		// refuses is the engine's own reason for refusing a trigger.
		refuses func(trigger string) string
	}
	// Each engine's binary is looked up in its own subtests, so that -run
	// can pick engines.
	var engines []engine
	for _, r := range b.policyControllerRuns() {
		engines = append(engines, engine{r, func(trig string) string {
			// The CIP-level policy failed, on input naming the trigger.
			return `githubWorkflowTrigger\\":\\"` + trig + `\\"[\s\S]*failed evaluating rego policy for type ClusterImagePolicy`
		}})
	}
	engines = append(engines, engine{engineRun{"kyverno", Kyverno, func(t *testing.T, policy []byte, image string) (bool, string) {
		return kyvernoAdmits(t, testbed.Bin(t, binKyverno), policy, image)
	}}, func(trig string) string {
		// The first entry, for push (and events ending like it), names
		// what it found.
		return `extension mismatch: expected \*h for key githubWorkflowTrigger, received ` + trig
	}})

	for _, allow := range [][]string{nil, {"workflow_run"}, identity.RefusedGitHubTriggers()} {
		id, err := identity.GitHub{Repo: "acme/app", Ref: "main", AllowTriggers: allow}.Identity()
		if err != nil {
			t.Fatal(err)
		}
		id.Issuer = iss.GitHub
		for _, atts := range [][]string{nil, {"slsaprovenance"}} {
			name := fmt.Sprintf("allow-%d/%d-attestations", len(allow), len(atts))
			for _, image := range []string{"push", "pull_request_target", "workflow_run"} {
				want := image == "push" || slices.Contains(allow, image)
				t.Run(name+"/seal-verify/"+image, func(t *testing.T) {
					err := b.sealVerify(t, &id, atts, images[image])
					t.Logf("verdict: seal verify, %s, %s: admitted=%v", name, image, err == nil)
					switch {
					case want && err != nil:
						t.Errorf("seal verify refused it: %v", err)
					case !want && err == nil:
						t.Error("seal verify admitted it")
					case !want && !strings.Contains(err.Error(), `certificate build trigger is "`+image+`", which the policy refuses`):
						t.Errorf("seal verify refused it, but not for its trigger: %v", err)
					}
				})
			}
			for _, e := range engines {
				policy, err := Generate(e.kind, Spec{Images: []string{b.reg.Host + "/**"}, Identity: &id, Attestations: atts, Format: oci.Legacy, TrustedRoot: b.root, NoTlog: true})
				if err != nil {
					t.Fatalf("%s: Generate() = %v", e.name, err)
				}
				if refused := strings.Join(id.RefuseTriggers, " or "); len(allow) < 2 && !bytes.Contains(policy, []byte("trigger: not "+refused+" (")) {
					t.Errorf("%s: the header does not say the policy refuses %s:\n%s", e.name, refused, policy)
				}
				for _, image := range []string{"push", "pull_request_target", "workflow_run"} {
					v := verdict{images[image], image == "push" || slices.Contains(allow, image), e.refuses(image)}
					t.Run(name+"/"+e.name+"/"+image, func(t *testing.T) {
						got, out := e.admits(t, policy, v.image)
						t.Logf("verdict: %s, %s, %s: admitted=%v\n%s", e.name, name, image, got, lastLines(out, 4))
						v.check(t, got, out, policy)
					})
				}
			}
		}
	}
}
