package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/sealsign/seal/internal/ci"
	"github.com/sealsign/seal/internal/cli/options"
	"github.com/sealsign/seal/internal/oidc"
	"github.com/sealsign/seal/internal/provenance"
	"github.com/sealsign/seal/internal/subject"
)

func (a *app) newProvenance() *cobra.Command {
	o := &options.Provenance{}
	cmd := &cobra.Command{
		Use:   "provenance --subject NAME@sha256:HEX | --subject-path GLOB",
		Short: "Write SLSA provenance for this CI job's artifacts",
		Long: `Writes an in-toto Statement with a SLSA provenance predicate describing the
current CI job (GitHub Actions, GitLab CI, or a local checkout). Job metadata is
bound to the job's OIDC token when one is available.`,
		Example: `  seal provenance --subject ghcr.io/acme/app@sha256:4c9b... -o provenance.json
  seal provenance --subject-path 'dist/*.tar.gz' --predicate-only --slsa-version 0.2`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			doc, err := a.runProvenance(cmd.Context(), o)
			if err != nil {
				return err
			}
			return a.writeOutput(o.Output, doc)
		},
	}
	o.AddFlags(cmd.Flags())
	return cmd
}

// runProvenance is `seal provenance`: the provenance document (statement, or predicate only)
// of this CI job about the subjects o names.
func (a *app) runProvenance(ctx context.Context, o *options.Provenance) (_ []byte, err error) {
	ctx, done := deadline(ctx, o.Timeout.Timeout)
	defer done(&err)
	ver, err := provenance.ParseVersion(o.SLSAVersion)
	if err != nil {
		return nil, &usageError{err}
	}
	subs, err := a.subjects(ctx, o.Subjects, o.SubjectPaths)
	if err != nil {
		return nil, err
	}
	prov, err := a.provider(o.Token)
	if err != nil {
		return nil, err
	}
	md, _, err := a.metadata(ctx, prov, o.Token)
	if err != nil {
		return nil, err
	}
	p, err := provenance.Generate(md, subs, provenance.WithVersion(ver), provenance.WithFinishedOn(time.Now()))
	if err != nil {
		return nil, err
	}
	if o.PredicateOnly {
		return p.Predicate()
	}
	return p.Statement()
}

func (a *app) subjects(ctx context.Context, names, globs []string) ([]subject.Subject, error) {
	if len(names) == 0 && len(globs) == 0 {
		return nil, usagef("give at least one --subject NAME@sha256:HEX or --subject-path GLOB")
	}
	var out []subject.Subject
	for _, n := range names {
		s, err := subject.Parse(n)
		if err != nil {
			return nil, &usageError{err}
		}
		out = append(out, s)
	}
	for _, g := range globs {
		ss, err := subject.FromGlob(ctx, g)
		if err != nil {
			return nil, err
		}
		out = append(out, ss...)
	}
	return out, nil
}

// provider detects the CI Seal runs in.
func (a *app) provider(t options.Token) (ci.Provider, error) {
	p, err := ci.Detect(a.ciOptions(ci.WithTokenEnv(t.TokenEnv))...)
	if err != nil {
		return nil, &usageError{err}
	}
	return p, nil
}

// metadata detects the CI, fetches its token (or the one given) and
// returns metadata bound to it. Notes go to the log.
func (a *app) metadata(ctx context.Context, p ci.Provider, t options.Token) (*ci.Metadata, *oidc.Token, error) {
	md, tok, err := a.resolveMetadata(ctx, p, t)
	if err == nil {
		a.logNotes(md)
	}
	return md, tok, err
}

// logNotes logs what the provider noticed about the metadata: each note
// says why provenance from it is not bound to a token, so it matters only
// to runs that write provenance.
func (a *app) logNotes(md *ci.Metadata) {
	for _, n := range md.Notes {
		a.log.Warn(n)
	}
}

// resolveMetadata is metadata without logging the notes.
func (a *app) resolveMetadata(ctx context.Context, p ci.Provider, t options.Token) (*ci.Metadata, *oidc.Token, error) {
	var src oidc.Source
	if t.IdentityToken != "" {
		src = oidc.FromFlag(t.IdentityToken, a.lookupEnv)
	}
	md, tok, err := ci.Resolve(ctx, p, src, t.Audience)
	if err != nil {
		return nil, nil, err
	}
	if tok != nil {
		a.mask(tok.Raw)
	}
	return md, tok, nil
}

// writeOutput writes doc to path atomically (a reader never sees half a
// file), or to stdout for "-".
func (a *app) writeOutput(path string, doc []byte) error {
	if path == "" || path == "-" {
		_, err := a.stdout.Write(doc)
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".seal-*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(doc); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Chmod(f.Name(), 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}
