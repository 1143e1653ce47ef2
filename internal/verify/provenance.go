package verify

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/sigstore/sigstore-go/pkg/fulcio/certificate"

	"github.com/sealsign/seal/internal/predicate"
)

// Facts are what a SLSA provenance document says about the build, in
// either version.
type Facts struct {
	SourceRepo   string `json:"sourceRepo,omitempty"` // https URL, without git+ and @ref
	SourceRef    string `json:"sourceRef,omitempty"`
	SourceCommit string `json:"sourceCommit,omitempty"`
	BuilderID    string `json:"builderId,omitempty"`
	BuildType    string `json:"buildType,omitempty"`
	RefProtected string `json:"refProtected,omitempty"`
	// Claims are the statements the provenance makes that a Fulcio
	// certificate also carries, each with the field that makes it.
	Claims []Claim `json:"-"`
}

// Claim is one fact a provenance field states.
type Claim struct {
	Fact  Fact
	Field string // where, as a JSON path: buildDefinition.externalParameters.ref
	Value string
}

// Fact names something both provenance and a Fulcio certificate can say
// about a build.
type Fact int

// The facts Seal's provenance (and GitHub's, whose fields it shares)
// records and Fulcio's CI extensions also carry.
const (
	FactSourceRepo     Fact = iota // Source Repository URI
	FactSourceRef                  // Source Repository Ref
	FactSourceCommit               // Source Repository Digest
	FactRefType                    // branch or tag: the prefix of Source Repository Ref
	FactBuilder                    // Build Signer URI (also the subject of GitHub and GitLab certificates)
	FactBuildConfig                // Build Config URI
	FactWorkflowPath               // the path in Build Config URI
	FactBuildConfigSHA             // Build Config Digest
	FactTrigger                    // Build Trigger
	FactRunner                     // Runner Environment
	FactRepoID                     // Source Repository Identifier
	FactOwnerID                    // Source Repository Owner Identifier
	FactOwner                      // the owner's path in Source Repository Owner URI
	FactVisibility                 // Source Repository Visibility At Signing
	FactInvocation                 // Run Invocation URI
	FactJob                        // the job id in a GitLab Run Invocation URI
)

// factInfo says what a Fact is called, which certificate extension carries it
// and how a provenance value compares with the extension's.
var factInfo = map[Fact]struct {
	name, extension string
	cert            func(*certificate.Summary) string
	agree           func(prov, cert string) bool
}{
	FactSourceRepo:     {"source repository", "Source Repository URI", func(s *certificate.Summary) string { return s.SourceRepositoryURI }, sameRepo},
	FactSourceRef:      {"source ref", "Source Repository Ref", func(s *certificate.Summary) string { return s.SourceRepositoryRef }, equal},
	FactSourceCommit:   {"commit", "Source Repository Digest", func(s *certificate.Summary) string { return s.SourceRepositoryDigest }, equal},
	FactRefType:        {"ref type", "Source Repository Ref", func(s *certificate.Summary) string { return s.SourceRepositoryRef }, sameRefType},
	FactBuilder:        {"builder", "Build Signer URI", func(s *certificate.Summary) string { return s.BuildSignerURI }, equal},
	FactBuildConfig:    {"build config", "Build Config URI", func(s *certificate.Summary) string { return s.BuildConfigURI }, equal},
	FactWorkflowPath:   {"workflow path", "Build Config URI", func(s *certificate.Summary) string { return s.BuildConfigURI }, configPath},
	FactBuildConfigSHA: {"build config digest", "Build Config Digest", func(s *certificate.Summary) string { return s.BuildConfigDigest }, equal},
	FactTrigger:        {"trigger", "Build Trigger", func(s *certificate.Summary) string { return s.BuildTrigger }, equal},
	FactRunner:         {"runner environment", "Runner Environment", func(s *certificate.Summary) string { return s.RunnerEnvironment }, equal},
	FactRepoID:         {"repository id", "Source Repository Identifier", func(s *certificate.Summary) string { return s.SourceRepositoryIdentifier }, equal},
	FactOwnerID:        {"owner id", "Source Repository Owner Identifier", func(s *certificate.Summary) string { return s.SourceRepositoryOwnerIdentifier }, equal},
	FactOwner:          {"owner", "Source Repository Owner URI", func(s *certificate.Summary) string { return s.SourceRepositoryOwnerURI }, lastSegments},
	FactVisibility:     {"visibility", "Source Repository Visibility At Signing", func(s *certificate.Summary) string { return s.SourceRepositoryVisibilityAtSigning }, equal},
	FactInvocation:     {"invocation", "Run Invocation URI", func(s *certificate.Summary) string { return s.RunInvocationURI }, equal},
	FactJob:            {"job", "Run Invocation URI", func(s *certificate.Summary) string { return s.RunInvocationURI }, gitlabJob},
}

func equal(a, b string) bool { return a == b }

// sameRefType: a GitLab ref_type against the certificate's full ref.
func sameRefType(refType, ref string) bool {
	switch refType {
	case "branch":
		return strings.HasPrefix(ref, "refs/heads/")
	case "tag":
		return strings.HasPrefix(ref, "refs/tags/")
	}
	return false
}

// configPath: a workflow path (.github/workflows/release.yml) against the
// Build Config URI (https://github.com/OWNER/REPO/.github/workflows/release.yml@REF).
func configPath(path, uri string) bool {
	uri, _, _ = strings.Cut(uri, "@")
	return strings.HasSuffix(uri, "/"+strings.TrimPrefix(path, "/"))
}

// lastSegments: a namespace path (group/subgroup) against the owner URI.
func lastSegments(path, uri string) bool {
	return strings.HasSuffix(strings.ToLower(uri), "/"+strings.ToLower(strings.Trim(path, "/")))
}

// gitlabJob: a job id against GitLab's Run Invocation URI (.../-/jobs/ID).
func gitlabJob(job, uri string) bool { return strings.HasSuffix(uri, "/-/jobs/"+job) }

// crossCheck refuses provenance that states, about any fact the signer's
// Fulcio certificate also carries, something else than the certificate:
// the certificate is evidence Fulcio signed from the CI's token; the
// provenance is whatever its signer chose to attest, which a job can write
// by hand (`seal attest --predicate`, `cosign attest`).
func crossCheck(pf *Facts, cs *certificate.Summary) error {
	var errs []error
	for _, c := range pf.Claims {
		f := factInfo[c.Fact]
		got := f.cert(cs)
		if got == "" || c.Value == "" || f.agree(c.Value, got) {
			continue
		}
		errs = append(errs, fmt.Errorf("provenance names %s %q (%s) but the signer's certificate was issued for %q (%s)", f.name, c.Value, c.Field, got, f.extension))
	}
	return errors.Join(errs...)
}

// statement applies the checks every attestation gets: it is about this
// image; provenance agrees with the certificate that signed it and with
// the policy's provenance facts.
func (c *checker) statement(f *Finding, digest []byte) error {
	if f.Kind != "attestation" {
		return nil
	}
	var st struct {
		PredicateType string `json:"predicateType"`
		Subject       []struct {
			Digest map[string]string `json:"digest"`
		} `json:"subject"`
		Predicate json.RawMessage `json:"predicate"`
	}
	if err := json.Unmarshal(f.Statement, &st); err != nil {
		return fmt.Errorf("parsing statement: %w", err)
	}
	if err := aboutDigest(f.Statement, digest); err != nil {
		return err
	}
	if st.PredicateType == predicate.VSA {
		return checkVSA(st.Predicate, digest, c.vsa)
	}
	if st.PredicateType != predicate.SLSAProvenanceV1 && st.PredicateType != predicate.SLSAProvenanceV02 {
		return nil
	}
	pf, err := ProvenanceFacts(st.PredicateType, st.Predicate)
	if err != nil {
		return err
	}
	cs := f.Certificate
	if cs != nil {
		if err := crossCheck(pf, cs); err != nil {
			return err
		}
	}
	pc := c.p.Provenance
	if pc == nil {
		return nil
	}
	// Each pinned fact must be stated by the provenance and, where the
	// certificate carries it, hold there too: the certificate is the
	// evidence, the provenance only its signer's word.
	var errs []error
	if pc.SourceRepo != "" {
		if !sameRepo(pf.SourceRepo, pc.SourceRepo) {
			errs = append(errs, fmt.Errorf("provenance source repository is %q, want %q", pf.SourceRepo, pc.SourceRepo))
		}
		if cs != nil && cs.SourceRepositoryURI != "" && !sameRepo(cs.SourceRepositoryURI, pc.SourceRepo) {
			errs = append(errs, fmt.Errorf("certificate source repository URI is %q, want %q", cs.SourceRepositoryURI, pc.SourceRepo))
		}
	}
	if pc.SourceRef != "" {
		want := qualifyRef(pc.SourceRef)
		if pf.SourceRef != want {
			errs = append(errs, fmt.Errorf("provenance source ref is %q, want %q", pf.SourceRef, want))
		}
		if cs != nil && cs.SourceRepositoryRef != "" && cs.SourceRepositoryRef != want {
			errs = append(errs, fmt.Errorf("certificate source repository ref is %q, want %q", cs.SourceRepositoryRef, want))
		}
	}
	if pc.BuilderID != "" {
		if pf.BuilderID != pc.BuilderID {
			errs = append(errs, fmt.Errorf("provenance builder is %q, want %q", pf.BuilderID, pc.BuilderID))
		}
		if cs != nil && cs.BuildSignerURI != "" && cs.BuildSignerURI != pc.BuilderID {
			errs = append(errs, fmt.Errorf("certificate build signer URI is %q, want %q", cs.BuildSignerURI, pc.BuilderID))
		}
	}
	if pc.ProtectedRef {
		// No certificate field says whether the ref was protected: this
		// rests on the signer's own claim. It must at least name the ref it
		// calls protected, which the cross-check has held to the
		// certificate's.
		switch {
		case pf.RefProtected != "true":
			got := pf.RefProtected
			if got == "" {
				got = "not recorded"
			}
			errs = append(errs, fmt.Errorf("provenance does not show a protected ref (ref_protected: %s)", got))
		case pf.SourceRef == "":
			errs = append(errs, errors.New("provenance claims a protected ref but names no ref"))
		}
	}
	return errors.Join(errs...)
}

func sameRepo(a, b string) bool {
	norm := func(s string) string {
		s = strings.TrimPrefix(s, "git+")
		s, _, _ = strings.Cut(s, "@")
		s = strings.TrimSuffix(strings.TrimSuffix(s, "/"), ".git")
		if !strings.Contains(s, "://") {
			s = "https://" + s
		}
		return strings.ToLower(s)
	}
	return norm(a) == norm(b)
}

// ProvenanceFacts reads the facts a policy checks from a SLSA v1 or v0.2
// predicate, and every claim about a fact a Fulcio certificate carries: the
// fields of GitHub's buildType (which Seal writes for GitHub Actions) and
// of Seal's GitLab CI buildType, wherever either puts them.
func ProvenanceFacts(predicateType string, pred []byte) (*Facts, error) {
	d := json.NewDecoder(bytes.NewReader(pred))
	d.UseNumber()
	var doc map[string]any
	if err := d.Decode(&doc); err != nil {
		return nil, fmt.Errorf("parsing %s provenance: %w", predicateType, err)
	}
	r := &reader{doc: doc, f: &Facts{}}
	var ext, internal, builder, invocation, deps string
	switch predicateType {
	case predicate.SLSAProvenanceV1:
		ext, internal = "buildDefinition.externalParameters", "buildDefinition.internalParameters"
		builder, invocation, deps = "runDetails.builder.id", "runDetails.metadata.invocationId", "buildDefinition.resolvedDependencies"
		r.f.BuildType = r.str("buildDefinition.buildType")
	case predicate.SLSAProvenanceV02:
		// The SLSA migration mapping Seal follows: externalParameters are
		// invocation.parameters, internalParameters invocation.environment,
		// resolvedDependencies materials.
		ext, internal = "invocation.parameters", "invocation.environment"
		builder, invocation, deps = "builder.id", "metadata.buildInvocationId", "materials"
		r.f.BuildType = r.str("buildType")
		// configSource is git+REPO@REF with the configuration's commit.
		if uri := r.str("invocation.configSource.uri"); uri != "" {
			repo, ref := splitGitURI(uri)
			r.add(FactSourceRepo, "invocation.configSource.uri", repo)
			r.add(FactSourceRef, "invocation.configSource.uri", ref)
		}
		r.claim(FactBuildConfigSHA, "invocation.configSource.digest.sha1")
		r.claim(FactBuildConfigSHA, "invocation.configSource.digest.gitCommit")
	default:
		return nil, fmt.Errorf("%s is not SLSA provenance", predicateType)
	}
	f := r.f
	// The first dependency is the source.
	if uri := r.str(deps + ".0.uri"); uri != "" {
		f.SourceRepo, f.SourceRef = splitGitURI(uri)
		r.add(FactSourceRepo, deps+".0.uri", f.SourceRepo)
		r.add(FactSourceRef, deps+".0.uri", f.SourceRef)
		if f.SourceCommit = r.str(deps + ".0.digest.gitCommit"); f.SourceCommit != "" {
			r.add(FactSourceCommit, deps+".0.digest.gitCommit", f.SourceCommit)
		} else if f.SourceCommit = r.str(deps + ".0.digest.sha1"); f.SourceCommit != "" {
			r.add(FactSourceCommit, deps+".0.digest.sha1", f.SourceCommit)
		}
	}
	f.BuilderID = r.claim(FactBuilder, builder)
	r.claim(FactInvocation, invocation)

	// GitHub's buildType.
	r.claim(FactSourceRef, ext+".workflow.ref")
	r.claim(FactSourceRepo, ext+".workflow.repository")
	r.claim(FactWorkflowPath, ext+".workflow.path")
	r.claim(FactTrigger, internal+".github.event_name")
	r.claim(FactRunner, internal+".github.runner_environment")
	r.claim(FactRepoID, internal+".github.repository_id")
	r.claim(FactOwnerID, internal+".github.repository_owner_id")

	// Seal's GitLab CI buildType.
	r.claim(FactSourceRef, ext+".ref")
	r.claim(FactSourceRepo, ext+".source")
	r.claim(FactBuildConfig, ext+".configSource.uri")
	r.claim(FactBuildConfigSHA, ext+".configSource.digest.gitCommit")
	r.claim(FactTrigger, ext+".pipelineSource")
	r.claim(FactRunner, internal+".gitlab.runner_environment")
	r.claim(FactRepoID, internal+".gitlab.project_id")
	r.claim(FactOwnerID, internal+".gitlab.namespace_id")
	r.claim(FactOwner, internal+".gitlab.namespace_path")
	r.claim(FactVisibility, internal+".gitlab.project_visibility")
	r.claim(FactRefType, internal+".gitlab.ref_type")
	r.claim(FactJob, internal+".gitlab.job_id")
	r.claim(FactJob, internal+".job")
	f.RefProtected = r.str(internal + ".gitlab.ref_protected")
	return f, nil
}

func splitGitURI(uri string) (repo, ref string) {
	repo, ref, _ = strings.Cut(strings.TrimPrefix(uri, "git+"), "@")
	return repo, ref
}

// reader reads scalar fields of a decoded predicate by dotted path.
type reader struct {
	doc map[string]any
	f   *Facts
}

// str returns the field at path as text: a string, a number or a boolean
// as written (so that a number cannot dodge a check a string would meet);
// "" when absent, null, or an object or array, which is another buildType's
// field of the same name (Seal's local buildType has an object source).
func (r *reader) str(path string) string {
	var cur any = r.doc
	for p := range strings.SplitSeq(path, ".") {
		switch c := cur.(type) {
		case map[string]any:
			cur = c[p]
		case []any:
			i := 0
			if _, err := fmt.Sscanf(p, "%d", &i); err != nil || i >= len(c) {
				return ""
			}
			cur = c[i]
		default:
			return ""
		}
	}
	switch v := cur.(type) {
	case nil:
		return ""
	case string:
		return v
	case json.Number:
		return v.String()
	case bool:
		return fmt.Sprint(v)
	}
	return ""
}

// claim records the field at path as a claim about fact, and returns it.
func (r *reader) claim(fact Fact, path string) string {
	v := r.str(path)
	r.add(fact, path, v)
	return v
}

func (r *reader) add(fact Fact, field, value string) {
	if value != "" {
		r.f.Claims = append(r.f.Claims, Claim{Fact: fact, Field: field, Value: value})
	}
}
