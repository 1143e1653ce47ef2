package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	vsapb "github.com/in-toto/attestation/go/predicates/vsa/v1"
	"github.com/spf13/cobra"

	"github.com/sealsign/seal/internal/ci"
	"github.com/sealsign/seal/internal/cli/options"
	"github.com/sealsign/seal/internal/limits"
	"github.com/sealsign/seal/internal/predicate"
	"github.com/sealsign/seal/internal/provenance"
	"github.com/sealsign/seal/internal/publish"
	"github.com/sealsign/seal/internal/signing"
	"github.com/sealsign/seal/internal/subject"
	"github.com/sealsign/seal/internal/verify"
)

func (a *app) newAttest() *cobra.Command {
	o := &options.Attest{}
	cmd := &cobra.Command{
		Use:   "attest IMAGE",
		Short: "Attest SLSA provenance, SBOMs and scan reports for an image",
		Long: `Signs in-toto attestations about an image and publishes them next to it. The common
case is one command: seal attest --sign --provenance --predicate sbom.spdx.json IMAGE`,
		Example: `  seal attest --sign --provenance --predicate sbom.spdx.json ghcr.io/acme/app@sha256:4c9b...
  seal attest --predicate trivy.json --type vuln registry.example.com/app:1.2.0
  seal attest --vsa vsa.json ghcr.io/acme/app@sha256:4c9b...   # what seal verify --vsa wrote
  seal attest --provenance --subject-path 'dist/*.tar.gz' --output-dir attestations/
  seal attest --provenance --subject-checksums checksums.txt --output-dir attestations/   # sha256sum's output
  seal attest --provenance --no-upload --output-dir attestations/ ghcr.io/acme/app@sha256:4c9b...   # bundle files only`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			image := ""
			if len(args) > 0 {
				image = args[0]
			}
			if o.GitHubStorageRecord {
				if len(o.SubjectPaths) > 0 || len(o.SubjectChecksums) > 0 || o.NoUpload {
					return usagef("--github-storage-record records where an image pushed to a registry lives: it applies to an IMAGE without --no-upload")
				}
				if err := a.checkGitHubMetadata("--github-storage-record"); err != nil {
					return err
				}
			}
			res, err := a.runAttest(cmd.Context(), image, o)
			a.printAttested(res, o.JSON)
			if err != nil || !o.GitHubStorageRecord || res == nil {
				return err
			}
			_, err = a.storageRecords(cmd.Context(), res.Report, o.Insecure, a.getenv("GITHUB_TOKEN"), true)
			return err
		},
	}
	o.AddFlags(cmd.Flags())
	return cmd
}

// attested is what `seal attest` wrote: next to an image in its registry, or as bundle files.
type attested struct {
	// Report lists what was published next to the image; nil for bundle files.
	Report *publish.Report
	// Files are the bundles written as files (--subject-path, --no-upload).
	Files []fileBundle
}

// fileBundle is one bundle written as a file.
type fileBundle struct {
	Subject       string             `json:"subject"`
	PredicateType string             `json:"predicateType"`
	Bundle        string             `json:"bundle"`
	Tlog          *signing.TlogEntry `json:"tlog,omitempty"`
}

// runAttest is `seal attest`: it signs attestations about image (or, with "", about the files
// of o.SubjectPaths) and returns what it wrote, also when it failed part way.
func (a *app) runAttest(ctx context.Context, image string, o *options.Attest) (_ *attested, err error) {
	ctx, done := deadline(ctx, o.Timeout.Timeout)
	defer done(&err)
	if len(o.Types) > len(o.Predicates) {
		return nil, usagef("%d --type flags for %d --predicate files: give one --type per --predicate, in order", len(o.Types), len(o.Predicates))
	}
	if !o.Provenance && len(o.Predicates) == 0 && !o.Sign && o.VSA == "" {
		return nil, usagef("nothing to attest: give --provenance and/or --predicate FILE")
	}
	ver, err := provenance.ParseVersion(o.SLSAVersion)
	if err != nil {
		return nil, &usageError{err}
	}
	// Read every predicate before anything is signed or written.
	var docs []publish.Attestation
	for i, path := range o.Predicates {
		typ := ""
		if i < len(o.Types) {
			typ = o.Types[i]
		}
		b, err := a.readFile("--predicate", path, limits.Predicate)
		if err != nil {
			return nil, err
		}
		d, err := predicate.Parse(b, typ, time.Now())
		if err != nil {
			return nil, fmt.Errorf("predicate %s: %w", path, err)
		}
		if d.Detected != "" {
			a.log.Info("predicate type detected", "file", path, "format", d.Detected, "type", d.Type)
		}
		if d.Type == predicate.VSA {
			sum, err := checkVSAPredicate(d.JSON)
			if err != nil {
				return nil, fmt.Errorf("predicate %s: %w", path, err)
			}
			a.warnFailedVSA(path, sum.GetVerificationResult())
			docs = append(docs, vsaAttestation{pred: d.JSON, resourceURI: sum.GetResourceUri()})
			continue
		}
		docs = append(docs, publish.Predicate{Type: d.Type, JSON: d.JSON})
	}
	if o.VSA != "" {
		switch {
		case len(o.SubjectPaths) > 0 || len(o.SubjectChecksums) > 0:
			return nil, usagef("--vsa attests the summary of the image seal verify checked, not of files")
		case o.Recursive:
			return nil, usagef("--vsa attests the summary of the one image seal verify checked: --recursive would attest it about every platform too")
		}
		at, err := a.readVSA(o.VSA)
		if err != nil {
			return nil, err
		}
		docs = append(docs, at)
	}
	provFor := func(md *ci.Metadata) []publish.Attestation {
		if !o.Provenance {
			return docs
		}
		return append([]publish.Attestation{publish.Provenance{Metadata: md, Version: ver, FinishedOn: time.Now()}}, docs...)
	}
	switch {
	case len(o.SubjectPaths) > 0 || len(o.SubjectChecksums) > 0:
		if image != "" {
			return nil, usagef("give an IMAGE or --subject-path/--subject-checksums, not both")
		}
		if o.NoUpload {
			return nil, usagef("--no-upload applies to an IMAGE: --subject-path and --subject-checksums write bundle files anyway")
		}
		subs, err := fileSubjects(ctx, o.SubjectPaths, o.SubjectChecksums)
		if err != nil {
			return nil, err
		}
		return a.attestFiles(ctx, o, subs, func(s subject.Subject) (string, string) { return s.Name, filepath.Base(s.Name) }, provFor)
	case image == "":
		return nil, usagef("give the IMAGE to attest (or --subject-path GLOB or --subject-checksums FILE for files)")
	case o.NoUpload:
		switch {
		case o.Sign:
			return nil, usagef("--no-upload writes attestations only: an image signature lives in the registry (drop --sign)")
		case o.Recursive:
			return nil, usagef("--no-upload reads no index from the registry: drop --recursive")
		}
		sub, err := subject.Parse(image)
		if err != nil {
			return nil, usagef("--no-upload reads no registry: give the IMAGE by digest (NAME@sha256:HEX): %v", err)
		}
		_, dig, _ := strings.Cut(image, "@")
		name := strings.ReplaceAll(dig, ":", "-")
		return a.attestFiles(ctx, o, []subject.Subject{sub}, func(subject.Subject) (string, string) { return image, name }, provFor)
	}
	rep, err := a.publish(ctx, image, &o.Publish, o.Sign, o.Provenance, provFor)
	return &attested{Report: rep}, err
}

// fileSubjects are the files to attest: those matching the globs, hashed here, then those the
// checksums files list, by the digests listed. A name given twice with different digests is
// refused: one of them is not the file released.
func fileSubjects(ctx context.Context, globs, checksums []string) ([]subject.Subject, error) {
	var subs []subject.Subject
	for _, g := range globs {
		ss, err := subject.FromGlob(ctx, g)
		if err != nil {
			return nil, err
		}
		subs = append(subs, ss...)
	}
	for _, f := range checksums {
		ss, err := subject.FromChecksumsFile(f)
		if err != nil {
			return nil, &usageError{err}
		}
		subs = append(subs, ss...)
	}
	seen := map[string]string{}
	out := subs[:0]
	for _, s := range subs {
		d, ok := seen[s.Name]
		switch {
		case ok && d != s.Digest["sha256"]:
			return nil, usagef("%s is named twice with different SHA-256 digests (%s and %s)", s.Name, d, s.Digest["sha256"])
		case ok:
			continue
		}
		seen[s.Name] = s.Digest["sha256"]
		out = append(out, s)
	}
	return out, nil
}

// attestFiles signs attestations about subjects without the registry and writes bundle files
// to o.OutputDir; name gives a subject's name in the list and the start of its files' names.
func (a *app) attestFiles(ctx context.Context, o *options.Attest, subs []subject.Subject, name func(subject.Subject) (shown, file string), atts func(*ci.Metadata) []publish.Attestation) (*attested, error) {
	if o.OutputDir == "" {
		return nil, usagef("--subject-path, --subject-checksums and --no-upload write bundle files: give --output-dir")
	}
	_, md, signer, err := a.job(ctx, o.Signing, o.Provenance)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(o.OutputDir, 0o755); err != nil {
		return nil, fmt.Errorf("creating output directory: %w", err)
	}
	res := &attested{}
	for _, s := range subs {
		shown, file := name(s)
		for _, at := range atts(md) {
			st, err := at.Statement(s)
			if err != nil {
				return res, err
			}
			r, err := signer.SignDSSE(ctx, predicate.InTotoPayloadType, st)
			if err != nil {
				return res, err
			}
			path := filepath.Join(o.OutputDir, file+"."+shortType(at.PredicateType())+".sigstore.json")
			if err := a.writeOutput(path, r.JSON); err != nil {
				return res, err
			}
			res.Files = append(res.Files, fileBundle{Subject: shown, PredicateType: at.PredicateType(), Bundle: path, Tlog: r.Tlog()})
		}
	}
	return res, nil
}

// printAttested tells what `seal attest` wrote: a line for each on stderr and, asJSON, the
// list on stdout.
func (a *app) printAttested(res *attested, asJSON bool) {
	switch {
	case res == nil:
	case res.Report != nil:
		a.summarize(res.Report, asJSON)
	default:
		for _, f := range res.Files {
			fmt.Fprintf(a.stderr, "attested %s (%s) -> %s\n", f.Subject, f.PredicateType, f.Bundle)
		}
		if asJSON {
			_ = json.NewEncoder(a.stdout).Encode(map[string]any{"bundles": res.Files})
		}
	}
}

func shortType(t string) string {
	for k, v := range map[string]string{predicate.SLSAProvenanceV1: "provenance", predicate.SLSAProvenanceV02: "provenance-v0.2", predicate.SPDX: "spdx", predicate.CycloneDX: "cyclonedx", predicate.Vuln: "vuln", predicate.VSA: "vsa"} {
		if t == k {
			return v
		}
	}
	t = strings.TrimPrefix(strings.TrimPrefix(t, "https://"), "http://")
	return strings.NewReplacer("/", "_", ":", "_").Replace(t)
}

// vsaAttestation is a verification summary: one record of one
// verification, attested only about the image it names.
type vsaAttestation struct {
	pred        json.RawMessage
	resourceURI string
	// digest is the statement's subject (hex SHA-256); "" for a bare
	// predicate.
	digest string
}

func (v vsaAttestation) PredicateType() string { return predicate.VSA }

// Record: each summary records one verification, published beside earlier ones.
func (v vsaAttestation) Record() {}

func (v vsaAttestation) Statement(s subject.Subject) ([]byte, error) {
	if v.digest != "" && !strings.EqualFold(s.Digest["sha256"], v.digest) {
		return nil, fmt.Errorf("the verification summary is about sha256:%s (%s), not %s: attest it about the image seal verify checked", v.digest, v.resourceURI, s.Name)
	}
	if err := verify.ResourceDigest(v.resourceURI, s.Digest["sha256"]); err != nil {
		return nil, fmt.Errorf("%w: attest it about the image seal verify checked", err)
	}
	return publish.Predicate{Type: predicate.VSA, JSON: v.pred}.Statement(s)
}

// readVSA reads the statement `seal verify --vsa` wrote.
func (a *app) readVSA(path string) (publish.Attestation, error) {
	b, err := a.readFile("--vsa", path, limits.Document)
	if err != nil {
		return nil, err
	}
	st, err := verify.ReadVSA(b)
	if err != nil {
		return nil, fmt.Errorf("verification summary %s: %w", path, err)
	}
	a.warnFailedVSA(path, st.Summary.GetVerificationResult())
	return vsaAttestation{pred: st.Predicate, resourceURI: st.Summary.GetResourceUri(), digest: st.Digest}, nil
}

func (a *app) warnFailedVSA(path, result string) {
	if result != verify.ResultPassed {
		a.log.Warn("attesting a verification summary that records a failure: verifiers will refuse it as evidence", "file", path, "verificationResult", result)
	}
}

// checkVSAPredicate validates a bare VSA predicate given with --predicate,
// and points to --vsa for the whole statement seal verify writes.
func checkVSAPredicate(pred []byte) (*vsapb.VerificationSummary, error) {
	var head struct {
		PredicateType string `json:"predicateType"`
	}
	if json.Unmarshal(pred, &head) == nil && head.PredicateType != "" {
		return nil, usagef("this is a whole in-toto statement (as seal verify --vsa writes), not a predicate: give it with --vsa FILE")
	}
	return verify.ValidateVSA(pred)
}
