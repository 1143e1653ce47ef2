package policy

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/fulcio/certificate"
	sgroot "github.com/sigstore/sigstore-go/pkg/root"
	"go.yaml.in/yaml/v3"

	"github.com/sealsign/seal/internal/identity"
	"github.com/sealsign/seal/internal/oci"
	ocibundle "github.com/sealsign/seal/internal/oci/bundle"
	"github.com/sealsign/seal/internal/testbed"
	"github.com/sealsign/seal/internal/verify"
)

// certSummary reads the Fulcio certificate of the bundle-format signature
// Seal attached to ref.
func (b *bed) certSummary(ref string) certificate.Summary {
	b.t.Helper()
	c := b.ociClient()
	bs, err := ocibundle.List(context.Background(), c, b.resolve(c, ref), ocibundle.Filter{PredicateType: CosignSign})
	if err != nil || len(bs) == 0 {
		b.t.Fatalf("Bundles(%s) = %d, %v", ref, len(bs), err)
	}
	var bun bundle.Bundle
	if err := bun.UnmarshalJSON(bs[0].Bundle); err != nil {
		b.t.Fatal(err)
	}
	vc, err := bun.VerificationContent()
	if err != nil || vc.Certificate() == nil {
		b.t.Fatalf("bundle of %s has no certificate: %v", ref, err)
	}
	s, err := certificate.SummarizeCertificate(vc.Certificate())
	if err != nil {
		b.t.Fatal(err)
	}
	return s
}

// TestForeignCaller is the attack of a repository that borrows another's
// certificate subject. Fulcio's subject names the workflow (GitHub) or CI
// configuration file (GitLab) that ran, not the repository that ran it:
//
//   - GitHub: attacker/x calls acme/app's release.yml, which is
//     `on: workflow_call`, from a workflow of its own. The certificate's
//     subject is acme/app's release.yml at refs/heads/main; its Source
//     Repository URI and GitHub workflow-repository extensions say
//     attacker/x.
//   - GitLab: attacker/x sets its CI/CD configuration file to
//     acme-group/app's .gitlab-ci.yml. The subject is that file's
//     ci_config_ref_uri; the Source Repository URI says attacker/x.
//
// The attacker also attests provenance copied from acme's real build, as
// anyone who signs can. Every policy Seal writes for acme must refuse the
// image in the real engine, or Generate must refuse to write the policy;
// acme's own image must still be admitted by every policy written.
func TestForeignCaller(t *testing.T) {
	tester := testbed.Bin(t, testbed.BinTester)
	b := startBed(t, testbed.Distribution)
	b.tester = tester
	iss, root := b.iss, b.root
	tuf := testbed.StartTUF(t, map[string][]byte{"trusted_root.json": root})
	kyvEnv := []string{"TUF_ROOT=" + tuf.InitCache(t)}

	const (
		ghWorkflow = "acme/app/.github/workflows/release.yml@refs/heads/main"
		glConfig   = "gitlab.com/acme-group/app//.gitlab-ci.yml@refs/heads/main"
	)
	ghLegit := testbed.GitHubClaims("acme/app")
	ghAttack := testbed.GitHubClaimsWith("attacker/x", map[string]any{
		"job_workflow_ref": ghWorkflow,
		"workflow_ref":     "attacker/x/.github/workflows/call.yml@refs/heads/main",
	})
	glLegit := testbed.GitLabClaims("acme-group/app")
	glAttack := testbed.GitLabClaimsWith("attacker/x", map[string]any{"ci_config_ref_uri": glConfig})

	sign := func(issuer string, claims map[string]any, forged map[string]any) string {
		ref := b.push("acme/app")
		md := githubMD(forged)
		if issuer == iss.GitLab {
			md = gitlabMD(forged)
		}
		b.signKeyless(ref, issuer, claims, md)
		return ref
	}
	images := map[string][2]string{ // legit, attack
		identity.CIGitHub: {sign(iss.GitHub, ghLegit, ghLegit), sign(iss.GitHub, ghAttack, ghLegit)},
		identity.CIGitLab: {sign(iss.GitLab, glLegit, glLegit), sign(iss.GitLab, glAttack, glLegit)},
	}

	// The attack's certificates are what the case is about: acme's
	// subject, the attacker's source.
	for ci, want := range map[string][2]string{
		identity.CIGitHub: {"https://github.com/" + ghWorkflow, "https://github.com/attacker/x"},
		identity.CIGitLab: {"https://" + glConfig, "https://gitlab.com/attacker/x"},
	} {
		legit, attack := b.certSummary(images[ci][0]), b.certSummary(images[ci][1])
		if attack.SubjectAlternativeName != want[0] || legit.SubjectAlternativeName != want[0] {
			t.Fatalf("%s: subjects %q (legit) and %q (attack), want both %q", ci, legit.SubjectAlternativeName, attack.SubjectAlternativeName, want[0])
		}
		if attack.SourceRepositoryURI != want[1] {
			t.Fatalf("%s: attack's Source Repository URI = %q, want %q", ci, attack.SourceRepositoryURI, want[1])
		}
		if ci == identity.CIGitHub && attack.GithubWorkflowRepository != "attacker/x" {
			t.Fatalf("attack's GitHub workflow repository = %q, want attacker/x", attack.GithubWorkflowRepository)
		}
	}

	ids := map[string]func() *identity.Identity{
		identity.CIGitHub: func() *identity.Identity {
			id, err := identity.FromGitHub("acme/app", "", "main", false)
			if err != nil {
				t.Fatal(err)
			}
			id.Issuer = iss.GitHub
			return &id
		},
		identity.CIGitLab: func() *identity.Identity {
			id, err := identity.FromGitLab("acme-group/app", "", "main", false, false)
			if err != nil {
				t.Fatal(err)
			}
			id.Issuer = iss.GitLab
			return &id
		},
	}
	// What the refusals point to instead: `seal verify` checks the
	// Source Repository URI extension.
	t.Run("seal-verify", func(t *testing.T) {
		trusted, err := sgroot.NewTrustedRootFromJSON(root)
		if err != nil {
			t.Fatal(err)
		}
		v := verify.New(b.ociClient())
		for _, ci := range []string{identity.CIGitHub, identity.CIGitLab} {
			p := verify.Policy{Identity: ids[ci](), Trusted: trusted, RequireSignature: true, Attestations: []string{SLSAProvenanceV1}}
			if _, err := v.Verify(context.Background(), images[ci][0], p, false); err != nil {
				t.Errorf("%s: seal verify refused acme's own image: %v", ci, err)
			}
			_, err := v.Verify(context.Background(), images[ci][1], p, false)
			t.Logf("%s: seal verify on the attack: %v", ci, err)
			if err == nil {
				t.Errorf("%s: seal verify admitted the image attacker/x signed with acme's subject", ci)
			}
		}
	})

	// Why Generate refuses the bundle format: neither engine can be made
	// to look at an extension there. These are the policies Seal would
	// have to write, built by hand; if an engine changes, this notices.
	t.Run("engine-limits", func(t *testing.T) {
		gh := ids[identity.CIGitHub]()
		base := Spec{Images: []string{b.reg.Host + "/**"}, Identity: rawOf(gh), Format: oci.Bundle, NoTlog: true}

		// policy-controller: a CIP-level policy requiring the workflow
		// repository on every match refuses even acme's own image, since
		// cosign hands the bundle path's matches over without their
		// certificates.
		for _, v := range policyControllers {
			admits := b.admitsBy(testbed.Bin(t, v.bin))
			t.Run("policy-controller-"+v.version, func(t *testing.T) {
				pc := base
				pc.TrustedRoot = root
				p, err := pc.prepare()
				if err != nil {
					t.Fatal(err)
				}
				written, err := policyControllerDocs(p)
				if err != nil {
					t.Fatal(err)
				}
				docs := bytes.Split(written, []byte("\n---\n"))
				withPolicy := func(rego string) []byte {
					var cip cipPolicy
					if err := yaml.Unmarshal(docs[len(docs)-1], &cip); err != nil {
						t.Fatal(err)
					}
					cip.Spec.Policy = &cipRego{Type: "rego", Data: rego}
					edited, err := yaml.Marshal(cip)
					if err != nil {
						t.Fatal(err)
					}
					return bytes.Join(append(append([][]byte{}, docs[:len(docs)-1]...), edited), []byte("\n---\n"))
				}
				const matched = `package sigstore

default isCompliant = false

isCompliant {
  count(input.authorityMatches["signature"].attestations["signature"]) > 0
  count(foreign) == 0
}

foreign[m] {
  m := input.authorityMatches[_].attestations[_][_]
  FOREIGN
}
`
				// The control: the same policy with a condition every match
				// meets admits acme's image.
				control := withPolicy(strings.Replace(matched, "FOREIGN", `not m.predicateType == "https://sigstore.dev/cosign/sign/v1"`, 1))
				if got, out := admits(t, control, images[identity.CIGitHub][0]); !got {
					t.Fatalf("the control CIP-level policy refused acme's image:\n%s\n%s", out, control)
				}
				policy := withPolicy(strings.Replace(matched, "FOREIGN", `not m.githubWorkflowRepo == "acme/app"`, 1))
				got, out := admits(t, policy, images[identity.CIGitHub][0])
				t.Logf("policy-controller "+v.version+", bundle, CIP-level policy on githubWorkflowRepo: acme's own image admitted=%v\n%s", got, lastLines(out, 3))
				if got || strings.Contains(out, "githubWorkflowRepo") {
					t.Errorf("policy-controller %s's bundle path now shows certificate extensions to the CIP-level policy: pinSource can write it\n%s", v.version, policy)
				}
			})
		}
		// Kyverno's SigstoreBundle type: additionalExtensions is accepted
		// in the policy and ignored.
		t.Run("kyverno", func(t *testing.T) {
			kp, err := Generate(Kyverno, base)
			if err != nil {
				t.Fatal(err)
			}
			var kyv kyvPolicy
			if err := yaml.Unmarshal(kp, &kyv); err != nil {
				t.Fatal(err)
			}
			k := kyv.Spec.Rules[0].VerifyImages[0].Attestors[0].Entries[0].Keyless
			k.AdditionalExtensions = map[string]string{"githubWorkflowRepository": gh.Source.Repository}
			kp, err = yaml.Marshal(kyv)
			if err != nil {
				t.Fatal(err)
			}
			got, out := kyvernoAdmitsWith(t, testbed.Bin(t, binKyverno), kp, images[identity.CIGitHub][1], kyvEnv, "-v=4")
			t.Logf("kyverno, SigstoreBundle, additionalExtensions githubWorkflowRepository: acme/app: attack admitted=%v", got)
			if !got {
				t.Errorf("kyverno's SigstoreBundle verifier now checks additionalExtensions: pinSource can write it\n%s\n%s", kp, out)
			}
		})
	})

	type engine struct {
		kind    Engine
		version string
		format  oci.Format
		admits  func(t *testing.T, policy []byte, image string) (bool, string)
	}
	engines := []engine{
		{Kyverno, "v1.19.1", oci.Bundle, func(t *testing.T, policy []byte, image string) (bool, string) {
			return kyvernoAdmitsWith(t, testbed.Bin(t, binKyverno), policy, image, kyvEnv, "-v=4")
		}},
		{Kyverno, "v1.19.1", oci.Legacy, func(t *testing.T, policy []byte, image string) (bool, string) {
			return kyvernoAdmits(t, testbed.Bin(t, binKyverno), policy, image)
		}},
	}
	for _, v := range policyControllers {
		admits := b.admitsBy(testbed.Bin(t, v.bin))
		engines = append(engines, engine{PolicyController, v.version, oci.Bundle, admits}, engine{PolicyController, v.version, oci.Legacy, admits})
	}
	for _, e := range engines {
		for _, ci := range []string{identity.CIGitHub, identity.CIGitLab} {
			for _, atts := range [][]string{nil, {"slsaprovenance"}} {
				name := fmt.Sprintf("%s-%s/%s/%s/%d-attestations", e.kind, e.version, e.format, ci, len(atts))
				t.Run(name, func(t *testing.T) {
					spec := Spec{Images: []string{b.reg.Host + "/**"}, Identity: ids[ci](), Attestations: atts, Format: e.format, NoTlog: true}
					if e.kind != Kyverno || e.format != oci.Bundle {
						spec.TrustedRoot = root // Kyverno's SigstoreBundle type reads it from TUF
					}
					policy, err := Generate(e.kind, spec)
					if err != nil {
						t.Logf("%s: Generate refused: %v", name, err)
						// The refusal names the engine and the format, says
						// why, and what to use instead.
						for _, want := range []string{string(e.kind), e.format.String(), "Source Repository URI", "seal verify"} {
							if !strings.Contains(err.Error(), want) {
								t.Errorf("Generate() = %v, want it to mention %q", err, want)
							}
						}
						return
					}
					legit, out := e.admits(t, policy, images[ci][0])
					if !legit {
						t.Errorf("%s: acme's own image refused:\n%s\npolicy:\n%s", name, out, policy)
					}
					attack, out := e.admits(t, policy, images[ci][1])
					t.Logf("%s: legit admitted=%v, attack admitted=%v", name, legit, attack)
					if attack {
						t.Errorf("%s: ADMITTED the image attacker/x signed with acme's subject\npolicy:\n%s", name, policy)
					} else {
						t.Logf("%s: attack refused by the engine:\n%s", name, lastLines(out, 6))
					}
				})
			}
		}
	}
}

// lastLines is the end of a tool's output, for logs.
func lastLines(s string, n int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, "\n")
}
