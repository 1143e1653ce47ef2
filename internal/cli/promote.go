package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/sealsign/seal/internal/action"
	"github.com/sealsign/seal/internal/ci"
	"github.com/sealsign/seal/internal/cli/options"
	"github.com/sealsign/seal/internal/publish"
	"github.com/sealsign/seal/internal/verify"
)

func (a *app) newPromote() *cobra.Command {
	o := &options.Promote{}
	cmd := &cobra.Command{
		Use:   "promote IMAGE",
		Short: "Verify an image, and only if it passes sign the verdict with the promotion signer",
		Long: `The promotion step: runs seal verify on IMAGE with the given checks (--github-repo or
--gitlab-project, --ref, --attestation; slsaprovenance unless --attestation is given) and,
only if they pass, signs the SLSA Verification Summary of that run with the promotion
signer (--key, or keyless from this job's identity) and publishes it next to the image's
digest in both formats, as seal verify --vsa and seal attest --vsa do. With --sign the
promotion signer also signs the digest itself, for verifiers that read signatures only
(Flux's verify). A failed verification publishes nothing and exits non-zero.

Admission engines cannot tell which repository ran a keyless signer: a certificate's
subject names the workflow or CI configuration file, which another repository can run.
seal verify checks the Source Repository extensions that say it; the promotion signer
carries that verdict to the engines, which check the summary's signer instead:
seal policy ENGINE --no-signature --attestation vsa --key promotion.pub (or the keyless
promotion job's identity) writes that policy, and seal policy flux Flux's verify block.
The promotion signer must be one a foreign repository cannot use: a key in a CI variable
only protected refs of this project can read (GitLab protected and masked variable, GitHub
environment secret with deployment branch rules), a KMS key whose IAM is bound to this
project's OIDC claims, or, on GitHub only, keyless from a workflow that is not
on: workflow_call in a dedicated repository.

Flags of seal verify that the signer also has are prefixed: --verify-key checks
key-signed images, --verify-no-tlog accepts keyless signatures without a log entry.
--vsa FILE keeps the summary, PASSED or FAILED.`,
		Example: `  # GitLab, on a protected ref, the key in a protected and masked variable:
  seal promote --gitlab-project acme/platform/app --ref main --attestation slsaprovenance \
      --key env://PROMOTION_KEY registry.gitlab.com/acme/platform/app@sha256:4c9b...
  # GitHub, keyless from a dedicated repository's workflow (not on: workflow_call):
  seal promote --github-repo acme/app --ref main --sign ghcr.io/acme/app@sha256:4c9b...`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			res, err := a.runPromote(cmd.Context(), args[0], o)
			a.printPromoted(res, o.JSON)
			return err
		},
	}
	o.AddFlags(cmd.Flags())
	return cmd
}

// promoted is what `seal promote` did: the verification, and what the promotion signer
// published (nil when the verification failed).
type promoted struct {
	Verified  *verified
	Published *publish.Report
	// Promoted says the summary was published.
	Promoted bool
	// Note says which digest was promoted when a tag was given.
	Note string
}

// runPromote is `seal promote`: seal verify's run, then, only if it passed, seal attest
// --vsa's (and seal sign's, with o.Sign) in one publish by the promotion signer, about the
// digest verified: a tag re-pushed meanwhile is not what gets promoted.
func (a *app) runPromote(ctx context.Context, image string, o *options.Promote) (_ *promoted, err error) {
	ctx, done := deadline(ctx, o.Timeout.Timeout) // one deadline for the verification and the signing
	defer done(&err)
	vo := o.Verify
	vo.Registry, vo.Timeout = o.Registry, o.Timeout
	vo.JSON = false
	if len(vo.Attestations) == 0 {
		vo.Attestations = []string{"slsaprovenance"}
	}
	if vo.Key == "" && vo.GitHubRepo == "" && vo.GitLabProject == "" && vo.CertificateIdentity == "" && vo.CertificateIdentityRegexp == "" {
		return nil, usagef("give the checks the image must pass: --github-repo, --gitlab-project, --certificate-identity or --verify-key")
	}
	if err := checkKeyRef(o.Key); err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "seal-promote-")
	if err != nil {
		return nil, fmt.Errorf("creating a temporary directory: %w", err)
	}
	defer os.RemoveAll(dir)
	keep := vo.VSA
	if keep == "-" && o.JSON {
		return nil, usagef("--vsa - and --json both write to stdout: give --vsa a file")
	}
	vo.VSA = filepath.Join(dir, "vsa.json")
	if o.Key != "" {
		// Decrypting the key overlaps the verification.
		a.loadKey(ctx, o.Key)
	} else if a.getenv("GITLAB_CI") == "true" {
		a.log.Warn("a keyless promotion signer on GitLab is not one a foreign project cannot use: its certificate subject is this CI configuration file, which any project that can read it can take as its own CI configuration; sign with --key from a protected, masked variable, or a KMS key bound to this project's claims")
	}
	v, verr := a.runVerify(ctx, []string{image}, &vo, a.getenv("GITHUB_TOKEN"))
	res := &promoted{Verified: v}
	if v != nil {
		// The note names the temporary file and seal attest --vsa, which
		// this run is.
		v.VSANote = ""
	}
	if keep != "" {
		if b, err := os.ReadFile(vo.VSA); err == nil {
			if err := a.writeOutput(keep, b); err != nil {
				return res, err
			}
			if v != nil {
				v.VSANote = "kept the verification summary in " + keep
			}
		}
	}
	if verr != nil {
		if errors.Is(verr, verify.ErrPolicy) {
			return res, fmt.Errorf("not promoted, nothing signed: %w", verr)
		}
		return res, verr
	}
	// The run passed, so its summary says PASSED; checked again, since signing a FAILED
	// summary by the promotion signer is what this verb must never do.
	raw, err := os.ReadFile(vo.VSA)
	if err != nil {
		return res, fmt.Errorf("reading the verification summary: %w", err)
	}
	if st, err := verify.ReadVSA(raw); err != nil || st.Summary.GetVerificationResult() != verify.ResultPassed {
		return res, fmt.Errorf("not promoted, nothing signed: the verification summary does not say PASSED (%v)", err)
	}
	at, err := a.readVSA(vo.VSA)
	if err != nil {
		return res, err
	}
	if sum, ok := at.(vsaAttestation); !ok || sum.digest == "" {
		return res, errors.New("not promoted: the verification summary names no digest")
	}
	// What verified is the digest the summary is about; sign that, not the tag.
	digestRef := v.Results[0].Image
	if digestRef != image {
		res.Note = fmt.Sprintf("promoting %s, the digest verified (given %s)", digestRef, image)
	}
	pub, err := a.publish(ctx, digestRef, &o.Publish, o.Sign, false, func(*ci.Metadata) []publish.Attestation {
		return []publish.Attestation{at}
	})
	res.Published, res.Promoted = pub, err == nil
	return res, err
}

// printPromoted prints the verification's report, then what was published; asJSON, both
// on stdout as one object.
func (a *app) printPromoted(res *promoted, asJSON bool) {
	if res == nil {
		return
	}
	a.printVerified(res.Verified, false)
	if res.Note != "" {
		fmt.Fprintln(a.stderr, res.Note)
	}
	if res.Published != nil {
		a.summarize(res.Published, false)
	}
	if !asJSON {
		return
	}
	out := struct {
		Verification json.RawMessage `json:"verification,omitempty"`
		Promoted     bool            `json:"promoted"`
		Items        []publish.Item  `json:"items,omitempty"`
	}{Promoted: res.Promoted}
	if res.Verified != nil {
		out.Verification = verifyJSON(res.Verified.Results)
	}
	if res.Published != nil {
		out.Items = res.Published.Items
	}
	enc := json.NewEncoder(a.stdout)
	enc.SetIndent("", "  ")
	_ = enc.Encode(out)
}

// actionPromote runs the promote step, or the all step's promotion after it signed and
// attested. The promote step's result is what the promotion signer published; the all
// step's stays the build's (its summary pins the build's signer), the promotion being
// reported in the log.
func (a *app) actionPromote(ctx context.Context, p *action.Plan, res *action.Result) error {
	image := p.Image
	if p.Attest != nil {
		if res.Image != "" {
			image = res.Image // the digest just signed
		}
		q := &action.Plan{Step: "promote", Image: image, Promote: p.Promote}
		a.log.Info("running", "command", a.redact(q.Command()))
	}
	out, err := a.runPromote(ctx, image, p.Promote)
	a.printPromoted(out, false)
	if err != nil {
		return err
	}
	if p.Attest == nil {
		res.AddPublished(out.Published)
	}
	return nil
}
