package policy

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/sealsign/seal/internal/ci"
	"github.com/sealsign/seal/internal/identity"
	"github.com/sealsign/seal/internal/oci"
	"github.com/sealsign/seal/internal/testbed"
)

// binKyverno is Kyverno's CLI in the peers cache (.ci/peers.sh).
const binKyverno = "kyverno"

// kyvernoAdmits runs `kyverno apply` with policy on a Pod running image,
// which executes the verifyImages rule against the registry as the
// admission controller would.
func kyvernoAdmits(t *testing.T, bin string, policy []byte, image string) (bool, string) {
	t.Helper()
	return kyvernoAdmitsWith(t, bin, policy, image, nil)
}

// kyvernoAdmitsWith is kyvernoAdmits with KEY=VALUE settings added to
// Kyverno's environment (for example TUF_ROOT) and flags to its command
// line.
func kyvernoAdmitsWith(t *testing.T, bin string, policy []byte, image string, env []string, flags ...string) (bool, string) {
	t.Helper()
	dir := t.TempDir()
	pol := filepath.Join(dir, "policy.yaml")
	pod := filepath.Join(dir, "pod.yaml")
	if err := os.WriteFile(pol, policy, 0o644); err != nil {
		t.Fatal(err)
	}
	manifest := fmt.Sprintf("apiVersion: v1\nkind: Pod\nmetadata:\n  name: app\n  namespace: default\nspec:\n  containers:\n    - name: app\n      image: %s\n", image)
	if err := os.WriteFile(pod, []byte(manifest), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append([]string{"apply", pol, "--resource", pod, "--detailed-results"}, flags...)...)
	cmd.Env = append(append(os.Environ(), "HOME="+dir), env...)
	out, _ := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("kyverno timed out:\n%s", out)
	}
	m := regexp.MustCompile(`pass: (\d+), fail: (\d+), warn: (\d+), error: (\d+), skip: (\d+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("kyverno apply printed no result summary:\n%s", out)
	}
	return string(m[1]) != "0" && string(m[2]) == "0" && string(m[4]) == "0", string(out)
}

// TestKyvernoCLI applies the Cosign-type (legacy format) ClusterPolicies
// with Kyverno's own CLI to Pods running images Seal signed with a private
// Fulcio and TSA. The SigstoreBundle type, whose trusted root Kyverno takes
// only from TUF, is TestKyvernoCLIBundle's.
func TestKyvernoCLI(t *testing.T) {
	bin := testbed.Bin(t, binKyverno)
	b := startBed(t, testbed.Distribution)
	iss, root := b.iss, b.root

	im := b.kyvernoImages()
	gl, err := identity.FromGitLab("acme-group/app", "", "main", false, false)
	if err != nil {
		t.Fatal(err)
	}
	gl.Issuer = iss.GitLab

	hosted, err := identity.FromGitHub("acme/app", "", "", true)
	if err != nil {
		t.Fatal(err)
	}
	hosted.Issuer = iss.GitHub

	gh := func(workflow string) *identity.Identity {
		id, err := identity.FromGitHub("acme/app", workflow, "main", false)
		if err != nil {
			t.Fatal(err)
		}
		id.Issuer = iss.GitHub
		return &id
	}
	for _, tc := range []struct {
		name     string
		spec     Spec
		verdicts []verdict
	}{
		{"provenance", Spec{Identity: gh(""), Attestations: []string{"slsaprovenance"}},
			[]verdict{{im.good, true, ""}, {im.typo, false, `subject mismatch`}, {im.sigOnly, false, `no matching attestations|not found`}, {im.unsigned, false, `no signatures found|not found`}}},
		{"signature", Spec{Identity: gh("release.yml")},
			[]verdict{{im.good, true, ""}, {im.sigOnly, true, ""}, {im.typo, false, `subject mismatch`}, {im.unsigned, false, `no signatures found`}}},
		// The stranger's certificate has the same subject; only the
		// workflow-repository extension tells them apart.
		{"reusable", Spec{Identity: gh(sharedWorkflow)},
			[]verdict{{im.reusable, true, ""}, {im.stranger, false, `extension mismatch`}}},
		// Checks only the provenance can make: it must have been evaluated.
		{"hosted", Spec{Identity: &hosted, Attestations: []string{"slsaprovenance"}},
			[]verdict{{im.good, true, ""}, {im.selfHosted, false, `the provenance must say: built on a github-hosted runner`}}},
		// GitLab presets are refused (TestForeignCaller); a raw identity
		// still checks a GitLab certificate's subject and issuer.
		{"gitlab-raw", Spec{Identity: rawOf(&gl), Attestations: []string{"slsaprovenance"}},
			[]verdict{{im.glGood, true, ""}, {im.good, false, `subject mismatch|issuer mismatch`}}},
		{"reusable-provenance", Spec{Identity: gh("acme/shared/.github/workflows/build.yml"), Attestations: []string{"slsaprovenance"}},
			[]verdict{{im.reusable, true, ""}, {im.stranger, false, `extension mismatch|the provenance must say`}}},
	} {
		tc.spec.Images = []string{b.reg.Host + "/**"}
		tc.spec.Format = oci.Legacy
		tc.spec.TrustedRoot = root
		tc.spec.NoTlog = true
		policy, err := Generate(Kyverno, tc.spec)
		if err != nil {
			t.Fatalf("%s: Generate() = %v", tc.name, err)
		}
		for i, v := range tc.verdicts {
			t.Run(fmt.Sprintf("%s/%d", tc.name, i), func(t *testing.T) {
				got, out := kyvernoAdmits(t, bin, policy, v.image)
				v.check(t, got, out, policy)
			})
		}
	}
}

// sharedWorkflow is a reusable workflow in acme/shared that acme/app and a
// stranger both call: their certificates have the same subject.
const sharedWorkflow = "acme/shared/.github/workflows/build.yml@refs/tags/v1"

// kyvernoImages are the images the Kyverno tests judge, on b's registry,
// signed and attested by Seal in both formats.
type kyvernoImages struct {
	good       string // acme/app's release workflow on main, with provenance
	typo       string // acme/app-evil, forging acme/app's provenance
	sigOnly    string // acme/app, signature without provenance
	unsigned   string
	reusable   string // acme/app calling sharedWorkflow
	stranger   string // stranger/app calling sharedWorkflow
	selfHosted string // acme/app on a self-hosted runner
	glGood     string // GitLab acme-group/app on a protected ref
}

func (b *bed) kyvernoImages() kyvernoImages {
	b.t.Helper()
	var im kyvernoImages
	sign := func(repo, issuer string, claims map[string]any, md *ci.Metadata) string {
		ref := b.push(repo)
		b.signKeyless(ref, issuer, claims, md)
		return ref
	}
	main := testbed.GitHubClaims("acme/app")
	im.good = sign("acme/app", b.iss.GitHub, main, githubMD(main))
	im.typo = sign("acme/app", b.iss.GitHub, testbed.GitHubClaims("acme/app-evil"), githubMD(main))
	im.sigOnly = sign("acme/app", b.iss.GitHub, main, nil)
	im.unsigned = b.push("acme/app")
	rc := testbed.GitHubClaimsWith("acme/app", map[string]any{"job_workflow_ref": sharedWorkflow})
	im.reusable = sign("acme/app", b.iss.GitHub, rc, githubMD(rc))
	sc := testbed.GitHubClaimsWith("stranger/app", map[string]any{"job_workflow_ref": sharedWorkflow})
	im.stranger = sign("acme/app", b.iss.GitHub, sc, githubMD(sc))
	shc := testbed.GitHubClaimsWith("acme/app", map[string]any{"runner_environment": "self-hosted"})
	im.selfHosted = sign("acme/app", b.iss.GitHub, shc, githubMD(shc))
	glc := testbed.GitLabClaims("acme-group/app")
	im.glGood = sign("acme-group/app", b.iss.GitLab, glc, gitlabMD(glc))
	return im
}

// TestKyvernoTriggerGlobs: the globs Kyverno checks the workflow-trigger
// extension against match every event GitHub documents but the refused
// ones, and none of those, for every set of refused triggers a GitHub
// preset can have.
func TestKyvernoTriggerGlobs(t *testing.T) {
	all := identity.RefusedGitHubTriggers()
	for _, refused := range [][]string{all, all[:1], all[1:]} {
		globs := kyvTriggerGlobs(refused)
		// Kyverno's globs know "*" and "?", as path.Match does within a
		// segment; event names have no "/".
		matches := func(e string) bool {
			return slices.ContainsFunc(globs, func(g string) bool { ok, _ := path.Match(g, e); return ok })
		}
		for _, e := range identity.GitHubEvents() {
			if got, want := matches(e), !slices.Contains(refused, e); got != want {
				t.Errorf("refusing %q: event %q matches %q = %v, want %v", refused, e, globs, got, want)
			}
		}
		if len(globs) >= len(identity.GitHubEvents())/2 {
			t.Errorf("refusing %q: %d globs, want fewer than half as many as events", refused, len(globs))
		}
	}
}
