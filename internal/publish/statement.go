package publish

import (
	"encoding/json"
	"errors"
	"time"

	intoto "github.com/in-toto/attestation/go/v1"

	"github.com/sealsign/seal/internal/ci"
	"github.com/sealsign/seal/internal/predicate"
	"github.com/sealsign/seal/internal/provenance"
	"github.com/sealsign/seal/internal/subject"
)

// Attestation makes the in-toto statement to sign for one subject.
type Attestation interface {
	PredicateType() string
	Statement(s subject.Subject) ([]byte, error)
}

// Predicate is a ready predicate document (SBOM, scan, custom) of a type.
type Predicate struct {
	Type string
	JSON json.RawMessage
}

// PredicateType returns p.Type.
func (p Predicate) PredicateType() string { return p.Type }

// Statement wraps the predicate in an in-toto Statement v1 about s.
func (p Predicate) Statement(s subject.Subject) ([]byte, error) {
	if p.Type == "" {
		return nil, errors.New("predicate type is empty")
	}
	return predicate.Statement(p.Type, p.JSON, &intoto.ResourceDescriptor{Name: s.Name, Digest: s.Digest})
}

// Provenance generates SLSA provenance of the job for each subject.
type Provenance struct {
	Metadata   *ci.Metadata
	Version    provenance.Version
	FinishedOn time.Time
}

// PredicateType is SLSA v1's unless v0.2 was asked for.
func (p Provenance) PredicateType() string {
	if p.Version == provenance.V02 {
		return predicate.SLSAProvenanceV02
	}
	return predicate.SLSAProvenanceV1
}

// Statement generates the provenance statement about s.
func (p Provenance) Statement(s subject.Subject) ([]byte, error) {
	opts := []provenance.Option{provenance.WithFinishedOn(p.FinishedOn)}
	if p.Version != "" {
		opts = append(opts, provenance.WithVersion(p.Version))
	}
	pr, err := provenance.Generate(p.Metadata, []subject.Subject{s}, opts...)
	if err != nil {
		return nil, err
	}
	return pr.Statement()
}

// signStatement is what cosign v3 signs for an image signature in bundle
// format: an in-toto statement about the digest with an empty predicate.
func signStatement(s subject.Subject) ([]byte, error) {
	return predicate.Statement(predicate.CosignSign, json.RawMessage(`{}`), &intoto.ResourceDescriptor{Digest: s.Digest})
}

// simpleSigning is cosign's legacy signature payload (Red Hat simple signing).
func simpleSigning(repo, digest string) ([]byte, error) {
	type critical struct {
		Identity struct {
			DockerReference string `json:"docker-reference"`
		} `json:"identity"`
		Image struct {
			DockerManifestDigest string `json:"docker-manifest-digest"`
		} `json:"image"`
		Type string `json:"type"`
	}
	var p struct {
		Critical critical `json:"critical"`
		Optional any      `json:"optional"`
	}
	p.Critical.Identity.DockerReference = repo
	p.Critical.Image.DockerManifestDigest = digest
	p.Critical.Type = "cosign container image signature"
	return json.Marshal(p)
}
