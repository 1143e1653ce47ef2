package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"

	"github.com/sethvargo/go-githubactions"
	"github.com/sigstore/sigstore-go/pkg/sign"
	"github.com/spf13/cobra"

	"github.com/sealsign/seal/internal/ci"
	"github.com/sealsign/seal/internal/version"
)

// app is what every verb shares: where to print, how to log, how to read
// the environment.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	log            *slog.Logger
	lookupEnv      func(string) (string, bool)
	// keyOnce and key: the signing key, loading in the background (loadKey).
	keyOnce sync.Once
	key     func() (sign.Keypair, error)
	// masks remembers secrets this process has seen, so that no error it
	// prints can carry them.
	masks []string
}

// Execute runs the CLI with args and returns the process exit code: 0
// success, 1 a failed check or a failed service (the run's deadline and an
// interrupt included), 2 a usage error (an argument, flag, file or reference
// that is wrong, found before any network call).
func Execute(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	a := &app{stdin: os.Stdin, stdout: stdout, stderr: stderr, lookupEnv: os.LookupEnv}
	root := a.newRoot()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	if ctx.Err() != nil {
		// A signal ended the run: what was written is listed above, and a
		// re-run completes it.
		err = fmt.Errorf("interrupted: %w", err)
	}
	// errors.Join puts one error per line; CI logs and scripts that grep for
	// "seal: error:" want the whole story on one line.
	msg := plainHTTPHint(strings.ReplaceAll(strings.TrimSpace(a.redact(err.Error())), "\n", "; "))
	fmt.Fprintf(stderr, "seal: error: %s\n", msg)
	if a.inGitHubActions() {
		// An annotation puts the error on the workflow run's summary page.
		githubactions.New(githubactions.WithWriter(stderr)).Errorf("%s", msg)
	}
	var ue *usageError
	if errors.As(err, &ue) {
		return 2
	}
	return 1
}

// exitCodes is the help text about Execute's exit codes.
const exitCodes = `Exit codes: 0 done (signed, attested, verified); 1 a check failed or a service failed
(registry, Fulcio, timestamp authority, Rekor, OIDC issuer, KMS, GitHub), the --timeout
deadline (default 3m) and an interrupt included; 2 a usage error: a flag, argument, file or
image reference that is wrong, found before any network call. Files are read under size
limits (predicates 64 MiB; bundles, trusted roots, signing configs and summaries 8 MiB).`

type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error {
	return &usageError{fmt.Errorf(format, args...)}
}

func (a *app) newRoot() *cobra.Command {
	var verbose bool
	root := &cobra.Command{
		Use:   "seal",
		Short: "Sign, attest and verify container images from CI",
		Long: `Seal signs container images and files in CI, attests SLSA provenance and SBOMs,
publishes them to OCI registries in the formats cosign, Kyverno and policy-controller
read, and verifies them before deployment.

Start with: seal attest --sign --provenance IMAGE (in CI), or seal verify --help.

` + exitCodes,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version.Get(),
		PersistentPreRun: func(cmd *cobra.Command, _ []string) {
			level := slog.LevelInfo
			if verbose {
				level = slog.LevelDebug
			}
			var h slog.Handler = slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: level, ReplaceAttr: dropTime})
			if a.inGitHubActions() {
				h = newAnnotations(h, a.stderr, a.redact)
			}
			a.log = slog.New(h)
		},
	}
	root.PersistentFlags().BoolVarP(&verbose, "verbose", "v", false, "log debug details to stderr")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return &usageError{fmt.Errorf("%w%s; run '%s --help' for usage", err, cosignHint(c, err), c.CommandPath())}
	})
	root.AddCommand(
		a.newVersion(),
		a.newProvenance(),
		a.newSign(),
		a.newAttest(),
		a.newGenerateKeyPair(),
		a.newAction(),
		a.newVerify(),
		a.newPolicy(),
		a.newPromote(),
	)
	// A wrong number of arguments is a usage error too (exit 2), and says
	// where the usage is.
	for _, c := range root.Commands() {
		if check := c.Args; check != nil {
			c.Args = func(c *cobra.Command, args []string) error {
				if err := check(c, args); err != nil {
					return &usageError{fmt.Errorf("%w; run '%s --help' for usage", err, c.CommandPath())}
				}
				return nil
			}
		}
	}
	return root
}

func (a *app) getenv(k string) string { v, _ := a.lookupEnv(k); return v }

func (a *app) inGitHubActions() bool { return a.getenv("GITHUB_ACTIONS") == "true" }

// mask hides secret from the CI log (GitHub's ::add-mask::) and from
// every error this process prints.
func (a *app) mask(secret string) {
	if secret == "" || slices.Contains(a.masks, secret) {
		return
	}
	a.masks = append(a.masks, secret)
	if a.inGitHubActions() {
		githubactions.New(githubactions.WithWriter(a.stderr)).AddMask(secret)
	}
}

func (a *app) redact(s string) string {
	for _, m := range a.masks {
		if len(m) >= 8 {
			s = strings.ReplaceAll(s, m, "***")
		}
	}
	return s
}

// ciOptions are the provider options every verb uses.
func (a *app) ciOptions(extra ...ci.Option) []ci.Option {
	return append([]ci.Option{ci.WithMask(a.mask)}, extra...)
}

// dropTime keeps log lines short: CI logs carry their own timestamps.
func dropTime(groups []string, at slog.Attr) slog.Attr {
	if len(groups) == 0 && at.Key == slog.TimeKey {
		return slog.Attr{}
	}
	return at
}
