package action

import (
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/fulcio/certificate"

	"github.com/sealsign/seal/internal/limits"
	"github.com/sealsign/seal/internal/predicate"
	"github.com/sealsign/seal/internal/publish"
	"github.com/sealsign/seal/internal/verify"
)

// Result is what one step did: the source of its outputs and of its summary.
type Result struct {
	// Verb is sign, attest, provenance, all or verify.
	Verb string
	// Image is the top subject as repository@digest; empty when only files were attested.
	Image string
	// Tag is the tag the image input named and the signer resolved.
	Tag string
	// Items are the signatures and attestations written next to the image, as `seal sign
	// --json` and `seal attest --json` list them.
	Items []publish.Item
	// Files are the bundles written as files: attestations about files (subject-path), or
	// about an image when nothing was pushed.
	Files []FileBundle
	// Identity is the keyless signer, read from the certificate of a bundle that was written;
	// nil when a key signed or no bundle was written.
	Identity *Identity
	// Key is the signing key reference (env://COSIGN_PRIVATE_KEY, a KMS URI) when a key signed;
	// never key material.
	Key string
	// KeyFromInput reports that the key was the value of the key input itself (read through
	// Key, env://INPUT_KEY), which the summary names as such.
	KeyFromInput bool
	// Tlog reports that the signatures were uploaded to a transparency log. Verifiers of
	// signatures without log entries must say so (cosign's --insecure-ignore-tlog).
	Tlog bool
	// CustomSigstore reports that a private Sigstore instance signed, whose trusted root the
	// verifier must be given.
	CustomSigstore bool
	// Stored are the bundles stored in GitHub's attestations API.
	Stored []Stored
	// StorageRecords are the images recorded in GitHub's artifact metadata as stored in their
	// registry; DeploymentRecords those recorded as deployed (verb verify).
	StorageRecords, DeploymentRecords []Record
	// Findings are what the verification accepted (verb verify).
	Findings []verify.Finding
	// ResultPath is where the verification report was written (verb verify).
	ResultPath string
}

// FileBundle is one bundle written as a file.
type FileBundle struct {
	Subject       string `json:"subject"`
	PredicateType string `json:"predicateType"`
	Bundle        string `json:"bundle"`
}

// Stored is one bundle stored in GitHub's attestations API.
type Stored struct {
	// Bundle is the file that was uploaded.
	Bundle string
	// PredicateType is the attestation's predicate type.
	PredicateType string
	// ID is the attestation's id; URL its page.
	ID, URL string
}

// Record is one image's record in GitHub's artifact metadata (the organisation's linked
// artifacts page).
type Record struct {
	// Image is NAME@sha256:HEX.
	Image string
	// IDs are the ids GitHub gave the record (one per artifact of the organisation with that
	// digest).
	IDs []int64
	// Environment is a deployment record's logical environment.
	Environment string
}

// recordIDs joins the ids of records with commas, as actions/attest's storage-record-ids.
func recordIDs(recs []Record) string {
	var ids []string
	for _, r := range recs {
		for _, id := range r.IDs {
			ids = append(ids, strconv.FormatInt(id, 10))
		}
	}
	return strings.Join(ids, ",")
}

// Identity is a keyless signer as Fulcio certified it: what verifiers pin with
// --certificate-identity and --certificate-oidc-issuer.
type Identity struct {
	// Subject is the certificate's Subject Alternative Name: for GitHub the workflow that ran
	// the signing job (https://github.com/OWNER/REPO/.github/workflows/F.yml@REF), for GitLab
	// https://HOST/GROUP/PROJECT//.gitlab-ci.yml@REF.
	Subject string
	// Issuer is the OIDC issuer the certificate names.
	Issuer string
	// Repository is the source repository URL the certificate names (Source Repository URI),
	// when it does: the repository the job ran for, which is not always the one in Subject.
	Repository string
	// SourceRef is the git ref the job ran for (Source Repository Ref), when named.
	SourceRef string
	// GitHubWorkflowRepository and GitHubWorkflowRef are the caller's OWNER/REPO and ref in
	// the extensions Fulcio writes for GitHub only (1.3.6.1.4.1.57264.1.5 and .1.6, deprecated
	// but still written), the only ones cosign can pin
	// (--certificate-github-workflow-repository, --certificate-github-workflow-ref).
	GitHubWorkflowRepository, GitHubWorkflowRef string
	// SCT reports that the certificate carries a signed certificate timestamp from a CT log;
	// a private Fulcio without one needs verifiers that do not require it.
	SCT bool
}

// oidSCTList is RFC 6962's embedded SCT list extension.
var oidSCTList = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 11129, 2, 4, 2}

// ErrNoCertificate is returned by IdentityFromBundle for a bundle signed with a key.
var ErrNoCertificate = errors.New("the bundle has no certificate (signed with a key)")

// BundleInfo reads a Sigstore bundle file and returns the keyless identity in its certificate
// (nil and ErrNoCertificate for a key) and whether it holds transparency log entries.
func BundleInfo(path string) (*Identity, bool, error) {
	raw, err := limits.ReadFile("bundle", path, limits.Document, nil)
	if err != nil {
		return nil, false, err
	}
	b := &bundle.Bundle{}
	if err := b.UnmarshalJSON(raw); err != nil {
		return nil, false, fmt.Errorf("reading bundle %s: %w", path, err)
	}
	tlog := len(b.GetVerificationMaterial().GetTlogEntries()) > 0
	vc, err := b.VerificationContent()
	if err != nil {
		return nil, tlog, fmt.Errorf("reading bundle %s: %w", path, err)
	}
	cert := vc.Certificate()
	if cert == nil {
		return nil, tlog, ErrNoCertificate
	}
	s, err := certificate.SummarizeCertificate(cert)
	if err != nil {
		return nil, tlog, fmt.Errorf("reading the certificate in %s: %w", path, err)
	}
	id := &Identity{
		Subject: s.SubjectAlternativeName, Issuer: s.Extensions.Issuer,
		Repository: s.SourceRepositoryURI, SourceRef: s.SourceRepositoryRef,
		GitHubWorkflowRepository: s.GithubWorkflowRepository, GitHubWorkflowRef: s.GithubWorkflowRef,
	}
	id.SCT = slices.ContainsFunc(cert.Extensions, func(e pkix.Extension) bool { return e.Id.Equal(oidSCTList) })
	return id, tlog, nil
}

// ReadSigner sets Identity and Tlog from the first bundle written that can be read: the
// certificate is the truth about who signed (a reusable workflow, not the caller, for
// instance). Without one (legacy format only), Tlog says whether the run logged anything it
// published: the signer's own decision, not derived again here. It returns the errors of the
// bundles it could not read.
func (r *Result) ReadSigner() []error {
	var errs []error
	for _, b := range r.Bundles() {
		id, tlog, err := BundleInfo(b)
		if err != nil && !errors.Is(err, ErrNoCertificate) {
			errs = append(errs, err)
			continue
		}
		r.Identity, r.Tlog = id, tlog
		return errs
	}
	r.Tlog = slices.ContainsFunc(r.Items, func(it publish.Item) bool { return it.Tlog != nil })
	return errs
}

// AddPublished records what was published next to an image: the image by digest, the tag
// it was resolved from, and every signature and attestation.
func (r *Result) AddPublished(rep *publish.Report) {
	r.Image, r.Tag, r.Items = rep.Image.String(), rep.Image.Tag, rep.Items
	if dig := rep.Image.Descriptor.Digest.String(); !strings.Contains(r.Image, "@") && dig != "" {
		r.Image = Repository(r.Image) + "@" + dig
	}
}

// Digest is the digest part of the image, "" without one.
func (r *Result) Digest() string {
	_, d, _ := strings.Cut(r.Image, "@")
	return d
}

// Bundles lists every bundle file written, the most useful first: the provenance of the top
// image, then the rest in the order they were written.
func (r *Result) Bundles() []string {
	var first, rest []string
	for _, it := range r.Items {
		if it.BundlePath == "" {
			continue
		}
		if it.Subject == r.Image && isProvenance(it.PredicateType) && first == nil {
			first = append(first, it.BundlePath)
			continue
		}
		rest = append(rest, it.BundlePath)
	}
	for _, f := range r.Files {
		if isProvenance(f.PredicateType) && first == nil {
			first = append(first, f.Bundle)
			continue
		}
		rest = append(rest, f.Bundle)
	}
	return append(first, rest...)
}

// Attestations lists the attestation bundles written as files, to store in GitHub's
// attestations: those saved from the registry's, then those about files.
func (r *Result) Attestations() []FileBundle {
	var out []FileBundle
	for _, it := range r.Items {
		if it.Kind == "attestation" && it.BundlePath != "" {
			out = append(out, FileBundle{Subject: it.Subject, PredicateType: it.PredicateType, Bundle: it.BundlePath})
		}
	}
	return append(out, r.Files...)
}

// Output is one step output.
type Output struct{ Name, Value string }

// Outputs are the step's outputs, in a fixed order; empty values are left out.
func (r *Result) Outputs() []Output {
	var outs []Output
	add := func(name, v string) {
		if v != "" {
			outs = append(outs, Output{name, v})
		}
	}
	add("digest", r.Digest())
	add("image", r.Image)
	bs := r.Bundles()
	if len(bs) > 0 {
		add("bundle-path", bs[0])
		add("bundle-paths", strings.Join(bs, "\n"))
	}
	if len(r.Stored) > 0 {
		s := r.Stored[0]
		for _, c := range r.Stored {
			if isProvenance(c.PredicateType) {
				s = c
				break
			}
		}
		add("attestation-id", s.ID)
		add("attestation-url", s.URL)
	}
	add("storage-record-ids", recordIDs(r.StorageRecords))
	add("deployment-record-ids", recordIDs(r.DeploymentRecords))
	if r.Verb == "verify" {
		add("verified", "true")
		add("result-path", r.ResultPath)
	}
	if cmds := r.VerifyCommands(); len(cmds.Seal) > 0 {
		add("verify-command", cmds.Seal[0])
	}
	return outs
}

func isProvenance(t string) bool {
	return t == predicate.SLSAProvenanceV1 || t == predicate.SLSAProvenanceV02
}
