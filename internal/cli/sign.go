package cli

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/sealsign/seal/internal/cli/options"
	"github.com/sealsign/seal/internal/publish"
)

func (a *app) newSign() *cobra.Command {
	o := &options.Publish{}
	cmd := &cobra.Command{
		Use:   "sign IMAGE",
		Short: "Sign a container image (keyless from the CI identity, or with --key)",
		Long: `Signs an image by tag or digest. A tag is resolved to its digest once and only the
digest is signed. Signatures are written as Sigstore bundles attached as OCI referrers
(cosign v3, gh, Kyverno SigstoreBundle) and as cosign's legacy .sig tag (cosign v2,
Kyverno Cosign, policy-controller legacy), or either one with --format.`,
		Example: `  seal sign ghcr.io/acme/app@sha256:4c9b...
  seal sign --key cosign.key --recursive registry.example.com/app:1.2.0`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.GitHubStorageRecord {
				if err := a.checkGitHubMetadata("--github-storage-record"); err != nil {
					return err
				}
			}
			rep, err := a.runSign(cmd.Context(), args[0], o)
			a.summarize(rep, o.JSON)
			if err != nil || !o.GitHubStorageRecord {
				return err
			}
			_, err = a.storageRecords(cmd.Context(), rep, o.Insecure, a.getenv("GITHUB_TOKEN"), true)
			return err
		},
	}
	o.AddFlags(cmd.Flags())
	return cmd
}

// runSign is `seal sign`: it signs image and returns what was written, also when it failed
// part way.
func (a *app) runSign(ctx context.Context, image string, o *options.Publish) (_ *publish.Report, err error) {
	ctx, done := deadline(ctx, o.Timeout.Timeout)
	defer done(&err)
	return a.publish(ctx, image, o, true, false, nil)
}
