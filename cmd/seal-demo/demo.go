package main

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sealsign/seal/internal/demo"
	"github.com/sealsign/seal/internal/publish"
	"github.com/sealsign/seal/internal/verify"
)

func newDemo(stdout, stderr io.Writer) *cobra.Command {
	var serve, asJSON, verbose bool
	var dir string
	cmd := &cobra.Command{
		Use:   "seal-demo",
		Short: "Run the whole flow on an embedded registry (no CI, no network)",
		Long: `Starts an in-memory OCI registry on 127.0.0.1, pushes a small image and a
two-platform index, writes local SLSA provenance, signs and attests both with an
ephemeral key in both registry formats (Sigstore bundle referrers and cosign's
.sig/.att tags), verifies them, and prints a report.

With --serve the registry stays up and Seal prints the cosign commands that check
the result with your own cosign.`,
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			level := slog.LevelInfo
			if verbose {
				level = slog.LevelDebug
			}
			log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
			d, err := demo.Start(log)
			if err != nil {
				return err
			}
			defer d.Close()
			if serve && dir == "" {
				if dir, err = os.MkdirTemp("", "seal-demo-"); err != nil {
					return err
				}
			}
			res, err := d.Run(ctx, dir)
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(stdout)
				enc.SetIndent("", "  ")
				if err := enc.Encode(res); err != nil {
					return err
				}
			} else {
				printDemo(stdout, res)
			}
			if !serve {
				return nil
			}
			printCosign(stdout, res)
			fmt.Fprintln(stderr, "registry up; press Ctrl-C to stop")
			<-ctx.Done()
			return nil
		},
	}
	cmd.Flags().BoolVar(&serve, "serve", false, "keep the registry up and print cosign commands to check the result")
	cmd.Flags().StringVar(&dir, "dir", "", "directory for the demo's public key (default: a temporary one with --serve)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "log debug details to stderr")
	return cmd
}

func printDemo(w io.Writer, r *demo.Result) {
	mode := "with the OCI referrers API"
	for _, it := range r.Single.Items {
		if it.Fallback {
			mode = "without the OCI referrers API: the Referrers Tag Schema fallback is in use"
		}
	}
	fmt.Fprintf(w, "Seal demo — registry %s (in memory, %s)\n\n", r.Registry, mode)
	for _, rep := range []*publish.Report{r.Single, r.Index} {
		fmt.Fprintf(w, "%s\n", rep.Image)
		if rep.Image.Tag != "" {
			fmt.Fprintf(w, "  resolved tag %q once; only the digest was signed\n", rep.Image.Tag)
		}
		for _, it := range rep.Items {
			what := it.Kind
			if it.PredicateType != "" && it.Kind == "attestation" {
				what += " " + it.PredicateType
			}
			plat := ""
			if it.Platform != "" {
				plat = " [" + it.Platform + "]"
			}
			fmt.Fprintf(w, "  %-7s %-55s%s -> %s\n", it.Format, what, plat, shortRef(it.Ref))
		}
	}
	fmt.Fprintln(w, "\nVerified with the demo key:")
	for _, v := range r.Verified {
		printVerified(w, v)
	}
	fmt.Fprintf(w, "\nDone in %s. Run `go run ./cmd/seal-demo --serve` to check the result with your own cosign.\n", r.Elapsed.Round(1e6))
}

func printVerified(w io.Writer, v *verify.Report) {
	counts := map[string]int{}
	for _, f := range v.Findings {
		counts[f.Format.String()+" "+f.Kind]++
	}
	fmt.Fprintf(w, "  %s: %d bundle signature(s), %d bundle attestation(s), %d legacy signature(s), %d legacy attestation(s)\n",
		shortRef(v.Image), counts["bundle signature"], counts["bundle attestation"], counts["legacy signature"], counts["legacy attestation"])
}

func shortRef(s string) string {
	if i := strings.Index(s, "@sha256:"); i >= 0 && len(s) > i+20 {
		return s[:i+20] + "…"
	}
	return s
}

func printCosign(w io.Writer, r *demo.Result) {
	img := r.Single.Image.String()
	common := fmt.Sprintf("--key %s --trusted-root %s --insecure-ignore-tlog --allow-http-registry", r.KeyPath, r.EmptyRootPath)
	fmt.Fprintf(w, `
Check it with your own cosign (v2.6 or v3; the demo key is %s, and the empty trusted
root tells cosign not to fetch the public one: a key needs no CA):

  # Sigstore bundles attached as OCI referrers
  cosign verify --new-bundle-format %[2]s %[3]s
  cosign verify-attestation --new-bundle-format --type slsaprovenance1 %[2]s %[3]s
  cosign verify-attestation --new-bundle-format --type spdxjson %[2]s %[3]s

  # cosign's legacy .sig/.att tags
  cosign verify --new-bundle-format=false %[2]s %[3]s
  cosign verify-attestation --new-bundle-format=false --type slsaprovenance1 %[2]s %[3]s
`, r.KeyPath, common, img)
}
