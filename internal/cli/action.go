package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/sethvargo/go-githubactions"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/sealsign/seal/internal/action"
	"github.com/sealsign/seal/internal/cli/options"
	"github.com/sealsign/seal/internal/predicate"
	"github.com/sealsign/seal/internal/provenance"
	"github.com/sealsign/seal/internal/publish"
	"github.com/sealsign/seal/internal/subject"
)

// actionVerbs are the steps `seal action` runs; "all" is the root action.yml.
var actionVerbs = []string{"sign", "attest", "provenance", "verify", "all"}

// actionFlags are what the packaging passes on the command line rather than as inputs.
type actionFlags struct {
	// dotenv is a GitLab dotenv report to write outputs to.
	dotenv string
	// summaryFile receives the Markdown summary (GitLab has no step summary).
	summaryFile string
	// requireDigest refuses an image not pinned by digest.
	requireDigest bool
}

func (a *app) newAction() *cobra.Command {
	f := &actionFlags{}
	cmd := &cobra.Command{
		Use:   "action sign|attest|provenance|verify|all",
		Short: "Run as a CI step: inputs from INPUT_* variables, outputs to the runner",
		Long: `The entry point of Seal's GitHub Action (action.yml, actions/*) and GitLab components
(templates/*). Inputs come from INPUT_<NAME> variables; the verb runs the same code as
seal sign, attest and verify; outputs go to $GITHUB_OUTPUT and --dotenv, a summary with the
commands that verify the result to $GITHUB_STEP_SUMMARY and --summary-file.`,
		Hidden:    true,
		Args:      cobra.ExactArgs(1),
		ValidArgs: actionVerbs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if !slices.Contains(actionVerbs, args[0]) {
				return usagef("unknown step %q: want one of %s", args[0], strings.Join(actionVerbs, ", "))
			}
			return a.runAction(cmd, args[0], f)
		},
	}
	cmd.Flags().StringVar(&f.dotenv, "dotenv", "", "also write the outputs to this GitLab dotenv report")
	cmd.Flags().StringVar(&f.summaryFile, "summary-file", "", "also write the Markdown summary to this file")
	cmd.Flags().BoolVar(&f.requireDigest, "require-digest", false, "refuse an image that is not pinned by digest")
	return cmd
}

// actionPlan is what a step will run, decided from its inputs alone.
type actionPlan struct {
	// args run a normal verb (seal sign/attest/verify ...).
	args []string
	// image is the image reference, "" for files.
	image string
	// files: the child lists bundle files ({"bundles": [...]}) instead of registry items.
	files bool
	// offline attests an image's digest without the registry (push-to-registry: false).
	offline bool
	// outDir receives bundles and reports.
	outDir string
	// key is the signing key reference, "" for keyless; never key material.
	key string
	// keyMaterial is the key input's value when it is the key itself, which the step reads
	// through key (env://INPUT_KEY) and masks.
	keyMaterial string
	// tlog is auto, true or false.
	tlog string
	// custom: a private Sigstore instance signs.
	custom bool
	// githubAttestations is auto, true or false.
	githubAttestations string
	// summary writes the job summary.
	summary bool
	// notes are warnings for the log.
	notes []string
}

// planAction turns a step's inputs into the seal command line it runs.
func planAction(verb string, in action.Inputs, getenv func(string) string, requireDigest bool) (*actionPlan, error) {
	p := &actionPlan{}
	var err error
	if p.image, err = in.Image(); err != nil {
		return nil, &usageError{err}
	}
	paths := in.Lines("subject-path")
	switch {
	case p.image != "" && len(paths) > 0:
		return nil, usagef("give the image input or subject-path, not both")
	case p.image == "" && (len(paths) == 0 || verb == "sign" || verb == "verify"):
		return nil, usagef("input image is required: the image to %s, as NAME@sha256:HEX (or NAME with the digest input)", verbGoal(verb))
	case p.image != "" && requireDigest && !action.PinnedByDigest(p.image):
		return nil, usagef("input image %q is not pinned by digest: give NAME@sha256:HEX, the digest the build pushed (a tag can be moved between the build and this job)", p.image)
	}
	if p.summary, err = in.Bool("summary", true); err != nil {
		return nil, &usageError{err}
	}
	p.outDir = in.String("output-dir")
	if p.outDir == "" {
		p.outDir = "seal"
	}
	recursive, err := in.Bool("recursive", false)
	if err != nil {
		return nil, &usageError{err}
	}
	var registry []string
	for _, h := range in.List("insecure-registry") {
		registry = append(registry, "--insecure-registry", h)
	}
	if verb == "verify" {
		return planVerify(p, in, getenv, recursive, registry)
	}

	// What to write.
	sign, err := in.Bool("sign", verb == "all")
	if err != nil {
		return nil, &usageError{err}
	}
	prov, err := in.Bool("provenance", verb == "all" || verb == "provenance")
	if err != nil {
		return nil, &usageError{err}
	}
	var preds []string
	if verb == "sign" {
		sign, prov = true, false
	} else {
		if verb == "provenance" {
			prov = true
		}
		preds, err = predicateArgs(in)
		if err != nil {
			return nil, err
		}
		if v := in.String("slsa-version"); v != "" {
			preds = append(preds, "--slsa-version", v)
		}
	}
	push, err := in.Bool("push-to-registry", true)
	if err != nil {
		return nil, &usageError{err}
	}

	// How to sign.
	var signing []string
	p.key, p.keyMaterial = keyRef(in)
	if p.key != "" {
		signing = append(signing, "--key", p.key)
	}
	for _, f := range []struct{ input, flag string }{
		{"fulcio-url", "--fulcio-url"}, {"rekor-url", "--rekor-url"}, {"rekor-version", "--rekor-version"}, {"timestamp-url", "--timestamp-url"}, {"signing-config", "--signing-config"}, {"sigstore", "--sigstore"},
	} {
		if v := in.String(f.input); v != "" && !(f.input == "sigstore" && v == "public-good") {
			signing = append(signing, f.flag, v)
			p.custom = true
		}
	}
	if p.tlog, err = in.Choice("tlog", "auto", "auto", "true", "false"); err != nil {
		return nil, &usageError{err}
	}
	switch p.tlog {
	case "true":
		signing = append(signing, "--tlog")
	case "false":
		signing = append(signing, "--no-tlog")
	}
	if ts, err := in.Bool("timestamp", true); err != nil {
		return nil, &usageError{err}
	} else if !ts {
		signing = append(signing, "--no-timestamp")
	}
	if v := in.String("audience"); v != "" {
		signing = append(signing, "--audience", v)
	}
	if p.githubAttestations, err = in.Choice("github-attestations", "auto", "auto", "true", "false"); err != nil {
		return nil, &usageError{err}
	}

	switch {
	case len(paths) > 0:
		p.files = true
		if sign && verb != "all" {
			return nil, usagef("input sign applies to images: files get attestations only")
		}
		p.args = []string{"attest"}
		for _, g := range paths {
			p.args = append(p.args, "--subject-path", g)
		}
	case !push:
		if !action.PinnedByDigest(p.image) {
			return nil, usagef("push-to-registry is false, so the registry is not read: give the image by digest (NAME@sha256:HEX, or the digest input)")
		}
		if sign {
			p.notes = append(p.notes, "push-to-registry is false: the image signature is not written (it lives in the registry); attestations are written as bundle files")
		}
		p.offline = true
		p.args = []string{"attest"}
	case verb == "sign":
		p.args = []string{"sign"}
	default:
		p.args = []string{"attest"}
		if sign {
			p.args = append(p.args, "--sign")
		}
	}
	if p.args[0] == "attest" {
		if prov {
			p.args = append(p.args, "--provenance")
		}
		p.args = append(p.args, preds...)
		if !prov && len(preds) == 0 && !slices.Contains(p.args, "--sign") {
			return nil, usagef("nothing to %s: set provenance: true, or give sbom or predicate", verbGoal(verb))
		}
	}
	if !p.files && !p.offline {
		if f, err := in.Choice("format", "both", "both", "bundle", "legacy"); err != nil {
			return nil, &usageError{err}
		} else {
			p.args = append(p.args, "--format", f)
		}
		if recursive {
			p.args = append(p.args, "--recursive")
		}
		p.args = append(p.args, registry...)
	}
	p.args = append(p.args, signing...)
	p.args = append(p.args, "--output-dir", p.outDir, "--json")
	if p.image != "" && !p.offline {
		p.args = append(p.args, p.image)
	}
	return p, nil
}

// keyRef is the --key reference of the key input. A key given as the input's value itself
// (key: ${{ secrets.COSIGN_PRIVATE_KEY }}) is read by reference from the variable the runner
// put it in, so that it never stands on a command line or in a log; it is returned as material
// too, for masking.
func keyRef(in action.Inputs) (ref, material string) {
	v := in.String("key")
	if !action.IsKeyMaterial(v) {
		return v, ""
	}
	return "env://" + in.Var("key"), v
}

func verbGoal(verb string) string {
	switch verb {
	case "sign":
		return "sign"
	case "verify":
		return "verify"
	}
	return "attest"
}

// predicateArgs are the --predicate/--type pairs of the sbom and predicate inputs.
func predicateArgs(in action.Inputs) ([]string, error) {
	var args []string
	var types []string
	if sbom := in.String("sbom"); sbom != "" {
		args = append(args, "--predicate", sbom)
		types = append(types, in.String("sbom-type"))
	} else if in.String("sbom-type") != "" {
		return nil, usagef("input sbom-type is set but sbom is not: give the SBOM file")
	}
	files, ptypes := in.Lines("predicate"), in.List("predicate-type")
	if len(ptypes) > len(files) {
		return nil, usagef("%d predicate-type entries for %d predicate files: give one type per file, in order", len(ptypes), len(files))
	}
	for i, f := range files {
		args = append(args, "--predicate", f)
		t := ""
		if i < len(ptypes) {
			t = ptypes[i]
		}
		types = append(types, t)
	}
	// seal attest pairs --type flags with --predicate flags by position, so a detected type
	// can only be left out at the end.
	last := len(types)
	for last > 0 && types[last-1] == "" {
		last--
	}
	for i, t := range types[:last] {
		if t == "" {
			return nil, usagef("predicate %d has no type while a later one has: give sbom-type/predicate-type for every file, or only for the last ones", i+1)
		}
		args = append(args, "--type", t)
	}
	return args, nil
}

func planVerify(p *actionPlan, in action.Inputs, getenv func(string) string, recursive bool, registry []string) (*actionPlan, error) {
	p.args = []string{"verify", p.image, "--json"}
	pinned := false
	// A public key is no secret, but a PEM has no place on a command line either.
	if ref, _ := keyRef(in); ref != "" {
		p.args = append(p.args, "--key", ref)
		pinned = true
	}
	for _, f := range []struct{ input, flag string }{
		{"github-repo", "--github-repo"}, {"github-workflow", "--github-workflow"},
		{"gitlab-project", "--gitlab-project"}, {"gitlab-host", "--gitlab-host"}, {"ref", "--ref"},
		{"certificate-identity", "--certificate-identity"}, {"certificate-identity-regexp", "--certificate-identity-regexp"},
		{"certificate-oidc-issuer", "--certificate-oidc-issuer"}, {"certificate-oidc-issuer-regexp", "--certificate-oidc-issuer-regexp"},
		{"trusted-root", "--trusted-root"},
		{"builder-id", "--builder-id"}, {"source-repo", "--source-repo"}, {"source-ref", "--source-ref"},
	} {
		if v := in.String(f.input); v != "" {
			p.args = append(p.args, f.flag, v)
			switch f.input {
			case "github-repo", "gitlab-project", "certificate-identity", "certificate-identity-regexp":
				pinned = true
			}
		}
	}
	if !pinned {
		// Nobody named a signer: expect this repository's own CI, the common case of a
		// deployment job checking what the release job signed.
		switch {
		case getenv("GITHUB_ACTIONS") == "true" && getenv("GITHUB_REPOSITORY") != "":
			p.args = append(p.args, "--github-repo", getenv("GITHUB_REPOSITORY"))
		case getenv("GITLAB_CI") == "true" && getenv("CI_PROJECT_PATH") != "":
			p.args = append(p.args, "--gitlab-project", getenv("CI_PROJECT_PATH"))
			if h := getenv("CI_SERVER_HOST"); h != "" && in.String("gitlab-host") == "" {
				p.args = append(p.args, "--gitlab-host", h)
			}
		default:
			return nil, usagef("say who must have signed: key, certificate-identity, github-repo or gitlab-project")
		}
	}
	for _, t := range in.List("attestations") {
		p.args = append(p.args, "--attestation", t)
	}
	if sig, err := in.Bool("signature", true); err != nil {
		return nil, &usageError{err}
	} else if !sig {
		p.args = append(p.args, "--no-signature")
	}
	for _, f := range []struct{ input, flag string }{
		{"protected-ref-only", "--protected-ref-only"}, {"hosted-runners-only", "--hosted-runners-only"},
	} {
		if on, err := in.Bool(f.input, false); err != nil {
			return nil, &usageError{err}
		} else if on {
			p.args = append(p.args, f.flag)
		}
	}
	if tlog, err := in.Choice("tlog", "auto", "auto", "true", "false"); err != nil {
		return nil, &usageError{err}
	} else if tlog == "false" {
		p.args = append(p.args, "--no-tlog")
	}
	if recursive {
		p.args = append(p.args, "--recursive")
	}
	p.args = append(p.args, registry...)
	return p, nil
}

// runAction runs one step: plan, run the verb, then report to the runner.
func (a *app) runAction(cmd *cobra.Command, verb string, f *actionFlags) error {
	ctx := cmd.Context()
	in := action.NewInputs(a.getenv)
	p, err := planAction(verb, in, a.getenv, f.requireDigest)
	if err != nil {
		return err
	}
	if p.keyMaterial != "" {
		// GitHub masks a secret line by line: a multi-line value masked whole would leave
		// its lines in the log.
		for _, l := range strings.Split(p.keyMaterial, "\n") {
			if l = strings.TrimSpace(l); len(l) >= 8 && !strings.HasPrefix(l, "-----") {
				a.mask(l)
			}
		}
		a.mask(p.keyMaterial)
	}
	for _, n := range p.notes {
		a.log.Warn(n)
	}
	if err := os.MkdirAll(p.outDir, 0o755); err != nil {
		return fmt.Errorf("creating output directory: %w", err)
	}
	res := &action.Result{Verb: verb, Key: p.key, KeyFromInput: p.keyMaterial != "", CustomSigstore: p.custom}
	a.log.Info("running", "command", a.redact(loggedCommand(p.args)))
	switch {
	case verb == "verify":
		out, err := a.runChild(ctx, p.args)
		if err != nil {
			return err
		}
		res.ResultPath = filepath.Join(p.outDir, "verification.json")
		if err := a.writeOutput(res.ResultPath, out); err != nil {
			return err
		}
		var rep struct {
			Image    string           `json:"image"`
			Findings []action.Finding `json:"findings"`
		}
		if err := json.Unmarshal(out, &rep); err != nil {
			return fmt.Errorf("reading seal verify's report: %w", err)
		}
		res.Image, res.Findings = rep.Image, rep.Findings
		if res.Image == "" {
			res.Image = p.image
		}
	case p.offline:
		if res.Files, err = a.attestOffline(cmd, p); err != nil {
			return err
		}
		res.Image = p.image
	default:
		out, err := a.runChild(ctx, p.args)
		if err != nil {
			return err
		}
		if err := decodeChild(out, p.files, res); err != nil {
			return err
		}
	}
	if verb != "verify" {
		a.inspectBundles(res, p)
		if err := a.storeOnGitHub(ctx, in, p, res); err != nil {
			return err
		}
	}
	return a.report(res, p, f)
}

// loggedCommand is the command line a step runs, as the log shows it: no value that looks
// like key material, and URLs without user information or query (where a password or a token
// could stand). Key material never reaches args (keyRef); this guards the log anyway.
func loggedCommand(args []string) string {
	out := []string{"seal"}
	for _, arg := range args {
		switch {
		case action.IsKeyMaterial(arg):
			arg = "(redacted)"
		case strings.Contains(arg, "://"):
			if u, err := url.Parse(arg); err == nil && (u.User != nil || u.RawQuery != "" || u.Fragment != "") {
				if u.User != nil {
					u.User = url.User("redacted")
				}
				if u.RawQuery != "" {
					u.RawQuery = "redacted"
				}
				u.Fragment = ""
				arg = u.String()
			} else if err != nil {
				arg = "(redacted)"
			}
		}
		out = append(out, arg)
	}
	return strings.Join(out, " ")
}

// runChild runs a normal verb with args in a fresh app whose stdout is captured: the step
// runs exactly what a user typing the command would.
func (a *app) runChild(ctx context.Context, args []string) ([]byte, error) {
	var out bytes.Buffer
	child := &app{stdout: &out, stderr: a.stderr, lookupEnv: a.lookupEnv}
	root := child.newRoot()
	root.SetArgs(args)
	root.SetOut(&out)
	root.SetErr(a.stderr)
	err := root.ExecuteContext(ctx)
	a.masks = append(a.masks, child.masks...)
	return out.Bytes(), err
}

// decodeChild reads what `seal sign|attest --json` printed.
func decodeChild(out []byte, files bool, res *action.Result) error {
	if files {
		var r struct {
			Bundles []action.FileBundle `json:"bundles"`
		}
		if err := json.Unmarshal(out, &r); err != nil {
			return fmt.Errorf("reading seal attest's report: %w", err)
		}
		res.Files = r.Bundles
		return nil
	}
	var r struct {
		Image  string         `json:"image"`
		Digest string         `json:"digest"`
		Tag    string         `json:"tag"`
		Items  []publish.Item `json:"items"`
	}
	if err := json.Unmarshal(out, &r); err != nil {
		return fmt.Errorf("reading seal's report: %w", err)
	}
	res.Image, res.Tag, res.Items = r.Image, r.Tag, r.Items
	if !strings.Contains(res.Image, "@") && r.Digest != "" {
		res.Image = action.Repository(res.Image) + "@" + r.Digest
	}
	return nil
}

// inspectBundles reads the signer's identity and the transparency log entries from the
// bundles just written: the certificate is the truth about who signed (a reusable workflow,
// not the caller, for instance).
func (a *app) inspectBundles(res *action.Result, p *actionPlan) {
	bundles := res.Bundles()
	for _, b := range bundles {
		id, tlog, err := action.BundleInfo(b)
		if err != nil && !errors.Is(err, action.ErrNoCertificate) {
			a.log.Warn("reading a bundle for the summary", "bundle", b, "error", err)
			continue
		}
		res.Identity, res.Tlog = id, tlog
		return
	}
	// Legacy format only: no bundle to read; say what Seal decided.
	res.Tlog = p.tlog == "true" || (p.tlog == "auto" && a.publicRepository())
}

// publicRepository repeats Seal's transparency log rule: public repositories upload.
func (a *app) publicRepository() bool {
	if v := a.getenv("CI_PROJECT_VISIBILITY"); v != "" {
		return v == "public"
	}
	b, err := os.ReadFile(a.getenv("GITHUB_EVENT_PATH"))
	if err != nil {
		return false
	}
	var ev struct {
		Repository struct {
			Visibility string `json:"visibility"`
		} `json:"repository"`
	}
	return json.Unmarshal(b, &ev) == nil && ev.Repository.Visibility == "public"
}

// storeOnGitHub stores attestation bundles in the repository's attestations. In auto mode
// only keyless bundles are stored (GitHub verifies certificates, not keys), and a refusal is
// a warning: the attestations are in the registry anyway.
func (a *app) storeOnGitHub(ctx context.Context, in action.Inputs, p *actionPlan, res *action.Result) error {
	if p.githubAttestations == "false" || a.getenv("GITHUB_ACTIONS") != "true" {
		return nil
	}
	if p.githubAttestations == "auto" && res.Identity == nil {
		return nil
	}
	type candidate struct{ path, ptype string }
	var cs []candidate
	for _, it := range res.Items {
		if it.Kind == "attestation" && it.BundlePath != "" {
			cs = append(cs, candidate{it.BundlePath, it.PredicateType})
		}
	}
	for _, f := range res.Files {
		cs = append(cs, candidate{f.Bundle, f.PredicateType})
	}
	tok := in.String("github-token")
	if tok == "" {
		tok = a.getenv("GITHUB_TOKEN")
	}
	a.mask(tok)
	store := action.GitHubStore{
		APIURL: a.getenv("GITHUB_API_URL"), ServerURL: a.getenv("GITHUB_SERVER_URL"),
		Repository: a.getenv("GITHUB_REPOSITORY"), Token: tok,
	}
	for _, c := range cs {
		b, err := os.ReadFile(c.path)
		if err != nil {
			return fmt.Errorf("reading bundle: %w", err)
		}
		id, url, err := store.Store(ctx, b)
		if err != nil {
			if p.githubAttestations == "auto" {
				a.log.Warn("not stored in GitHub's attestations (set github-attestations: false to stop trying)", "error", a.redact(err.Error()))
				return nil
			}
			return err
		}
		res.Stored = append(res.Stored, action.Stored{Bundle: c.path, PredicateType: c.ptype, ID: id, URL: url})
		a.log.Info("stored in GitHub's attestations", "url", url)
	}
	return nil
}

// report hands outputs and summary to the runner: $GITHUB_OUTPUT and $GITHUB_STEP_SUMMARY
// on GitHub, --dotenv and --summary-file elsewhere, the job log always.
func (a *app) report(res *action.Result, p *actionPlan, f *actionFlags) (err error) {
	outs := res.Outputs()
	summary := res.Summary()
	gha := githubactions.New(githubactions.WithGetenv(a.getenv), githubactions.WithWriter(a.stderr))
	// go-githubactions panics when a file command cannot be written.
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("writing step outputs: %v", r)
		}
	}()
	if a.getenv("GITHUB_OUTPUT") != "" {
		for _, o := range outs {
			gha.SetOutput(o.Name, o.Value)
		}
	}
	if p.summary && a.getenv("GITHUB_STEP_SUMMARY") != "" {
		gha.AddStepSummary(summary)
	}
	if f.dotenv != "" {
		if err := action.WriteDotenv(f.dotenv, outs); err != nil {
			return err
		}
	}
	if f.summaryFile != "" {
		if err := a.writeOutput(f.summaryFile, []byte(summary)); err != nil {
			return err
		}
	}
	if !a.inGitHubActions() {
		// No summary page: the job log is where the user looks.
		fmt.Fprintf(a.stderr, "\n%s\n", summary)
	}
	for _, o := range outs {
		a.log.Debug("output", "name", o.Name, "value", o.Value)
	}
	return nil
}

// attestOffline signs attestations about an image's digest without reading or writing the
// registry (push-to-registry: false), writing bundle files as `seal attest --subject-path`
// does for files. It parses the planned command line with the attest verb's own flags.
func (a *app) attestOffline(cmd *cobra.Command, p *actionPlan) ([]action.FileBundle, error) {
	ctx := cmd.Context()
	o := &options.Attest{}
	fs := pflag.NewFlagSet("attest", pflag.ContinueOnError)
	o.AddFlags(fs)
	if err := fs.Parse(p.args[1:]); err != nil {
		return nil, &usageError{err}
	}
	sub, err := subject.Parse(p.image)
	if err != nil {
		return nil, &usageError{err}
	}
	ver, err := provenance.ParseVersion(o.SLSAVersion)
	if err != nil {
		return nil, &usageError{err}
	}
	var atts []publish.Attestation
	for i, path := range o.Predicates {
		typ := ""
		if i < len(o.Types) {
			typ = o.Types[i]
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("reading predicate: %w", err)
		}
		d, err := predicate.Parse(b, typ, time.Now())
		if err != nil {
			return nil, fmt.Errorf("predicate %s: %w", path, err)
		}
		atts = append(atts, publish.Predicate{Type: d.Type, JSON: d.JSON})
	}
	prov, err := a.provider(o.Token)
	if err != nil {
		return nil, err
	}
	md, tok, err := a.metadata(cmd, prov, o.Token)
	if err != nil {
		return nil, err
	}
	if o.Provenance {
		atts = append([]publish.Attestation{publish.Provenance{Metadata: md, Version: ver, FinishedOn: time.Now()}}, atts...)
	}
	signer, err := a.buildSigner(ctx, o.Signing, md, tok)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(o.OutputDir, 0o755); err != nil {
		return nil, fmt.Errorf("creating output directory: %w", err)
	}
	_, dig, _ := strings.Cut(p.image, "@")
	var out []action.FileBundle
	for _, at := range atts {
		st, err := at.Statement(sub)
		if err != nil {
			return nil, err
		}
		r, err := signer.SignDSSE(ctx, predicate.InTotoPayloadType, st)
		if err != nil {
			return nil, err
		}
		path := filepath.Join(o.OutputDir, strings.ReplaceAll(dig, ":", "-")+"."+shortType(at.PredicateType())+".sigstore.json")
		if err := a.writeOutput(path, r.JSON); err != nil {
			return nil, err
		}
		out = append(out, action.FileBundle{Subject: p.image, PredicateType: at.PredicateType(), Bundle: path})
		fmt.Fprintf(a.stderr, "attested %s (%s) -> %s\n", p.image, at.PredicateType(), path)
	}
	return out, nil
}
