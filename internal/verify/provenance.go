package verify

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Provenance predicate types.
const (
	SLSAv1  = "https://slsa.dev/provenance/v1"
	SLSAv02 = "https://slsa.dev/provenance/v0.2"
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
	if st.PredicateType != SLSAv1 && st.PredicateType != SLSAv02 {
		return nil
	}
	facts, err := ProvenanceFacts(st.PredicateType, st.Predicate)
	if err != nil {
		return err
	}
	if cs := f.Certificate; cs != nil {
		// The signer's certificate says which repository and commit the
		// run was for; provenance claiming another source is forged or
		// copied.
		if cs.SourceRepositoryURI != "" && facts.SourceRepo != "" && !sameRepo(cs.SourceRepositoryURI, facts.SourceRepo) {
			return fmt.Errorf("provenance names source %s but the signer's certificate was issued for %s", facts.SourceRepo, cs.SourceRepositoryURI)
		}
		if cs.SourceRepositoryDigest != "" && facts.SourceCommit != "" && cs.SourceRepositoryDigest != facts.SourceCommit {
			return fmt.Errorf("provenance names commit %s but the signer's certificate was issued for commit %s", facts.SourceCommit, cs.SourceRepositoryDigest)
		}
	}
	pc := c.p.Provenance
	if pc == nil {
		return nil
	}
	var errs []error
	if pc.SourceRepo != "" && !sameRepo(facts.SourceRepo, pc.SourceRepo) {
		errs = append(errs, fmt.Errorf("provenance source repository is %q, want %q", facts.SourceRepo, pc.SourceRepo))
	}
	if pc.SourceRef != "" && facts.SourceRef != qualifyRef(pc.SourceRef) {
		errs = append(errs, fmt.Errorf("provenance source ref is %q, want %q", facts.SourceRef, qualifyRef(pc.SourceRef)))
	}
	if pc.BuilderID != "" && facts.BuilderID != pc.BuilderID {
		errs = append(errs, fmt.Errorf("provenance builder is %q, want %q", facts.BuilderID, pc.BuilderID))
	}
	if pc.ProtectedRef && facts.RefProtected != "true" {
		got := facts.RefProtected
		if got == "" {
			got = "not recorded"
		}
		errs = append(errs, fmt.Errorf("provenance does not show a protected ref (ref_protected: %s)", got))
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
// predicate.
func ProvenanceFacts(predicateType string, pred []byte) (*Facts, error) {
	f := &Facts{}
	splitDep := func(uri string, digest map[string]string) {
		u := strings.TrimPrefix(uri, "git+")
		repo, ref, _ := strings.Cut(u, "@")
		f.SourceRepo, f.SourceRef = repo, ref
		if c := digest["gitCommit"]; c != "" {
			f.SourceCommit = c
		} else {
			f.SourceCommit = digest["sha1"]
		}
	}
	switch predicateType {
	case SLSAv1:
		var p struct {
			BuildDefinition struct {
				BuildType          string `json:"buildType"`
				InternalParameters struct {
					GitLab struct {
						RefProtected string `json:"ref_protected"`
					} `json:"gitlab"`
				} `json:"internalParameters"`
				ResolvedDependencies []struct {
					URI    string            `json:"uri"`
					Digest map[string]string `json:"digest"`
				} `json:"resolvedDependencies"`
			} `json:"buildDefinition"`
			RunDetails struct {
				Builder struct {
					ID string `json:"id"`
				} `json:"builder"`
			} `json:"runDetails"`
		}
		if err := json.Unmarshal(pred, &p); err != nil {
			return nil, fmt.Errorf("parsing SLSA v1 provenance: %w", err)
		}
		if d := p.BuildDefinition.ResolvedDependencies; len(d) > 0 {
			splitDep(d[0].URI, d[0].Digest)
		}
		f.BuildType, f.BuilderID = p.BuildDefinition.BuildType, p.RunDetails.Builder.ID
		f.RefProtected = p.BuildDefinition.InternalParameters.GitLab.RefProtected
	case SLSAv02:
		var p struct {
			BuildType string `json:"buildType"`
			Builder   struct {
				ID string `json:"id"`
			} `json:"builder"`
			Invocation struct {
				Environment struct {
					GitLab struct {
						RefProtected string `json:"ref_protected"`
					} `json:"gitlab"`
				} `json:"environment"`
			} `json:"invocation"`
			Materials []struct {
				URI    string            `json:"uri"`
				Digest map[string]string `json:"digest"`
			} `json:"materials"`
		}
		if err := json.Unmarshal(pred, &p); err != nil {
			return nil, fmt.Errorf("parsing SLSA v0.2 provenance: %w", err)
		}
		if len(p.Materials) > 0 {
			splitDep(p.Materials[0].URI, p.Materials[0].Digest)
		}
		f.BuildType, f.BuilderID = p.BuildType, p.Builder.ID
		f.RefProtected = p.Invocation.Environment.GitLab.RefProtected
	default:
		return nil, fmt.Errorf("%s is not SLSA provenance", predicateType)
	}
	return f, nil
}
