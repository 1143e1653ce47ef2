package cli

import (
	"fmt"
	"runtime"

	"github.com/spf13/cobra"

	"github.com/sealsign/seal/internal/version"
)

func (a *app) newVersion() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print Seal's version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprintf(a.stdout, "seal %s (%s, %s/%s)\n", version.Get(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
			return err
		},
	}
}
