package cli

import (
	"github.com/spf13/cobra"

	"github.com/sealsign/seal/internal/cli/options"
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
			return a.publish(cmd, args[0], o, true, false, nil)
		},
	}
	o.AddFlags(cmd.Flags())
	return cmd
}
