package policy

import (
	"bytes"
	"context"
	"fmt"
	"github.com/sealsign/seal/internal/identity"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/sealsign/seal/internal/ci"
	"github.com/sealsign/seal/internal/keys"
	"github.com/sealsign/seal/internal/oci"
	"github.com/sealsign/seal/internal/oidc"
	"github.com/sealsign/seal/internal/publish"
	"github.com/sealsign/seal/internal/signing"
	"github.com/sealsign/seal/internal/testbed"
)

// bed is one private Sigstore (issuer, Fulcio, TSA, no log) and a
// registry, with Seal's signers for it.
type bed struct {
	t      *testing.T
	iss    *testbed.Issuer
	fulcio *testbed.Fulcio
	tsa    *testbed.TSA
	reg    *testbed.Registry
	root   []byte
	tester string
	// format is what publish writes: both formats, or Legacy alone.
	format oci.Format
}

// startBed starts a private Sigstore (issuer, Fulcio, TSA, no log) and a
// registry of kind.
func startBed(t *testing.T, kind testbed.RegistryKind) *bed {
	t.Helper()
	iss := testbed.StartIssuer(t)
	fulcio := testbed.StartFulcio(t, iss)
	tsa := testbed.StartTSA(t)
	return &bed{t: t, iss: iss, fulcio: fulcio, tsa: tsa, reg: testbed.StartRegistry(t, kind), root: testbed.TrustedRootJSON(t, fulcio, tsa)}
}

// push uploads a fresh random image and returns its digest reference.
func (b *bed) push(repo string) string {
	b.t.Helper()
	img, err := random.Image(512, 1)
	if err != nil {
		b.t.Fatal(err)
	}
	ref, err := name.ParseReference(b.reg.Repo(repo) + ":latest")
	if err != nil {
		b.t.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		b.t.Fatalf("pushing %s: %v", ref, err)
	}
	d, err := img.Digest()
	if err != nil {
		b.t.Fatal(err)
	}
	return b.reg.Repo(repo) + "@" + d.String()
}

// signKeyless publishes what `seal sign` and `seal attest --provenance`
// publish for ref in the CI whose token carries claims, in both formats.
// A nil md publishes the signature alone.
func (b *bed) signKeyless(ref, issuer string, claims map[string]any, md *ci.Metadata) {
	b.t.Helper()
	b.publish(b.keyless(issuer, claims), ref, md)
}

// keyless is the signer Seal makes in the CI whose token carries claims,
// with the bed's Fulcio and TSA.
func (b *bed) keyless(issuer string, claims map[string]any) *signing.Signer {
	b.t.Helper()
	tok, err := oidc.Parse(b.iss.Mint(issuer, claims))
	if err != nil {
		b.t.Fatal(err)
	}
	s, err := signing.NewKeyless(tok, signing.WithServices(signing.Services{FulcioURL: b.fulcio.URL, TSAURL: b.tsa.TimestampURL()}))
	if err != nil {
		b.t.Fatal(err)
	}
	return s
}

func (b *bed) publish(s *signing.Signer, ref string, md *ci.Metadata) {
	b.t.Helper()
	req := publish.Request{Ref: ref, Sign: true}
	if md != nil {
		req.Attestations = []publish.Attestation{publish.Provenance{Metadata: md, FinishedOn: time.Now()}}
	}
	b.send(s, req)
}

// send publishes req with s in the bed's format.
func (b *bed) send(s *signing.Signer, req publish.Request) {
	b.t.Helper()
	reg, err := oci.New(oci.WithInsecureHosts(b.reg.Host), oci.WithWriteAccess())
	if err != nil {
		b.t.Fatal(err)
	}
	f := oci.Both
	if b.format == oci.Legacy {
		f = oci.Legacy
	}
	p, err := publish.New(s, reg, publish.WithFormat(f))
	if err != nil {
		b.t.Fatal(err)
	}
	if _, err := p.Publish(context.Background(), req); err != nil {
		b.t.Fatalf("publishing for %s: %v", req.Ref, err)
	}
}

// keyed makes a key pair the way `seal generate-key-pair` does and loads
// it as `seal sign --key` does.
func (b *bed) keyed() (*signing.Signer, []byte) {
	b.t.Helper()
	priv, pub, err := keys.Generate([]byte("pw"))
	if err != nil {
		b.t.Fatal(err)
	}
	path := filepath.Join(b.t.TempDir(), "cosign.key")
	if err := os.WriteFile(path, priv, 0o600); err != nil {
		b.t.Fatal(err)
	}
	kp, err := keys.Load(context.Background(), path, keys.WithPassword(func() ([]byte, error) { return []byte("pw"), nil }))
	if err != nil {
		b.t.Fatal(err)
	}
	s, err := signing.NewKeyed(kp, signing.WithServices(signing.Services{TSAURL: b.tsa.TimestampURL()}))
	if err != nil {
		b.t.Fatal(err)
	}
	return s, pub
}

// policyControllers are the policy-controller releases whose testers run
// the policy-controller cases: v0.13.1 and the 0.15 line.
var policyControllers = []struct{ version, bin string }{
	{"v0.13.1", testbed.BinTester},
	{"v0.15.1", testbed.BinTesterV15},
}

// engineRun is an engine as the tests run it: admits reports whether
// policy admits image, with the engine's output.
type engineRun struct {
	name   string
	kind   Engine
	admits func(t *testing.T, policy []byte, image string) (bool, string)
}

// policyControllerRuns are both policy-controller testers, on b's
// registry. Each tester is looked up when it first runs, in a subtest, so
// that -run can pick one.
func (b *bed) policyControllerRuns() []engineRun {
	var out []engineRun
	for _, pc := range policyControllers {
		out = append(out, engineRun{"policy-controller-" + pc.version, PolicyController, func(t *testing.T, policy []byte, image string) (bool, string) {
			return b.admitsBy(testbed.Bin(t, pc.bin))(t, policy, image)
		}})
	}
	return out
}

// admitsBy is admits with the tester binary at path.
func (b *bed) admitsBy(path string) func(t *testing.T, policy []byte, image string) (bool, string) {
	c := *b
	c.tester = path
	return c.admits
}

// admits runs policy-controller's tester on policy and image; true means
// the image would be admitted.
func (b *bed) admits(t *testing.T, policy []byte, image string) (bool, string) {
	t.Helper()
	dir := t.TempDir()
	args := []string{"-image", image, "-log-level", "warn"}
	var cip [][]byte
	for _, doc := range bytes.Split(policy, []byte("\n---\n")) {
		if bytes.Contains(doc, []byte("\nkind: TrustRoot\n")) {
			p := filepath.Join(dir, "trustroot.yaml")
			if err := os.WriteFile(p, doc, 0o644); err != nil {
				t.Fatal(err)
			}
			args = append(args, "-trustroot", p)
			continue
		}
		cip = append(cip, doc)
	}
	p := filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(p, bytes.Join(cip, []byte("\n---\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	args = append(args, "-policy", p)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, b.tester, args...)
	cmd.Env = append(os.Environ(), "HOME="+dir) // no docker config, no TUF cache
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("tester timed out:\n%s", out)
	}
	if err != nil {
		if _, ok := err.(*exec.ExitError); !ok {
			t.Fatalf("running tester: %v", err)
		}
		// A policy the tester refuses to load is a bug in Generate, not a
		// rejected image.
		if bytes.Contains(out, []byte("CIP is invalid")) || bytes.Contains(out, []byte("error parsing")) {
			t.Fatalf("tester refused the policy:\n%s\npolicy:\n%s", out, policy)
		}
		return false, string(out)
	}
	return true, string(out)
}

// githubMD is the metadata package ci derives from a GitHub token with
// these claims: what Seal's provenance is generated from.
func githubMD(claims map[string]any) *ci.Metadata {
	str := func(k string) string { s, _ := claims[k].(string); return s }
	repo := str("repository")
	return &ci.Metadata{
		Provider: "github", ServerURL: "https://github.com",
		Repository: repo, RepositoryURL: "https://github.com/" + repo,
		RepositoryID: str("repository_id"), OwnerID: str("repository_owner_id"),
		Commit: str("sha"), Ref: str("ref"), RefType: str("ref_type"),
		ConfigPath: ".github/workflows/release.yml", ConfigRef: str("workflow_ref"), ConfigSHA: str("workflow_sha"),
		BuilderRef: str("job_workflow_ref"), BuilderSHA: str("job_workflow_sha"),
		RunID: str("run_id"), RunURL: "https://github.com/" + repo + "/actions/runs/" + str("run_id") + "/attempts/1",
		Event: str("event_name"), RunnerEnvironment: str("runner_environment"), Bound: true,
	}
}

func gitlabMD(claims map[string]any) *ci.Metadata {
	str := func(k string) string { s, _ := claims[k].(string); return s }
	project := str("project_path")
	return &ci.Metadata{
		Provider: "gitlab", ServerURL: "https://gitlab.com",
		Repository: project, RepositoryURL: "https://gitlab.com/" + project,
		RepositoryID: str("project_id"), Owner: str("namespace_path"), OwnerID: str("namespace_id"),
		Commit: str("sha"), Ref: str("ref_path"), RefType: str("ref_type"), RefProtected: str("ref_protected"),
		ConfigPath: ".gitlab-ci.yml", ConfigRef: str("ci_config_ref_uri"), ConfigSHA: str("ci_config_sha"),
		BuilderRef: str("ci_config_ref_uri"), JobID: str("job_id"), JobName: "sign",
		JobURL: "https://gitlab.com/" + project + "/-/jobs/" + str("job_id"),
		Event:  str("pipeline_source"), RunnerEnvironment: str("runner_environment"), Bound: true,
	}
}

type verdict struct {
	image string
	want  bool
	// why matches the tester's output for a rejection, so that an image
	// is refused for the reason the case is about.
	why string
}

// Reasons policy-controller gives, in either format.
const (
	wrongSigner  = `SAN value to match regex|none of the expected identities matched|key validation failed`
	notSigned    = `no valid bundles exist|no signatures found|no matching attestations: *:`
	noProvenance = `no matching attestations`
	badClaim     = `failed evaluating rego policy`
)

func (v verdict) check(t *testing.T, got bool, out string, policy []byte) {
	t.Helper()
	if got != v.want {
		t.Errorf("admitted = %v, want %v\ntester output:\n%s\npolicy:\n%s", got, v.want, out, policy)
		return
	}
	if !got && !regexp.MustCompile(v.why).MatchString(out) {
		t.Errorf("rejected, but not for %q:\n%s", v.why, out)
	}
}

// TestPolicyControllerTester is the proof that the ClusterImagePolicies
// Generate writes work: Seal signs images with a private Fulcio and TSA
// (no transparency log, as for a private repository), and
// policy-controller's own tester must admit exactly the images the right
// repository signed and attested (GitHub presets, legacy format) or the
// right subject signed (raw identities, both formats), on a registry with
// the referrers API and on one that needs the tag fallback.
func TestPolicyControllerTester(t *testing.T) {
	iss := testbed.StartIssuer(t)
	fulcio := testbed.StartFulcio(t, iss)
	tsa := testbed.StartTSA(t)
	root := testbed.TrustedRootJSON(t, fulcio, tsa)

	for _, v := range policyControllers {
		tester := testbed.Bin(t, v.bin)
		t.Run(v.version, func(t *testing.T) {

			for _, kind := range []testbed.RegistryKind{testbed.InProcess, testbed.Distribution} {
				t.Run(string(kind), func(t *testing.T) {
					b := &bed{t: t, iss: iss, fulcio: fulcio, tsa: tsa, reg: testbed.StartRegistry(t, kind), root: root, tester: tester}
					glob := b.reg.Host + "/**"

					// GitHub: the right repository, a typosquat forging provenance
					// that names the right one, a feature branch, a signature
					// without provenance, nothing at all.
					main := testbed.GitHubClaims("acme/app")
					good := b.push("acme/app")
					b.signKeyless(good, iss.GitHub, main, githubMD(main))

					typo := b.push("acme/app")
					evil := testbed.GitHubClaims("acme/app-evil")
					forged := githubMD(main) // the attacker writes the victim's provenance
					b.signKeyless(typo, iss.GitHub, evil, forged)

					feature := b.push("acme/app")
					fc := testbed.GitHubClaimsWith("acme/app", map[string]any{
						"ref": "refs/heads/feature", "job_workflow_ref": "acme/app/.github/workflows/release.yml@refs/heads/feature",
						"workflow_ref": "acme/app/.github/workflows/release.yml@refs/heads/feature",
					})
					b.signKeyless(feature, iss.GitHub, fc, githubMD(fc))

					sigOnly := b.push("acme/app")
					b.signKeyless(sigOnly, iss.GitHub, main, nil)

					unsigned := b.push("acme/app")

					// A reusable workflow in acme/shared, called by acme/app and by
					// a stranger whose SAN is the same.
					const shared = "acme/shared/.github/workflows/build.yml@refs/tags/v1"
					rc := testbed.GitHubClaimsWith("acme/app", map[string]any{"job_workflow_ref": shared})
					reusable := b.push("acme/app")
					b.signKeyless(reusable, iss.GitHub, rc, githubMD(rc))
					sc := testbed.GitHubClaimsWith("stranger/app", map[string]any{"job_workflow_ref": shared})
					stranger := b.push("acme/app")
					b.signKeyless(stranger, iss.GitHub, sc, githubMD(sc))

					shc := testbed.GitHubClaimsWith("acme/app", map[string]any{"runner_environment": "self-hosted"})
					selfHosted := b.push("acme/app")
					b.signKeyless(selfHosted, iss.GitHub, shc, githubMD(shc))
					hosted, err := identity.FromGitHub("acme/app", "", "", true)
					if err != nil {
						t.Fatal(err)
					}
					hosted.Issuer = iss.GitHub

					github := func(workflow, ref string) *identity.Identity {
						id, err := identity.FromGitHub("acme/app", workflow, ref, false)
						if err != nil {
							t.Fatal(err)
						}
						id.Issuer = iss.GitHub // the testbed's issuer, as --certificate-oidc-issuer names it
						return &id
					}

					type tc struct {
						name     string
						spec     Spec
						verdicts []verdict
					}
					// Presets only in the legacy format: in the bundle format
					// policy-controller cannot check which repository signed
					// (TestForeignCaller), and Generate refuses them. The CIP-level
					// policy checks the certificate's workflow-repository extension,
					// which alone tells the stranger apart.
					cases := []tc{
						{"github-provenance-main", Spec{Identity: github("", "refs/heads/main"), Attestations: []string{"slsaprovenance"}, Format: oci.Legacy},
							[]verdict{{good, true, ""}, {typo, false, wrongSigner}, {feature, false, wrongSigner}, {sigOnly, false, noProvenance}, {unsigned, false, notSigned}, {stranger, false, wrongSigner}}},
						{"github-signature", Spec{Identity: github("release.yml", ""), Format: oci.Legacy},
							[]verdict{{good, true, ""}, {sigOnly, true, ""}, {feature, true, ""}, {typo, false, wrongSigner}, {unsigned, false, notSigned}}},
						{"github-hosted", Spec{Identity: &hosted, Attestations: []string{"slsaprovenance"}, Format: oci.Legacy},
							[]verdict{{good, true, ""}, {selfHosted, false, badClaim}}},
						{"github-reusable-provenance", Spec{Identity: github("acme/shared/.github/workflows/build.yml", ""), Attestations: []string{"slsaprovenance"}, Format: oci.Legacy},
							[]verdict{{reusable, true, ""}, {stranger, false, badClaim}, {good, false, wrongSigner}}},
						{"github-reusable-extension", Spec{Identity: github(shared, ""), Format: oci.Legacy},
							[]verdict{{reusable, true, ""}, {stranger, false, badClaim}}},
					}
					// Raw identities in both formats: the subject and issuer
					// alone, as --certificate-identity-regexp asks.
					for _, f := range []oci.Format{oci.Bundle, oci.Legacy} {
						cases = append(cases,
							tc{"raw-provenance-main-" + f.String(), Spec{Identity: rawOf(github("", "refs/heads/main")), Attestations: []string{"slsaprovenance"}, Format: f},
								[]verdict{{good, true, ""}, {typo, false, wrongSigner}, {feature, false, wrongSigner}, {sigOnly, false, noProvenance}, {unsigned, false, notSigned}}},
							tc{"raw-signature-" + f.String(), Spec{Identity: rawOf(github("release.yml", "")), Format: f},
								[]verdict{{good, true, ""}, {sigOnly, true, ""}, {feature, true, ""}, {typo, false, wrongSigner}, {unsigned, false, notSigned}}},
						)
					}

					// Parallel subtests inside a group: the group returns only when
					// they are done, before the registry stops.
					t.Run("verdicts", func(t *testing.T) {
						for _, c := range cases {
							c.spec.Images = []string{glob}
							c.spec.TrustedRoot = root
							c.spec.NoTlog = true
							policy, err := Generate(PolicyController, c.spec)
							if err != nil {
								t.Fatalf("%s: Generate() = %v", c.name, err)
							}
							for i, v := range c.verdicts {
								t.Run(fmt.Sprintf("%s/%d", c.name, i), func(t *testing.T) {
									t.Parallel()
									got, out := b.admits(t, policy, v.image)
									v.check(t, got, out, policy)
								})
							}
						}
					})
				})
			}

			// GitLab presets are refused in both formats (TestForeignCaller);
			// GitLab certificates still verify against a raw identity.
			t.Run("gitlab", func(t *testing.T) {
				b := &bed{t: t, iss: iss, fulcio: fulcio, tsa: tsa, reg: testbed.StartRegistry(t, testbed.InProcess), root: root, tester: tester}
				claims := testbed.GitLabClaims("acme-group/app")
				good := b.push("acme-group/app")
				b.signKeyless(good, iss.GitLab, claims, gitlabMD(claims))
				typo := b.push("acme-group/app")
				ec := testbed.GitLabClaims("acme-group/app2")
				b.signKeyless(typo, iss.GitLab, ec, gitlabMD(claims))
				unsigned := b.push("acme-group/app")

				id, err := identity.FromGitLab("acme-group/app", "", "main", false, false)
				if err != nil {
					t.Fatal(err)
				}
				id.Issuer = iss.GitLab
				for _, f := range []oci.Format{oci.Bundle, oci.Legacy} {
					policy, err := Generate(PolicyController, Spec{Images: []string{b.reg.Host + "/**"}, Identity: rawOf(&id), Attestations: []string{"slsaprovenance"},
						Format: f, TrustedRoot: root, NoTlog: true})
					if err != nil {
						t.Fatal(err)
					}
					for i, v := range []verdict{{good, true, ""}, {typo, false, wrongSigner}, {unsigned, false, notSigned}} {
						t.Run(fmt.Sprintf("%s/%d", f, i), func(t *testing.T) {
							got, out := b.admits(t, policy, v.image)
							v.check(t, got, out, policy)
						})
					}
				}
			})

			t.Run("key", func(t *testing.T) {
				b := &bed{t: t, iss: iss, fulcio: fulcio, tsa: tsa, reg: testbed.StartRegistry(t, testbed.InProcess), root: root, tester: tester}
				s, pub := b.keyed()
				good := b.push("acme/app")
				b.publish(s, good, githubMD(testbed.GitHubClaims("acme/app")))
				other, _ := b.keyed()
				wrongKey := b.push("acme/app")
				b.publish(other, wrongKey, githubMD(testbed.GitHubClaims("acme/app")))
				unsigned := b.push("acme/app")
				for _, atts := range [][]string{nil, {"slsaprovenance"}} {
					policy, err := Generate(PolicyController, Spec{Images: []string{b.reg.Host + "/**"}, PublicKey: pub, Attestations: atts, Format: oci.Legacy, NoTlog: true})
					if err != nil {
						t.Fatal(err)
					}
					for i, v := range []verdict{{good, true, ""}, {wrongKey, false, wrongSigner}, {unsigned, false, notSigned}} {
						t.Run(fmt.Sprintf("%d-attestations/%d", len(atts), i), func(t *testing.T) {
							got, out := b.admits(t, policy, v.image)
							v.check(t, got, out, policy)
						})
					}
				}
			})
		})
	}
}

// rawOf is id as a raw identity, its subject and issuer alone: what
// --certificate-identity-regexp and --certificate-oidc-issuer ask for.
func rawOf(id *identity.Identity) *identity.Identity {
	return &identity.Identity{Issuer: id.Issuer, IssuerRegexp: id.IssuerRegexp, Subject: id.Subject, SubjectRegexp: id.SubjectRegexp}
}

// TestPolicyControllerTesterUncovered makes sure a policy that does not
// cover the image is not mistaken for one that admits it.
func TestPolicyControllerTesterUncovered(t *testing.T) {
	pub := readFile(t, "cosign.pub")
	policy, err := Generate(PolicyController, Spec{Images: []string{"registry.example.com/other/**"}, PublicKey: pub, Format: oci.Legacy, NoTlog: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range policyControllers {
		b := &bed{t: t, tester: testbed.Bin(t, v.bin)}
		got, out := b.admits(t, policy, "127.0.0.1:1/acme/app@sha256:"+strings.Repeat("0", 64))
		if got || !strings.Contains(out, "uncovered by policy") {
			t.Errorf("%s: admitted = %v, want false for an image no glob covers\n%s", v.version, got, out)
		}
	}
}
