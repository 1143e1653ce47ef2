package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/sethvargo/go-githubactions"
	"github.com/spf13/cobra"

	"github.com/sealsign/seal/internal/action"
	"github.com/sealsign/seal/internal/limits"
	"github.com/sealsign/seal/internal/publish"
)

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
		ValidArgs: action.Steps,
		RunE: func(cmd *cobra.Command, args []string) error {
			if !slices.Contains(action.Steps, args[0]) {
				return usagef("unknown step %q: want one of %s", args[0], strings.Join(action.Steps, ", "))
			}
			return a.runAction(cmd.Context(), args[0], f)
		},
	}
	cmd.Flags().StringVar(&f.dotenv, "dotenv", "", "also write the outputs to this GitLab dotenv report")
	cmd.Flags().StringVar(&f.summaryFile, "summary-file", "", "also write the Markdown summary to this file")
	cmd.Flags().BoolVar(&f.requireDigest, "require-digest", false, "refuse an image that is not pinned by digest")
	return cmd
}

// runAction runs one step: plan it from its inputs, run the verb's own code with the planned
// options, then report to the runner.
func (a *app) runAction(ctx context.Context, step string, f *actionFlags) (err error) {
	p, err := action.NewPlan(step, action.NewInputs(a.getenv), a.getenv, f.requireDigest)
	if errors.Is(err, action.ErrInput) {
		return &usageError{err}
	} else if err != nil {
		return err
	}
	// The timeout input bounds the whole step: the verb, and storing in GitHub after it.
	ctx, done := deadline(ctx, p.Timeout)
	defer done(&err)
	for _, s := range p.Secrets() {
		a.mask(s)
	}
	for _, n := range p.Notes {
		a.log.Warn(n)
	}
	if err := os.MkdirAll(p.OutputDir, 0o755); err != nil {
		return fmt.Errorf("creating output directory: %w", err)
	}
	for _, f := range p.Inline {
		if err := os.WriteFile(f.Path, []byte(f.Content), 0o600); err != nil {
			return fmt.Errorf("writing an input to %s: %w", f.Path, err)
		}
	}
	res := &action.Result{Verb: step, Key: p.Key(), KeyFromInput: p.KeyMaterial != "", CustomSigstore: p.CustomSigstore}
	a.log.Info("running", "command", a.redact(p.Command()))
	// published is what was pushed next to the image, for its storage records.
	var published *publish.Report
	var insecure []string
	switch {
	case p.Verify != nil:
		v, err := a.runVerify(ctx, []string{p.Image}, p.Verify, p.GitHubToken)
		a.printVerified(v, false)
		if err != nil {
			return err
		}
		for _, d := range v.Deployments {
			res.DeploymentRecords = append(res.DeploymentRecords, action.Record{Image: d.Image, IDs: d.IDs, Environment: d.Environment})
		}
		res.ResultPath = filepath.Join(p.OutputDir, "verification.json")
		if err := a.writeOutput(res.ResultPath, verifyJSON(v.Results)); err != nil {
			return err
		}
		res.Image, res.Findings = v.Results[0].Image, v.Results[0].Findings
	case p.Attest == nil && p.Promote != nil:
		if err := a.actionPromote(ctx, p, res); err != nil {
			return err
		}
	case p.Sign != nil:
		rep, err := a.runSign(ctx, p.Image, p.Sign)
		a.summarize(rep, false)
		if err != nil {
			return err
		}
		res.AddPublished(rep)
		published, insecure = rep, p.Sign.Insecure
	default:
		out, err := a.runAttest(ctx, p.Image, p.Attest)
		a.printAttested(out, false)
		if err != nil {
			return err
		}
		if out.Report != nil {
			res.AddPublished(out.Report)
			published, insecure = out.Report, p.Attest.Insecure
		} else {
			for _, f := range out.Files {
				res.Files = append(res.Files, action.FileBundle{Subject: f.Subject, PredicateType: f.PredicateType, Bundle: f.Bundle})
			}
			if p.Attest.NoUpload {
				res.Image = p.Image
			}
		}
		if p.Promote != nil {
			// The all step's promotion: the digest just signed and attested.
			if err := a.actionPromote(ctx, p, res); err != nil {
				return err
			}
		}
	}
	if step != "verify" {
		for _, err := range res.ReadSigner() {
			a.log.Warn("reading a bundle for the summary", "error", err)
		}
		if err := a.storeOnGitHub(ctx, p, res); err != nil {
			return err
		}
		if a.storageRecordWanted(p, res, published) {
			recs, err := a.storageRecords(ctx, published, insecure, p.GitHubToken, p.StorageRecord == "true")
			for _, r := range recs {
				res.StorageRecords = append(res.StorageRecords, action.Record{Image: r.Image, IDs: r.IDs})
			}
			if err != nil {
				return err
			}
		}
	}
	return a.report(res, p, f)
}

// storageRecordWanted says whether the step records where the images it pushed live, as
// actions/attest does after pushing: create-storage-record true, or auto (the default) when the
// step uses GitHub's attestations API (github-attestations true, or auto with a keyless
// signer).
func (a *app) storageRecordWanted(p *action.Plan, res *action.Result, published *publish.Report) bool {
	switch {
	case published == nil || p.StorageRecord == "false" || !a.inGitHubActions():
		return false
	case p.StorageRecord == "true":
		return true
	}
	return p.GitHubAttestations == "true" || p.GitHubAttestations == "auto" && res.Identity != nil
}

// storeOnGitHub stores attestation bundles in the repository's attestations. In auto mode
// only keyless bundles are stored (GitHub verifies certificates, not keys), and a refusal is
// a warning: the attestations are in the registry anyway.
func (a *app) storeOnGitHub(ctx context.Context, p *action.Plan, res *action.Result) error {
	if p.GitHubAttestations == "false" || a.getenv("GITHUB_ACTIONS") != "true" {
		return nil
	}
	if p.GitHubAttestations == "auto" && res.Identity == nil {
		return nil
	}
	a.mask(p.GitHubToken)
	store := action.GitHubStore{
		APIURL: a.getenv("GITHUB_API_URL"), ServerURL: a.getenv("GITHUB_SERVER_URL"),
		Repository: a.getenv("GITHUB_REPOSITORY"), Token: p.GitHubToken,
	}
	for _, c := range res.Attestations() {
		b, err := limits.ReadFile("bundle", c.Bundle, limits.Document, nil)
		if err != nil {
			return err
		}
		id, url, err := store.Store(ctx, b)
		if err != nil {
			if p.GitHubAttestations == "auto" {
				a.log.Warn("not stored in GitHub's attestations (set github-attestations: false to stop trying)", "error", a.redact(err.Error()))
				return nil
			}
			return err
		}
		res.Stored = append(res.Stored, action.Stored{Bundle: c.Bundle, PredicateType: c.PredicateType, ID: id, URL: url})
		a.log.Info("stored in GitHub's attestations", "url", url)
	}
	return nil
}

// report hands outputs and summary to the runner: $GITHUB_OUTPUT and $GITHUB_STEP_SUMMARY
// on GitHub, --dotenv and --summary-file elsewhere, the job log always.
func (a *app) report(res *action.Result, p *action.Plan, f *actionFlags) (err error) {
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
	if p.Summary && a.getenv("GITHUB_STEP_SUMMARY") != "" {
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
