package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/sealsign/seal/internal/ci"
	"github.com/sealsign/seal/internal/cli/options"
	"github.com/sealsign/seal/internal/oci"
	"github.com/sealsign/seal/internal/publish"
	"github.com/sealsign/seal/internal/signing"
)

// job is what every signing verb starts with: the CI, its metadata bound
// to its token, and the invocation's one signer. withProvenance says that
// provenance will be written, which the metadata's notes are about.
func (a *app) job(ctx context.Context, o options.Signing, withProvenance bool) (ci.Provider, *ci.Metadata, *signing.Signer, error) {
	if o.Key != "" {
		a.loadKey(ctx, o.Key) // starts decrypting now; buildSigner waits for it
	}
	p, err := a.provider(o.Token)
	if err != nil {
		return nil, nil, nil, err
	}
	md, tok, err := a.resolveMetadata(ctx, p, o.Token)
	if err != nil {
		return nil, nil, nil, err
	}
	if withProvenance {
		a.logNotes(md)
	}
	signer, err := a.buildSigner(ctx, o, md, tok)
	if err != nil {
		return nil, nil, nil, err
	}
	return p, md, signer, nil
}

// publish is the run behind `seal sign` and `seal attest IMAGE`: it returns what was written,
// also when it failed part way.
func (a *app) publish(ctx context.Context, ref string, o *options.Publish, sign, withProvenance bool, atts func(*ci.Metadata) []publish.Attestation) (*publish.Report, error) {
	format, err := oci.ParseFormat(o.Format)
	if err != nil {
		return nil, &usageError{err}
	}
	if err := checkImageRef(ref); err != nil {
		return nil, err
	}
	if err := checkKeyRef(o.Key); err != nil {
		return nil, err
	}
	p, md, signer, err := a.job(ctx, o.Signing, withProvenance)
	if err != nil {
		return nil, err
	}
	reg, err := a.registry(p, o.Registry)
	if err != nil {
		return nil, err
	}
	pub, err := publish.New(signer, reg, publish.WithFormat(format), publish.WithJobs(o.Jobs), publish.WithLogger(a.log))
	if err != nil {
		return nil, &usageError{err}
	}
	req := publish.Request{Ref: ref, Recursive: o.Recursive, Sign: sign}
	if atts != nil {
		req.Attestations = atts(md)
	}
	rep, perr := pub.Publish(ctx, req)
	if rep != nil {
		if err := a.saveBundles(o.OutputDir, rep); err != nil && perr == nil {
			perr = err
		}
	}
	return rep, perr
}

func (a *app) saveBundles(dir string, rep *publish.Report) error {
	if dir == "" {
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating output directory: %w", err)
	}
	for i := range rep.Items {
		it := &rep.Items[i]
		if it.Bundle == nil {
			continue
		}
		_, dig, _ := strings.Cut(it.Subject, "@")
		name := strings.ReplaceAll(dig, ":", "-") + "." + shortType(it.PredicateType) + ".sigstore.json"
		path := filepath.Join(dir, name)
		if err := a.writeOutput(path, it.Bundle); err != nil {
			return err
		}
		it.BundlePath = path
	}
	return nil
}

// summarize prints what was written: a readable summary on stderr, and
// with --json every digest, referrer, tag, bundle path and log entry on
// stdout.
func (a *app) summarize(rep *publish.Report, asJSON bool) {
	if rep == nil {
		return
	}
	if rep.Image.Tag != "" {
		fmt.Fprintf(a.stderr, "resolved tag %q to %s: signed the digest only\n", rep.Image.Tag, rep.Image.Descriptor.Digest)
	}
	for _, it := range rep.Items {
		what := it.Kind
		if it.Kind == "attestation" {
			what += " " + it.PredicateType
		}
		state := "wrote"
		if it.Existed {
			state = "exists"
		}
		plat := ""
		if it.Platform != "" {
			plat = " [" + it.Platform + "]"
		}
		logged := ""
		if it.Tlog != nil {
			logged = fmt.Sprintf(" (log index %d)", it.Tlog.LogIndex)
		}
		fmt.Fprintf(a.stderr, "%s %s %s%s: %s%s\n", state, it.Format, what, plat, it.Ref, logged)
	}
	if asJSON {
		enc := json.NewEncoder(a.stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(struct {
			Image  string         `json:"image"`
			Digest string         `json:"digest"`
			Tag    string         `json:"tag,omitempty"`
			Items  []publish.Item `json:"items"`
		}{rep.Image.String(), rep.Image.Descriptor.Digest.String(), rep.Image.Tag, rep.Items})
	}
}
