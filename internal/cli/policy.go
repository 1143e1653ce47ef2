package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/sealsign/seal/internal/cli/options"
	"github.com/sealsign/seal/internal/limits"
	"github.com/sealsign/seal/internal/oci"
	"github.com/sealsign/seal/internal/policy"
)

func (a *app) newPolicy() *cobra.Command {
	o := &options.Policy{}
	cmd := &cobra.Command{
		Use:   "policy kyverno|policy-controller|flux --image GLOB (--github-repo OWNER/REPO | --gitlab-project GROUP/PROJECT | --certificate-identity ... | --key cosign.pub)",
		Short: "Write an admission policy that admits only images Seal signed",
		Long: `Writes a ready-to-apply admission policy for images signed by Seal in one GitHub
repository (or by a raw certificate identity, or a key): a Kyverno
ImageValidatingPolicy (--kind, the default) or ClusterPolicy (--kind clusterpolicy),
or a sigstore policy-controller ClusterImagePolicy (preceded by its TrustRoot for a
private Sigstore instance given with --trusted-root).

Kyverno's ImageValidatingPolicy (CEL, stable since Kyverno 1.17) checks only a
certificate's subject and issuer, so it is written for raw identities
(--certificate-identity) and keys; --github-repo needs --kind clusterpolicy (deprecated
by Kyverno, removal planned for 1.20). Its verifier reads bundles when an image has
any, else cosign's tags.

--format picks the storage format the engine reads: legacy (cosign's .sig/.att tags,
the default) or bundle (Kyverno SigstoreBundle, policy-controller signatureFormat:
bundle). A certificate's subject names the workflow or CI file that ran, which other
repositories can run too; only a certificate extension names the repository, and
the engines read one only for GitHub in the legacy format. So --github-repo is
written for --format legacy only, and --gitlab-project for neither engine: Seal
refuses and says what to use instead (` + "`seal verify`" + `). With --attestation
slsaprovenance the policy also checks Seal's SLSA provenance: source repository, ref
and builder; the runner (--hosted-runners-only), which the engines cannot read in the
certificate, is checked there only, and refused without it. The policy opens with a
comment that says what it admits.

As in seal verify, --github-repo refuses the certificates of runs triggered by
pull_request_target or workflow_run (the repository's token acting for code or events from
outside it) unless --allow-trigger names the event: policy-controller's policy refuses them
by GitHub's workflow-trigger extension; Kyverno, which can only match an extension against a
glob, accepts a trigger matching one of a few globs on the event name's ending that match
every other event GitHub documents (the policy lists them), so it also refuses an event
GitHub adds later whose name ends otherwise. --github-repo-id, --github-owner-id,
--gitlab-project-id and --gitlab-namespace-id are refused: no engine reads the certificate
extensions that carry the numeric ids, and the provenance cannot stand in for them.

--no-signature --attestation vsa admits an image on the SLSA Verification Summary a
promotion job attested (seal verify --vsa, then seal attest --vsa) alone, as seal
verify --no-signature --attestation vsa does; the identity or key is the promotion
job's. The policy requires verificationResult PASSED, no FAILED level and Seal's
verifier id (--vsa-verifier), and with --vsa-level and --vsa-policy-digest a minimum
SLSA Build level and the policy digest the summary records: what seal verify
--attestation vsa requires with the same flags.

flux writes a Flux OCIRepository (and the Secret with --key) whose spec.verify admits the
one artifact --image names only if the promotion signer of seal promote signed its
digest: Flux checks a signature, not its content, and of a keyless certificate only the
subject and issuer, so it is written for a key, or a GitHub promotion workflow pinned by
--github-workflow and --ref.`,
		Example: `  seal policy kyverno --kind clusterpolicy --github-repo acme/app --image 'ghcr.io/acme/app**' --attestation slsaprovenance
  seal policy kyverno --key cosign.pub --image 'ghcr.io/acme/app**' --attestation slsaprovenance
  seal policy policy-controller --github-repo acme/app --ref main --hosted-runners-only \
      --attestation slsaprovenance --image 'ghcr.io/acme/app**' -o policy.yaml
  seal policy policy-controller --key cosign.pub --no-tlog --image 'registry.example.com/**'
  seal policy kyverno --key promote.pub --no-signature --attestation vsa --vsa-level SLSA_BUILD_LEVEL_2 \
      --image 'ghcr.io/acme/app**'
  seal policy flux --key promote.pub --image ghcr.io/acme/app-manifests:1.2.0`,
		ValidArgs: []string{string(policy.Kyverno), string(policy.PolicyController), string(policy.Flux)},
		Args:      cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) (err error) {
			ctx, done := deadline(cmd.Context(), o.Timeout.Timeout)
			defer done(&err)
			cmd.SetContext(ctx) // policySpec loads a KMS key through it
			if args[0] == string(policy.Flux) {
				return a.runPolicyFlux(cmd, o)
			}
			engine, err := policy.ParseEngine(args[0])
			if err != nil {
				return &usageError{err}
			}
			spec, err := a.policySpec(cmd, engine, o)
			if err != nil {
				return err
			}
			generate := policy.Generate
			if o.Promotion {
				generate = policy.GeneratePromotion
			}
			doc, err := generate(engine, *spec)
			if err != nil {
				// Generate refuses flag combinations the engine cannot
				// enforce; it reads no files.
				return &usageError{promotionHint(err, o)}
			}
			return a.writeOutput(o.Output, doc)
		},
	}
	o.AddFlags(cmd.Flags())
	return cmd
}

// policySpec turns the flags into a policy.Spec, refusing contradictions.
func (a *app) policySpec(cmd *cobra.Command, engine policy.Engine, o *options.Policy) (*policy.Spec, error) {
	format, err := oci.ParseFormat(o.Format)
	if err == nil && format == oci.Both {
		err = fmt.Errorf("signature format %q: a policy reads one format (use bundle or legacy)", o.Format)
	}
	if err != nil {
		return nil, &usageError{err}
	}
	if len(o.Images) == 0 {
		return nil, usagef("--image is required: give the images the policy governs, e.g. --image 'ghcr.io/acme/app**'")
	}
	s := &policy.Spec{Name: o.Name, Images: o.Images, Attestations: o.Attestations, Format: format, RekorURL: o.RekorURL, NoTlog: o.NoTlog, TUFMirror: o.TUFMirror,
		NoSignature: o.NoSignature, VSA: vsaCheck(o.VSACheck)}
	if engine == policy.Kyverno {
		kind, err := policy.ParseKyvernoKind(o.Kind)
		if err != nil {
			return nil, &usageError{err}
		}
		s.KyvernoKind = kind
	} else if cmd.Flags().Changed("kind") {
		return nil, usagef("--kind applies to kyverno")
	}
	id, pub, err := a.signer(cmd.Context(), o.Identity)
	if err != nil {
		return nil, err
	}
	s.Identity = id
	if pub != nil {
		s.PublicKey = pub.PEM()
	}
	if o.TUFRoot != "" {
		b, err := a.readFile("--tuf-root", o.TUFRoot, limits.Document)
		if err != nil {
			return nil, err
		}
		s.TUFRoot = b
	}
	if o.TrustedRoot != "" {
		b, err := a.readFile("--trusted-root", o.TrustedRoot, limits.Document)
		if err != nil {
			return nil, err
		}
		s.TrustedRoot = b
	}
	return s, nil
}
