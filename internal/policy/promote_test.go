package policy

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	sgroot "github.com/sigstore/sigstore-go/pkg/root"

	"github.com/sealsign/seal/internal/ci"
	"github.com/sealsign/seal/internal/identity"
	"github.com/sealsign/seal/internal/keys"
	"github.com/sealsign/seal/internal/oci"
	"github.com/sealsign/seal/internal/oci/legacy"
	"github.com/sealsign/seal/internal/publish"
	"github.com/sealsign/seal/internal/signing"
	"github.com/sealsign/seal/internal/testbed"
	"github.com/sealsign/seal/internal/verify"
)

// binFluxVerify is Flux source-controller's cosign verifier behind .ci/flux-verify's main.
const binFluxVerify = "flux-verify"

// sealCLI builds the seal binary for a test: the promotion step under test is the verb users
// run, not the library calls behind it.
func sealCLI(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "seal")
	cmd := exec.Command("go", "build", "-o", bin, "../../cmd/seal")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building seal: %v\n%s", err, out)
	}
	return bin
}

// runSeal runs the seal binary with no CI in its environment except env.
func runSeal(t *testing.T, bin string, env []string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case k == "CI", strings.HasPrefix(k, "GITHUB_"), strings.HasPrefix(k, "GITLAB_"), strings.HasPrefix(k, "CI_"),
			strings.HasPrefix(k, "ACTIONS_"), strings.HasPrefix(k, "RUNNER_"), strings.HasPrefix(k, "COSIGN_"), k == "SIGSTORE_ID_TOKEN":
			continue
		}
		cmd.Env = append(cmd.Env, kv)
	}
	cmd.Env = append(cmd.Env, env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// sendFormat publishes req with s in format f only.
func (b *bed) sendFormat(s *signing.Signer, req publish.Request, f oci.Format) {
	b.t.Helper()
	reg, err := oci.New(oci.WithInsecureHosts(b.reg.Host), oci.WithWriteAccess())
	if err != nil {
		b.t.Fatal(err)
	}
	p, err := publish.New(s, reg, publish.WithFormat(f))
	if err != nil {
		b.t.Fatal(err)
	}
	if _, err := p.Publish(context.Background(), req); err != nil {
		b.t.Fatalf("publishing for %s: %v", req.Ref, err)
	}
}

// build is what a CI job publishes for ref: a keyless signature and SLSA provenance from the
// job whose token carries claims, in format f, with provenance written from md (the
// attacker's is copied from the victim's build).
func (b *bed) build(ref, issuer string, claims map[string]any, md *ci.Metadata, f oci.Format) {
	b.t.Helper()
	b.sendFormat(b.keyless(issuer, claims), publish.Request{Ref: ref, Sign: true,
		Attestations: []publish.Attestation{publish.Provenance{Metadata: md, FinishedOn: time.Now()}}}, f)
}

// TestPromotion is the promotion step (seal promote) against the attack admission engines
// cannot stop on their own: another repository running the victim's workflow or CI file
// gets a certificate with the victim's subject. seal promote checks the Source Repository
// extension that says who ran, and only then signs the verdict with a promotion signer the
// attacker cannot use; the engines check that signer's summary (seal policy ENGINE
// --no-signature --attestation vsa) with Kyverno 1.19.1 (ClusterPolicy, Cosign and
// SigstoreBundle types; ImageValidatingPolicy) and policy-controller v0.13.1 and v0.15.1.
//
//   - GitLab keyless: evil/app takes acme-group/app's .gitlab-ci.yml as its CI
//     configuration and signs an image whose certificate verifies as acme's CI file. Its
//     promotion fails verification, and without acme's protected variable it cannot reach
//     the promotion key; a summary it signs with a key of its own is another signer's.
//   - GitHub keyless, bundle format only (no legacy tags, as cosign v4 writes): acme/app's
//     image is promoted by a key and, keyless, by acme/promote's promote.yml (not
//     on: workflow_call); attacker/x calling acme/app's release.yml is not promoted.
//   - Replays: acme's promotion copied onto another image, a FAILED summary signed by the
//     promotion key, and a promotion of a tag's old digest after the tag was re-pushed.
//
// Every engine admits what was promoted and refuses everything else, each for its own
// reason in its own words.
func TestPromotion(t *testing.T) {
	seal := sealCLI(t)
	b := startBed(t, testbed.Distribution)
	iss, root := b.iss, b.root
	dir := t.TempDir()
	rootFile := filepath.Join(dir, "trusted_root.json")
	if err := os.WriteFile(rootFile, root, 0o644); err != nil {
		t.Fatal(err)
	}

	// The promotion key, in a variable only acme's protected refs can read.
	const password = "promotion-0123"
	priv, pub, err := keys.Generate([]byte(password))
	if err != nil {
		t.Fatal(err)
	}
	keyEnv := []string{"COSIGN_PASSWORD=" + password, "PROMOTION_KEY=" + string(priv)}
	evilPriv, _, err := keys.Generate([]byte(password))
	if err != nil {
		t.Fatal(err)
	}
	evilKeyEnv := []string{"COSIGN_PASSWORD=" + password, "PROMOTION_KEY=" + string(evilPriv)}

	// What the promotion job runs: seal promote with the CI preset.
	verifyFlags := func(issuer string, preset ...string) []string {
		return append([]string{"promote", "--trusted-root", rootFile, "--verify-no-tlog", "--certificate-oidc-issuer", issuer,
			"--ref", "main", "--attestation", "slsaprovenance", "--insecure-registry", b.reg.Host, "--no-tlog"}, preset...)
	}
	gitlabPromote := func(env []string, image string) (string, error) {
		return runSeal(t, seal, env, append(verifyFlags(iss.GitLab, "--gitlab-project", "acme-group/app", "--key", "env://PROMOTION_KEY", "--sign"), image)...)
	}
	githubKeyPromote := func(env []string, image string) (string, error) {
		return runSeal(t, seal, env, append(verifyFlags(iss.GitHub, "--github-repo", "acme/app", "--key", "env://PROMOTION_KEY"), image)...)
	}
	// The keyless promotion job: acme/promote's promote.yml on main, a
	// workflow no other repository can call.
	promoteClaims := func(repo string) map[string]any {
		wf := repo + "/.github/workflows/promote.yml@refs/heads/main"
		return testbed.GitHubClaimsWith(repo, map[string]any{"workflow": "promote", "workflow_ref": wf, "job_workflow_ref": wf})
	}
	githubKeylessPromote := func(claims map[string]any, image string) (string, error) {
		env := []string{"GITHUB_ACTIONS=true", "GITHUB_SERVER_URL=https://github.com", "GITHUB_REPOSITORY=" + claims["repository"].(string),
			"GITHUB_SHA=" + claims["sha"].(string), "GITHUB_REF=refs/heads/main", "GITHUB_EVENT_NAME=push", "RUNNER_ENVIRONMENT=github-hosted"}
		args := append(verifyFlags(iss.GitHub, "--github-repo", "acme/app", "--identity-token", iss.Mint(iss.GitHub, claims),
			"--fulcio-url", b.fulcio.URL, "--timestamp-url", b.tsa.TimestampURL()), image)
		return runSeal(t, seal, env, args...)
	}
	mustPromote := func(out string, err error) {
		t.Helper()
		if err != nil || !strings.Contains(out, "attestation "+VSA) {
			t.Fatalf("seal promote: %v, want the summary published:\n%s", err, out)
		}
	}
	refused := func(out string, err error, why string) {
		t.Helper()
		if err == nil || !strings.Contains(out, why) {
			t.Fatalf("seal promote: %v, want it to fail saying %q:\n%s", err, why, out)
		}
		if strings.Contains(out, "wrote ") {
			t.Fatalf("a failed promotion wrote something:\n%s", out)
		}
	}

	// GitLab: acme's build, and evil/app's run of acme's CI file with
	// provenance copied from acme's build.
	glLegit := testbed.GitLabClaims("acme-group/app")
	glEvil := testbed.GitLabClaimsWith("evil/app", map[string]any{"ci_config_ref_uri": "gitlab.com/acme-group/app//.gitlab-ci.yml@refs/heads/main"})
	glGood := b.push("acme-group/app")
	b.build(glGood, iss.GitLab, glLegit, gitlabMD(glLegit), oci.Both)
	glAttack := b.push("acme-group/app")
	b.build(glAttack, iss.GitLab, glEvil, gitlabMD(glLegit), oci.Both)
	glSelf := b.push("acme-group/app") // evil's image with a summary evil signed itself
	b.build(glSelf, iss.GitLab, glEvil, gitlabMD(glEvil), oci.Both)

	// GitHub, bundles only: acme's build, and attacker/x calling acme's
	// release.yml.
	ghLegit := testbed.GitHubClaims("acme/app")
	ghEvil := testbed.GitHubClaimsWith("attacker/x", map[string]any{
		"job_workflow_ref": "acme/app/.github/workflows/release.yml@refs/heads/main",
		"workflow_ref":     "attacker/x/.github/workflows/call.yml@refs/heads/main",
	})
	ghBuild := func(claims map[string]any) string {
		ref := b.push("acme/app")
		b.build(ref, iss.GitHub, claims, githubMD(ghLegit), oci.Bundle)
		return ref
	}
	ghGoodKey, ghGoodKeyless, ghAttack := ghBuild(ghLegit), ghBuild(ghLegit), ghBuild(ghEvil)
	ghSelf := b.push("acme/app") // attacker's image, honest provenance, promoted by attacker
	ghSelfMD := githubMD(ghEvil)
	ghSelfMD.ConfigPath = ".github/workflows/call.yml"
	b.build(ghSelf, iss.GitHub, ghEvil, ghSelfMD, oci.Bundle)
	for _, img := range []string{ghGoodKey, ghAttack} {
		c := b.ociClient()
		for _, k := range []legacy.Kind{legacy.Signature, legacy.Attestation} {
			if ls, err := legacy.Read(context.Background(), c, b.resolve(c, img), k); err != nil || len(ls) != 0 {
				t.Fatalf("the bundle-only build of %s: %d legacy layers, %v; want none", img, len(ls), err)
			}
		}
	}

	// The attack is real: evil's and attacker's certificates verify as
	// acme's CI file and workflow (subject and issuer, which is all the
	// engines check in bundles and of GitLab), and seal verify's
	// preset, which reads the Source Repository extension, refuses them.
	t.Run("attack", func(t *testing.T) {
		trusted, err := sgroot.NewTrustedRootFromJSON(root)
		if err != nil {
			t.Fatal(err)
		}
		v := verify.New(b.ociClient())
		gl, err := identity.FromGitLab("acme-group/app", "", "main", false, false)
		if err != nil {
			t.Fatal(err)
		}
		gl.Issuer = iss.GitLab
		gh, err := identity.FromGitHub("acme/app", "", "main", false)
		if err != nil {
			t.Fatal(err)
		}
		gh.Issuer = iss.GitHub
		for _, c := range []struct {
			name   string
			id     *identity.Identity
			attack string
		}{{"gitlab", &gl, glAttack}, {"github", &gh, ghAttack}} {
			// The signature, as an engine checks it: subject and issuer. (seal verify
			// would also refuse the copied provenance, which names acme's source
			// while the certificate names the attacker's.)
			p := verify.Policy{Identity: rawOf(c.id), Trusted: trusted, RequireSignature: true}
			if _, err := v.Verify(context.Background(), c.attack, p, false); err != nil {
				t.Errorf("%s: the attack does not verify as acme's subject and issuer: %v", c.name, err)
			}
			p.Identity, p.Attestations = c.id, []string{SLSAProvenanceV1}
			if _, err := v.Verify(context.Background(), c.attack, p, false); err == nil || !strings.Contains(err.Error(), "certificate source repository URI is") {
				t.Errorf("%s: seal verify's preset = %v, want the attack refused on its Source Repository URI", c.name, err)
			}
		}
	})
	if t.Failed() {
		return
	}

	// The promotions.
	mustPromote(gitlabPromote(keyEnv, glGood))
	out, err := gitlabPromote(keyEnv, glAttack) // evil's image, were acme's job to run on it
	refused(out, err, "not promoted, nothing signed")
	// evil's own pipeline runs acme's CI file, and its project's CI/CD variables override
	// the job's: it can make the promote job check acme's CI file by subject alone (a raw
	// identity), which its image passes. acme's protected variable is not there, so
	// nothing is signed by the promotion key.
	acmeFile := "https://gitlab.com/acme-group/app//.gitlab-ci.yml@refs/heads/main"
	evilFlags := func(signer ...string) []string {
		return append([]string{"promote", "--trusted-root", rootFile, "--verify-no-tlog", "--certificate-oidc-issuer", iss.GitLab,
			"--certificate-identity", acmeFile, "--attestation", "slsaprovenance", "--insecure-registry", b.reg.Host, "--no-tlog"}, signer...)
	}
	// evil's pipeline builds with honest provenance (Seal writes it from evil's token).
	glEvilPipe := b.push("acme-group/app")
	b.build(glEvilPipe, iss.GitLab, glEvil, gitlabMD(glEvil), oci.Both)
	out, err = runSeal(t, seal, []string{"COSIGN_PASSWORD=" + password}, append(evilFlags("--key", "env://PROMOTION_KEY", "--sign"), glEvilPipe)...)
	refused(out, err, "environment variable PROMOTION_KEY is not set")
	if !strings.Contains(out, "✓ signature") {
		t.Errorf("evil's promotion did not get past its verification, so the key's absence is not what stopped it:\n%s", out)
	}
	// The same pipeline signing keyless gets a certificate whose subject is acme's CI file:
	// why a keyless promotion does not hold on GitLab (seal policy --promotion refuses
	// GitLab identities; a raw identity policy would admit this, as the engines show below).
	glKeyless := b.push("acme-group/app")
	b.build(glKeyless, iss.GitLab, glEvil, gitlabMD(glEvil), oci.Both)
	gitlabEnv := []string{"GITLAB_CI=true", "CI_PROJECT_PATH=evil/app", "CI_COMMIT_SHA=" + glEvil["sha"].(string), "CI_COMMIT_REF_NAME=main",
		"CI_CONFIG_PATH=.gitlab-ci.yml", "CI_JOB_NAME=promote", "CI_PIPELINE_ID=" + glEvil["pipeline_id"].(string), "CI_JOB_ID=" + glEvil["job_id"].(string),
		"SIGSTORE_ID_TOKEN=" + iss.Mint(iss.GitLab, glEvil)}
	out, err = runSeal(t, seal, gitlabEnv, append(evilFlags("--fulcio-url", b.fulcio.URL, "--timestamp-url", b.tsa.TimestampURL()), glKeyless)...)
	mustPromote(out, err)
	if !strings.Contains(out, "a keyless promotion signer on GitLab is not one a foreign project cannot use") {
		t.Errorf("seal promote signed keyless in GitLab CI without the warning:\n%s", out)
	}
	// evil promotes its image with a key of its own, checking acme's CI file by subject.
	mustPromote(runSeal(t, seal, evilKeyEnv, append(evilFlags("--key", "env://PROMOTION_KEY"), glSelf)...))
	mustPromote(githubKeyPromote(keyEnv, ghGoodKey))
	out, err = githubKeyPromote(keyEnv, ghAttack)
	refused(out, err, "not promoted, nothing signed")
	mustPromote(githubKeylessPromote(promoteClaims("acme/promote"), ghGoodKeyless))
	out, err = githubKeylessPromote(promoteClaims("acme/promote"), ghAttack)
	refused(out, err, "not promoted, nothing signed")
	// attacker/x promotes its image keyless from a promote.yml of its own, checking acme's
	// release.yml by subject (which its image passes).
	mustPromote(runSeal(t, seal, []string{"GITHUB_ACTIONS=true", "GITHUB_SERVER_URL=https://github.com", "GITHUB_REPOSITORY=attacker/x",
		"GITHUB_SHA=" + ghEvil["sha"].(string), "GITHUB_REF=refs/heads/main", "GITHUB_EVENT_NAME=push", "RUNNER_ENVIRONMENT=github-hosted"},
		"promote", "--trusted-root", rootFile, "--verify-no-tlog", "--certificate-oidc-issuer", iss.GitHub,
		"--certificate-identity", "https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main", "--attestation", "slsaprovenance",
		"--insecure-registry", b.reg.Host, "--no-tlog", "--identity-token", iss.Mint(iss.GitHub, promoteClaims("attacker/x")),
		"--fulcio-url", b.fulcio.URL, "--timestamp-url", b.tsa.TimestampURL(), ghSelf))

	// Replays: acme's promotion of glGood copied onto an unpromoted image in
	// both formats; a FAILED summary signed by the promotion key (seal
	// verify --vsa, then seal attest --vsa: what seal promote never signs);
	// and the promotion of a tag's old digest, the tag since re-pushed.
	replayed := b.push("acme-group/app")
	for _, f := range []oci.Format{oci.Bundle, oci.Legacy} {
		b.copyAttestation(glGood, replayed, f, VSA)
	}
	failedSigned := b.push("acme-group/app")
	b.build(failedSigned, iss.GitLab, glEvil, gitlabMD(glLegit), oci.Both)
	failedVSA := filepath.Join(dir, "failed.vsa.json")
	if out, err := runSeal(t, seal, nil, "verify", "--trusted-root", rootFile, "--no-tlog", "--certificate-oidc-issuer", iss.GitLab, "--gitlab-project", "acme-group/app",
		"--attestation", "slsaprovenance", "--insecure-registry", b.reg.Host, "--vsa", failedVSA, failedSigned); err == nil || !strings.Contains(out, "FAILED") {
		t.Fatalf("seal verify --vsa of evil's image: %v, want a FAILED summary:\n%s", err, out)
	}
	if out, err := runSeal(t, seal, keyEnv, "attest", "--vsa", failedVSA, "--key", "env://PROMOTION_KEY", "--no-tlog", "--insecure-registry", b.reg.Host, failedSigned); err != nil {
		t.Fatalf("seal attest --vsa FAILED: %v\n%s", err, out)
	}
	retag := b.reg.Repo("acme-group/retag") + ":v1"
	old := b.reg.Repo("acme-group/retag") + "@" + testbed.PushImage(t, retag)
	b.build(old, iss.GitLab, glLegit, gitlabMD(glLegit), oci.Both)
	mustPromote(gitlabPromote(keyEnv, retag))
	repushed := b.reg.Repo("acme-group/retag") + "@" + testbed.PushImage(t, retag)
	b.build(repushed, iss.GitLab, glLegit, gitlabMD(glLegit), oci.Both) // acme's own build, not promoted yet

	// The engines.
	tuf := testbed.StartTUF(t, map[string][]byte{"trusted_root.json": root, "rekor.pub": unusedKey(t), "ctfe.pub": unusedKey(t)})
	kyv := engineRun{"kyverno", Kyverno, func(t *testing.T, policy []byte, image string) (bool, string) {
		return kyvernoAdmitsWith(t, testbed.Bin(t, binKyverno), policy, image, nil, "-v=6")
	}}
	bundleEnv := []string{"TUF_ROOT=" + testbed.StartTUF(t, map[string][]byte{"trusted_root.json": root}).InitCache(t)}
	kyvBundle := engineRun{"kyverno-bundle", Kyverno, func(t *testing.T, policy []byte, image string) (bool, string) {
		return kyvernoAdmitsWith(t, testbed.Bin(t, binKyverno), policy, image, bundleEnv, "-v=6")
	}}
	pcs := b.policyControllerRuns()

	gl, err := identity.FromGitLab("acme-group/app", "", "main", false, false)
	if err != nil {
		t.Fatal(err)
	}
	gl.Issuer = iss.GitLab
	keyless, err := identity.FromGitHub("acme/promote", "promote.yml", "main", false)
	if err != nil {
		t.Fatal(err)
	}
	keyless.Issuer = iss.GitHub
	// Each engine's own words, by case: for an image without the promotion signer's summary,
	// for one whose summary another signer made, for a summary about another digest, for a
	// FAILED summary, and for a tag. Kyverno's rule messages come from its result summary
	// (its ImageValidatingPolicy names the policy's own message; why is in its log at -v=6).
	type whys struct{ noSummary, other, replay, failed, tag string }
	kyvWhys := whys{
		// Kyverno's own spelling: "attestions not found" (no summary its verifier could read).
		noSummary: `image attestations verification failed, verifiedCount: 0, requiredCount: 1, error: (no matching attestations|.*attestions not found for predicate type https://slsa.dev/verification_summary/v1)`,
		other:     `error: no matching attestations: accepted signatures do not match threshold|error: subject mismatch|attestions not found for predicate type https://slsa.dev/verification_summary/v1`,
		replay:    `no matching subject digest found`,
		failed:    `the verification summary must say: verificationResult is PASSED`,
	}
	kyvWhys.tag = kyvWhys.noSummary
	kyvBundleWhys := whys{
		noSummary: `image attestations verification failed, verifiedCount: 0, requiredCount: 1, error: sigstore bundle verification failed: no matching signatures found`,
		replay:    `provided artifact digest does not match any digest in statement`,
		failed:    `the verification summary must say: verificationResult is PASSED`,
	}
	kyvBundleWhys.other, kyvBundleWhys.tag = kyvBundleWhys.noSummary, kyvBundleWhys.noSummary
	ivpWhys := whys{
		noSummary: `every image must be attested with https://slsa.dev/verification_summary/v1`,
		other:     `could not verify envelope: accepted signatures do not match threshold|no matching CertificateIdentity found`,
		replay:    `provided artifact digest does not match any digest in statement`,
		failed:    `every image must be vouched for by a verification summary where verificationResult is PASSED`,
		tag:       `does not have a digest`,
	}
	pcWhys := whys{
		noSummary: `error validating attestations: no matching attestations|failed validAttestationsWithFulcio for authority .*: no matching attestations`,
		other:     `accepted signatures do not match threshold|none of the expected identities matched|no matching CertificateIdentity found`,
		replay:    `no matching subject digest found|provided artifact digest does not match any digest in statement`,
		failed:    badClaim,
	}
	pcWhys.tag = pcWhys.noSummary
	type config struct {
		name string
		e    engineRun
		spec Spec
		why  whys
	}
	var keyed, keylessed []config
	for _, e := range pcs {
		keyed = append(keyed, config{"key-legacy", e, Spec{PublicKey: pub, Format: oci.Legacy}, pcWhys},
			config{"key-bundle-read-as-legacy", e, Spec{PublicKey: pub, Format: oci.Bundle}, pcWhys})
		keylessed = append(keylessed,
			config{"preset-legacy", e, Spec{Identity: &keyless, Format: oci.Legacy, TrustedRoot: root}, pcWhys},
			config{"raw-bundle", e, Spec{Identity: rawOf(&keyless), Format: oci.Bundle, TrustedRoot: root}, pcWhys})
	}
	keyed = append(keyed,
		config{"clusterpolicy-key-legacy", kyv, Spec{PublicKey: pub, Format: oci.Legacy, KyvernoKind: ClusterPolicyKind}, kyvWhys},
		config{"clusterpolicy-key-bundle", kyvBundle, Spec{PublicKey: pub, Format: oci.Bundle, KyvernoKind: ClusterPolicyKind}, kyvBundleWhys},
		config{"ivp-key", kyv, Spec{PublicKey: pub, Format: oci.Legacy, KyvernoKind: ImageValidatingPolicyKind}, ivpWhys})
	keylessed = append(keylessed,
		config{"clusterpolicy-preset-legacy", kyv, Spec{Identity: &keyless, Format: oci.Legacy, TrustedRoot: root, KyvernoKind: ClusterPolicyKind}, kyvWhys},
		config{"clusterpolicy-raw-bundle", kyvBundle, Spec{Identity: rawOf(&keyless), Format: oci.Bundle, KyvernoKind: ClusterPolicyKind}, kyvBundleWhys},
		config{"ivp-raw", kyv, Spec{Identity: rawOf(&keyless), KyvernoKind: ImageValidatingPolicyKind, Format: oci.Legacy, TrustedRoot: root, TUFMirror: tuf.URL, TUFRoot: tuf.RootJSON}, ivpWhys})

	// A case: the image, whether it is admitted, and which of the engine's words refuse it.
	type tc struct {
		name  string
		image string
		want  bool
		why   func(whys) string
	}
	noSummary := func(w whys) string { return w.noSummary }
	other := func(w whys) string { return w.other }
	keyCases := []tc{
		{"gitlab-promoted", glGood, true, nil},
		{"github-bundle-only-promoted", ghGoodKey, true, nil},
		{"gitlab-foreign-project", glAttack, false, noSummary},
		{"gitlab-foreign-pipeline", glEvilPipe, false, noSummary},
		{"gitlab-foreign-self-promoted", glSelf, false, other},
		{"gitlab-foreign-keyless-promoted", glKeyless, false, noSummary},
		{"github-foreign-caller", ghAttack, false, noSummary},
		{"replayed-onto-another-image", replayed, false, func(w whys) string { return w.replay }},
		{"failed-summary", failedSigned, false, func(w whys) string { return w.failed }},
		// By tag: the engines resolve it to the new digest, which no promotion names; Kyverno's
		// ImageValidatingPolicy refuses a reference without a digest outright.
		{"repushed-tag", retag, false, func(w whys) string { return w.tag }},
		{"repushed-tag-old-digest", old, true, nil},
	}
	keylessCases := []tc{
		{"github-bundle-only-promoted", ghGoodKeyless, true, nil},
		{"github-foreign-caller", ghAttack, false, noSummary},
		{"github-foreign-self-promoted", ghSelf, false, other},
		{"gitlab-key-promoted", glGood, false, other},
	}
	run := func(t *testing.T, configs []config, cases []tc) {
		for _, c := range configs {
			c.spec.Images = []string{b.reg.Host + "/**"}
			c.spec.NoTlog = true
			policy, err := GeneratePromotion(c.e.kind, c.spec) // what seal policy --promotion writes
			if err != nil {
				t.Fatalf("%s %s: Generate() = %v", c.e.name, c.name, err)
			}
			for _, tc := range cases {
				v := verdict{tc.image, tc.want, ""}
				if tc.why != nil {
					v.why = tc.why(c.why)
				}
				t.Run(fmt.Sprintf("%s/%s/%s", c.e.name, c.name, tc.name), func(t *testing.T) {
					t.Parallel()
					got, out := c.e.admits(t, policy, v.image)
					t.Logf("admitted=%v: %s", got, lastLines(out, 3))
					v.check(t, got, out, policy)
					if !got && v.why != "" {
						// The engine's own words that the case matched, for the record.
						re := regexp.MustCompile(v.why)
						for _, l := range strings.Split(out, "\n") {
							if m := re.FindString(l); m != "" {
								t.Logf("refused for %q: %.300s", m, strings.TrimSpace(l))
								break
							}
						}
					}
				})
			}
		}
	}
	t.Run("key", func(t *testing.T) { run(t, keyed, keyCases) })
	// Why seal policy --promotion refuses GitLab identities: the policy one would write for a
	// keyless GitLab promotion (acme's CI file by subject and issuer) admits evil's own
	// keyless promotion. If an engine ever refuses it, this notices.
	t.Run("gitlab-keyless-does-not-hold", func(t *testing.T) {
		raw := &identity.Identity{Issuer: iss.GitLab, Subject: acmeFile}
		if _, err := GeneratePromotion(PolicyController, Spec{Images: []string{b.reg.Host + "/**"}, Identity: &gl, Format: oci.Bundle, NoTlog: true, TrustedRoot: root}); err == nil {
			t.Errorf("GeneratePromotion() wrote a policy for a GitLab keyless promotion")
		}
		for _, e := range append([]engineRun{kyvBundle}, pcs...) {
			spec := Spec{Images: []string{b.reg.Host + "/**"}, Identity: raw, Format: oci.Bundle, NoTlog: true, KyvernoKind: ClusterPolicyKind}
			if e.kind == PolicyController {
				spec.TrustedRoot, spec.KyvernoKind = root, ""
			}
			policy, err := GeneratePromotion(e.kind, spec)
			if err != nil {
				t.Fatal(err)
			}
			t.Run(e.name, func(t *testing.T) {
				t.Parallel()
				got, out := e.admits(t, policy, glKeyless)
				t.Logf("admitted=%v: %s", got, lastLines(out, 3))
				if !got {
					t.Errorf("%s refused evil's keyless promotion under acme's CI file's subject: a GitLab keyless promotion policy could be written\n%s", e.name, out)
				}
			})
		}
	})
	t.Run("github-keyless", func(t *testing.T) { run(t, keylessed, keylessCases) })

	// Flux: the key in the Secret of seal policy flux's OCIRepository, checked by Flux
	// source-controller's own cosign verifier (v1.8.5, through .ci/flux-verify). It accepts any
	// bundle (or, without bundles, any .sig signature) the key made about the digest, and reads
	// no content: a FAILED summary signed by the promotion key passes, which seal promote never
	// signs (the header and Known limits say so).
	t.Run("flux", func(t *testing.T) {
		flux := testbed.Bin(t, binFluxVerify)
		doc, err := GenerateFlux(FluxSpec{Image: b.reg.Repo("acme-group/app"), PublicKey: pub})
		if err != nil {
			t.Fatal(err)
		}
		var key string
		for _, d := range decodeAll(t, doc) {
			if sd, ok := d["stringData"].(map[string]any); ok {
				key, _ = sd["promotion.pub"].(string)
			}
		}
		if key == "" {
			t.Fatalf("no promotion.pub in the policy's Secret:\n%s", doc)
		}
		keyFile := filepath.Join(t.TempDir(), "promotion.pub")
		if err := os.WriteFile(keyFile, []byte(key), 0o644); err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			name, image string
			want        bool
		}{
			{"gitlab-promoted", glGood, true},
			{"github-bundle-only-promoted-summary-alone", ghGoodKey, true},
			{"gitlab-foreign-project", glAttack, false},
			{"gitlab-foreign-self-promoted", glSelf, false},
			{"github-foreign-caller", ghAttack, false},
			{"replayed-onto-another-image", replayed, false},
			{"failed-summary-signed-by-the-key", failedSigned, true},
		} {
			t.Run(c.name, func(t *testing.T) {
				cmd := exec.Command(flux, "-insecure", "-key", keyFile, "-image", c.image)
				cmd.Env = append(os.Environ(), "HOME="+t.TempDir(), "TUF_ROOT="+t.TempDir())
				out, err := cmd.CombinedOutput()
				t.Logf("flux: %v: %s", err, lastLines(string(out), 2))
				if got := err == nil && strings.Contains(string(out), "result: verified"); got != c.want {
					t.Errorf("Flux's verifier verified = %v, want %v:\n%s", got, c.want, out)
				}
				if !c.want && !strings.Contains(string(out), "result: unverified") {
					t.Errorf("Flux's verifier did not refuse with its own result:\n%s", out)
				}
			})
		}
	})
}
