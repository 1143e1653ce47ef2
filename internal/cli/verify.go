package cli

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/sealsign/seal/internal/ci"
	"github.com/sealsign/seal/internal/cli/options"
	"github.com/sealsign/seal/internal/limits"
	"github.com/sealsign/seal/internal/oci"
	"github.com/sealsign/seal/internal/predicate"
	"github.com/sealsign/seal/internal/subject"
	"github.com/sealsign/seal/internal/trust"
	"github.com/sealsign/seal/internal/verify"
	"github.com/sealsign/seal/internal/version"
)

func (a *app) newVerify() *cobra.Command {
	o := &options.Verify{}
	cmd := &cobra.Command{
		Use:   "verify IMAGE...",
		Short: "Verify an image's signatures and attestations before deploying it",
		Long: `Checks the signatures and attestations of an image in both storage formats (Sigstore
bundles as OCI referrers, cosign's .sig/.att tags) and exits non-zero unless the policy holds:
who signed (a GitHub repository, a GitLab project, a raw certificate identity, or a key) and
what is attested.

What rests on evidence and what on the signer's own claim: a keyless signer's Fulcio
certificate is issued from the CI's token, so what it says (repository and its numeric ids,
ref, commit, workflow, trigger, runner) is evidence. SLSA provenance is whatever the signer
attested, and a job can attest provenance it wrote by hand; so every provenance field the
certificate also carries must agree with it, and --source-repo, --source-ref and --builder-id
are checked in the certificate as well as in the provenance. --protected-ref-only has no
certificate field behind it: it rests on the signer's own claim (Seal writes the token's
ref_protected, but any job of the project can attest provenance calling its own ref
protected); pin the ref with --ref. With --key there is no certificate, and every provenance
check rests on the signer's claim.

--vsa FILE writes a SLSA Verification Summary Attestation of the run (passed or failed) as an
unsigned in-toto statement about the image's digest: who verified (Seal), when, against which
policy (policy.uri spells out these checks as a seal:verify? query; policy.digest is the
SHA-256 of their canonical JSON), from which signatures and attestations (by the digest of the
referrer manifest or legacy layer that verified), and the SLSA Build level Seal can vouch for:
L2 when SLSA provenance verified with a keyless signature from a hosted runner (GitHub- or
GitLab-hosted, as the Fulcio certificate says), L1 when provenance verified otherwise (a key, a
self-hosted runner), L0 without provenance; never L3, since Seal signs inside the job, whose own
steps hold the same token. seal attest --vsa FILE IMAGE signs and publishes it; seal verify
--attestation vsa then requires a VSA that is PASSED, lists no FAILED level, is about this
image's digest and names Seal's verifier (--vsa-verifier ID for another); --vsa-level
SLSA_BUILD_LEVEL_N also requires level N or a higher one up to SLSA_BUILD_LEVEL_3, and
--vsa-policy-digest sha256:HEX the policy.digest of the promotion's checks. These are the
checks, and the flags, of the admission policies seal policy --attestation vsa writes, and,
with --vsa, part of this run's own policy.digest.

The GitHub preset refuses runs triggered by pull_request_target or workflow_run, which act
with the repository's token on behalf of code or events from outside it, unless
--allow-trigger names the event.

` + exitCodes,
		Example: `  seal verify --github-repo acme/app --attestation slsaprovenance1 ghcr.io/acme/app@sha256:4c9b...
  seal verify --gitlab-project acme/platform/app --ref main --protected-ref-only registry.gitlab.com/acme/platform/app:1.2.0
  seal verify --key cosign.pub --attestation spdx registry.example.com/app:1.2.0

  # A promotion job: verify, record the verification, sign and publish the record.
  seal verify --github-repo acme/app --attestation slsaprovenance1 --vsa vsa.json ghcr.io/acme/app@sha256:4c9b...
  seal attest --vsa vsa.json ghcr.io/acme/app@sha256:4c9b...
  # Later, admit on the signed summary alone, at Build L2 or higher:
  seal verify --key promotion.pub --no-signature --attestation vsa --vsa-level SLSA_BUILD_LEVEL_2 ghcr.io/acme/app@sha256:4c9b...`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			res, err := a.runVerify(cmd.Context(), args, o, a.getenv("GITHUB_TOKEN"))
			a.printVerified(res, o.JSON)
			return err
		},
	}
	o.AddFlags(cmd.Flags())
	return cmd
}

// verified is what `seal verify` found: a result for each image, in argument order, or for
// each file checked against bundles.
type verified struct {
	Results []verifyResult
	// Files says the results are about files (--bundle).
	Files bool
	// VSANote says where the verification summary was written, or why it was not (--vsa).
	VSANote string
	// Deployments are the deployment records written (--github-deployment-record).
	Deployments []metadataRecord
}

// verifyResult is one image's or file's report, as --json prints it.
type verifyResult struct {
	*verify.Report
	Verified bool   `json:"verified"`
	Error    string `json:"error,omitempty"`
	// ran says the verification ran to a report; without one, Report names the image only.
	ran bool
}

// runVerify is `seal verify`: it checks refs (images, or files with o.Bundles) against the
// policy o describes, and when every image passed records them in GitHub's deployment records
// (o.Deployment, with token). The error says whether the policy held; the results are
// returned either way.
func (a *app) runVerify(ctx context.Context, refs []string, o *options.Verify, token string) (_ *verified, err error) {
	ctx, done := deadline(ctx, o.Timeout.Timeout)
	defer done(&err)
	if err := a.checkDeployment(o, refs); err != nil {
		return nil, err
	}
	p, err := a.verifyPolicy(ctx, o)
	if err != nil {
		return nil, err
	}
	if o.VSA != "" {
		switch {
		case len(o.Bundles) > 0:
			return nil, usagef("--vsa summarizes the verification of an image in a registry, not of files with --bundle")
		case len(refs) != 1:
			return nil, usagef("--vsa writes the summary of one image: give one IMAGE")
		case o.VSA == "-" && o.JSON:
			return nil, usagef("--vsa - and --json both write to stdout: give --vsa a file")
		}
	}
	if len(o.Bundles) > 0 {
		return a.verifyFiles(ctx, o, p, refs)
	}
	for _, ref := range refs {
		if err := checkImageRef(ref); err != nil {
			return nil, err
		}
	}
	prov, err := a.provider(options.Token{TokenEnv: "SIGSTORE_ID_TOKEN"})
	if err != nil {
		return nil, err
	}
	reg, err := a.readRegistry(prov, o.Registry)
	if err != nil {
		return nil, err
	}
	// Many images share one registry session and verify in parallel;
	// reports print in argument order.
	v := verify.New(reg)
	start := time.Now()
	reps := make([]*verify.Report, len(refs))
	errs := make([]error, len(refs))
	sem := make(chan struct{}, max(1, o.Jobs))
	var wg sync.WaitGroup
	for i, ref := range refs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			reps[i], errs[i] = v.Verify(ctx, ref, *p, o.Recursive)
		}()
	}
	wg.Wait()
	res := &verified{}
	if o.VSA != "" {
		if res.VSANote, err = a.writeVSA(o, p, reps[0], errs[0], start); err != nil {
			return nil, err
		}
	}
	failed := 0
	for i := range refs {
		r := verifyResult{Report: reps[i], Verified: errs[i] == nil, ran: reps[i] != nil}
		if errs[i] != nil {
			failed++
			r.Error = a.redact(errs[i].Error())
		}
		if reps[i] == nil {
			r.Report = &verify.Report{Image: refs[i]}
		}
		res.Results = append(res.Results, r)
	}
	if len(refs) == 1 && errs[0] != nil {
		return res, errs[0]
	}
	if failed > 0 {
		return res, fmt.Errorf("%d of %d images failed verification (first: %w)", failed, len(refs), firstError(errs))
	}
	if o.Deployment.Environment != "" {
		// The gate passed: every image goes on to the deployment.
		res.Deployments, err = a.deploymentRecords(ctx, refs, res, o.Deployment, token)
	}
	return res, err
}

// printVerified prints the short human reports on stderr and, asJSON, the results on stdout.
func (a *app) printVerified(res *verified, asJSON bool) {
	if res == nil {
		return
	}
	if res.VSANote != "" {
		fmt.Fprintln(a.stderr, res.VSANote)
	}
	for _, r := range res.Results {
		if r.ran {
			printVerifyReport(a.stderr, r.Report)
		}
	}
	if !asJSON {
		return
	}
	if res.Files {
		// One line per file, as each was checked.
		enc := json.NewEncoder(a.stdout)
		for _, r := range res.Results {
			_ = enc.Encode(struct {
				*verify.Report
				Verified bool `json:"verified"`
			}{r.Report, r.Verified})
		}
		return
	}
	_, _ = a.stdout.Write(verifyJSON(res.Results))
}

// verifyJSON is the --json report of images: one object for one image, else a list.
func verifyJSON(results []verifyResult) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	if len(results) == 1 {
		_ = enc.Encode(results[0])
	} else {
		_ = enc.Encode(results)
	}
	return b.Bytes()
}

// verifyPolicy turns the flags into a policy, refusing contradictions.
func (a *app) verifyPolicy(ctx context.Context, o *options.Verify) (*verify.Policy, error) {
	p := &verify.Policy{RequireSignature: !o.NoSignature, RequireTlog: !o.NoTlog}
	for _, t := range o.Attestations {
		types, err := predicate.Required(t)
		if err != nil {
			return nil, &usageError{err}
		}
		p.Attestations = append(p.Attestations, strings.Join(types, "|"))
	}
	if !p.RequireSignature && len(p.Attestations) == 0 {
		return nil, usagef("--no-signature needs at least one --attestation: otherwise nothing is verified")
	}
	if o.VSACheck.Set() {
		if !slices.Contains(p.Attestations, predicate.VSA) {
			return nil, usagef("the verification summary checks (--vsa-verifier, --vsa-level, --vsa-policy-digest) need --attestation vsa")
		}
		p.VSA = vsaCheck(o.VSACheck)
		if _, err := p.VSA.Requirement(); err != nil {
			return nil, &usageError{err}
		}
	}
	if o.SourceRepo != "" || o.SourceRef != "" || o.BuilderID != "" || o.ProtectedRefOnly {
		p.Provenance = &verify.ProvenanceCheck{SourceRepo: o.SourceRepo, SourceRef: o.SourceRef, BuilderID: o.BuilderID}
		if !hasProvenance(p.Attestations) {
			p.Attestations = append(p.Attestations, predicate.SLSAProvenanceV1)
		}
	}
	id, pub, err := a.signer(ctx, o.Identity)
	if err != nil {
		return nil, err
	}
	if pub != nil {
		p.Key = pub.Public()
		return p, nil
	}
	p.Identity = id
	if o.ProtectedRefOnly {
		if p.Provenance == nil {
			p.Provenance = &verify.ProvenanceCheck{}
		}
		p.Provenance.ProtectedRef = true
	}
	if p.Trusted, err = trust.Load(o.TrustedRoot); err != nil {
		return nil, &usageError{err} // a file that is missing, too large or no trusted root
	}
	return p, nil
}

// vsaCheck is what the flags ask of a required Verification Summary, for
// seal verify and seal policy alike.
func vsaCheck(o options.VSACheck) verify.VSACheck {
	return verify.VSACheck{VerifierID: o.VSAVerifier, MinLevel: o.VSALevel, PolicyDigest: o.VSAPolicyDigest}
}

// readRegistry is a registry client that asks for pull access only:
// verifying reads, so read-only credentials suffice and its tokens cannot
// push.
func (a *app) readRegistry(p ci.Provider, o options.Registry) (*oci.Client, error) {
	opts := []oci.Option{oci.WithLogger(a.log)}
	if len(o.Insecure) > 0 {
		opts = append(opts, oci.WithInsecureHosts(o.Insecure...))
	}
	if cs, ok := p.(ci.CredentialSource); ok {
		for _, c := range cs.RegistryCredentials() {
			a.mask(c.Password)
			opts = append(opts, oci.WithCredentials(c.Host, c.Username, c.Password))
		}
	}
	return oci.New(opts...)
}

func firstError(errs []error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func hasProvenance(types []string) bool {
	for _, t := range types {
		if strings.Contains(t, predicate.SLSAProvenanceV1) || strings.Contains(t, predicate.SLSAProvenanceV02) {
			return true
		}
	}
	return false
}

// printVerifyReport is the short human report: who signed, when, from
// which commit and workflow, which attestations; and what failed.
func printVerifyReport(w io.Writer, r *verify.Report) {
	fmt.Fprintf(w, "%s\n", r.Image)
	for _, f := range r.Findings {
		what := f.Kind
		if f.Kind == "attestation" {
			what += " " + f.PredicateType
		}
		fmt.Fprintf(w, "  ✓ %s (%s) on %s\n", what, f.Format, shortRef(f.Subject))
		if c := f.Certificate; c != nil {
			fmt.Fprintf(w, "      signed by %s\n      issuer %s", f.Signer, f.Issuer)
			if c.SourceRepositoryDigest != "" {
				fmt.Fprintf(w, ", commit %s", c.SourceRepositoryDigest)
			}
			if c.SourceRepositoryRef != "" {
				fmt.Fprintf(w, " on %s", c.SourceRepositoryRef)
			}
			if c.RunnerEnvironment != "" {
				fmt.Fprintf(w, ", %s runner", c.RunnerEnvironment)
			}
			fmt.Fprintln(w)
		} else {
			fmt.Fprintf(w, "      signed by %s\n", f.Signer)
		}
		if !f.Time.IsZero() {
			fmt.Fprintf(w, "      at %s (timestamped)\n", f.Time.UTC().Format("2006-01-02 15:04:05Z"))
		}
	}
	for _, n := range r.Notes {
		fmt.Fprintf(w, "  ! %s\n", n)
	}
	if len(r.Failures) == 0 {
		// The policy held: what else is attached to the image (other signers'
		// signatures, older attestations) is not a failure, only not what was
		// asked for.
		if len(r.Rejected) > 0 {
			fmt.Fprintf(w, "  %d other signature(s) or attestation(s) did not match this policy and were ignored:\n", len(r.Rejected))
		}
		for _, rj := range r.Rejected {
			fmt.Fprintf(w, "    - %s\n", rj)
		}
	} else {
		for _, rj := range r.Rejected {
			fmt.Fprintf(w, "  ✗ rejected %s\n", rj)
		}
	}
	for _, fl := range r.Failures {
		fmt.Fprintf(w, "  ✗ %s\n", fl)
	}
}

// verifyFiles checks release files against saved bundles, offline.
func (a *app) verifyFiles(ctx context.Context, o *options.Verify, p *verify.Policy, files []string) (*verified, error) {
	p.RequireSignature = false // files carry attestations, not image signatures
	var bundles [][]byte
	for _, b := range o.Bundles {
		raw, err := a.readFile("--bundle", b, limits.Document)
		if err != nil {
			return nil, err
		}
		bundles = append(bundles, raw)
	}
	res := &verified{Files: true}
	var firstErr error
	for _, f := range files {
		subs, err := subject.FromGlob(ctx, f)
		if err != nil {
			return res, err
		}
		for _, s := range subs {
			digest, _ := hex.DecodeString(s.Digest["sha256"])
			rep, err := verify.VerifyBundles(s.Name, digest, bundles, *p)
			if rep != nil {
				res.Results = append(res.Results, verifyResult{Report: rep, Verified: err == nil, ran: true})
			}
			if err != nil && firstErr == nil {
				firstErr = err
			}
		}
	}
	return res, firstErr
}

// writeVSA writes the verification summary of one image's run: PASSED or
// FAILED by the policy, nothing when the run could not decide (the image
// or its registry could not be read). It returns what it did, for the log.
func (a *app) writeVSA(o *options.Verify, p *verify.Policy, rep *verify.Report, verr error, start time.Time) (string, error) {
	if rep == nil || (verr != nil && !errors.Is(verr, verify.ErrPolicy)) {
		return "no verification summary written: the verification did not run to a result", nil
	}
	vsa, err := verify.NewVSA(rep, *p, verr == nil, verify.VSAOptions{Time: start, Version: version.Get(), Recursive: o.Recursive})
	if err != nil {
		return "", err
	}
	st, err := vsa.Statement()
	if err != nil {
		return "", fmt.Errorf("writing the verification summary: %w", err)
	}
	if err := a.writeOutput(o.VSA, st); err != nil {
		return "", err
	}
	return fmt.Sprintf("wrote verification summary of %s to %s: %s, %s (unsigned: sign it with seal attest --vsa)",
		rep.Image, o.VSA, vsa.VerificationResult, strings.Join(vsa.VerifiedLevels, ", ")), nil
}
