package provenance

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	slsa1 "github.com/in-toto/attestation/go/predicates/provenance/v1"
	intoto "github.com/in-toto/attestation/go/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/sealsign/seal/internal/ci"
	"github.com/sealsign/seal/internal/predicate"
	"github.com/sealsign/seal/internal/subject"
)

// BuildTypes Seal writes.
const (
	BuildTypeGitHub = "https://actions.github.io/buildtypes/workflow/v1"
	BuildTypeGitLab = "https://github.com/sealsign/seal/blob/main/docs/buildtypes/gitlab-ci/v1.md"
	BuildTypeLocal  = "https://github.com/sealsign/seal/blob/main/docs/buildtypes/local/v1.md"
	// LocalBuilderID names a build nobody but its author vouches for.
	LocalBuilderID = "https://github.com/sealsign/seal/blob/main/docs/buildtypes/local/v1.md#builder"
)

// Version selects the SLSA provenance version.
type Version string

// Supported versions.
const (
	V1  Version = "1"
	V02 Version = "0.2"
)

// ParseVersion accepts "1", "1.0", "v1", "0.2", "v0.2".
func ParseVersion(s string) (Version, error) {
	switch s {
	case "1", "1.0", "1.1", "v1", "v1.0", "":
		return V1, nil
	case "0.2", "v0.2":
		return V02, nil
	}
	return "", fmt.Errorf("unsupported SLSA version %q (use 1 or 0.2)", s)
}

type options struct {
	version    Version
	finishedOn time.Time
}

// Option configures Generate.
type Option func(*options) error

// WithVersion selects SLSA v1 (default) or v0.2.
func WithVersion(v Version) Option {
	return func(o *options) error {
		if v != V1 && v != V02 {
			return fmt.Errorf("unsupported SLSA version %q", v)
		}
		o.version = v
		return nil
	}
}

// WithFinishedOn records when the build finished.
func WithFinishedOn(t time.Time) Option {
	return func(o *options) error { o.finishedOn = t; return nil }
}

// Provenance is a generated, validated document.
type Provenance struct {
	statement *intoto.Statement
}

// ErrNoSubject is returned when there is nothing to attest.
var ErrNoSubject = errors.New("provenance needs at least one subject")

// Generate builds the provenance of subjects from the job's metadata.
func Generate(md *ci.Metadata, subjects []subject.Subject, opts ...Option) (*Provenance, error) {
	o := &options{version: V1}
	for _, opt := range opts {
		if err := opt(o); err != nil {
			return nil, err
		}
	}
	if md == nil {
		return nil, errors.New("provenance needs build metadata")
	}
	if len(subjects) == 0 {
		return nil, ErrNoSubject
	}
	p, b, err := predicateV1(md, o)
	if err != nil {
		return nil, err
	}
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("invalid SLSA v1 provenance: %w", err)
	}
	st := &intoto.Statement{Type: intoto.StatementTypeUri, PredicateType: predicate.SLSAProvenanceV1}
	var pred proto.Message = p
	if o.version == V02 {
		// v0.2 verifiers expect the Statement v0.1 type with it.
		st.Type = "https://in-toto.io/Statement/v0.1"
		st.PredicateType = predicate.SLSAProvenanceV02
		pred = toV02(p, b)
	}
	if st.Predicate, err = toStruct(pred); err != nil {
		return nil, err
	}
	for _, s := range subjects {
		st.Subject = append(st.Subject, &intoto.ResourceDescriptor{Name: s.Name, Digest: s.Digest})
	}
	if err := st.Validate(); err != nil {
		return nil, fmt.Errorf("invalid in-toto statement: %w", err)
	}
	return &Provenance{statement: st}, nil
}

// PredicateType is the predicate's type URI.
func (p *Provenance) PredicateType() string { return p.statement.GetPredicateType() }

// Statement is the whole in-toto Statement as indented JSON.
func (p *Provenance) Statement() ([]byte, error) { return marshal(p.statement) }

// Predicate is only the predicate, as `cosign attest --predicate` takes it.
func (p *Provenance) Predicate() ([]byte, error) { return marshal(p.statement.GetPredicate()) }

// marshal gives stable, indented JSON: protojson deliberately varies its
// whitespace, so the output is re-indented.
func marshal(m proto.Message) ([]byte, error) {
	b, err := protojson.MarshalOptions{UseProtoNames: false}.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encoding provenance: %w", err)
	}
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		return nil, fmt.Errorf("encoding provenance: %w", err)
	}
	out.WriteByte('\n')
	return out.Bytes(), nil
}

func toStruct(m proto.Message) (*structpb.Struct, error) {
	b, err := protojson.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encoding predicate: %w", err)
	}
	s := &structpb.Struct{}
	if err := protojson.Unmarshal(b, s); err != nil {
		return nil, fmt.Errorf("encoding predicate: %w", err)
	}
	return s, nil
}

// params is an ordered-by-key parameter object that drops empty values,
// so that absent metadata is absent rather than "".
type params map[string]any

func (p params) set(k string, v any) params {
	switch x := v.(type) {
	case string:
		if x == "" {
			return p
		}
	case params:
		if len(x) == 0 {
			return p
		}
		v = map[string]any(x)
	case map[string]any:
		if len(x) == 0 {
			return p
		}
	case []any:
		if len(x) == 0 {
			return p
		}
	case nil:
		return p
	}
	p[k] = v
	return p
}

func (p params) structpb() (*structpb.Struct, error) {
	if len(p) == 0 {
		return nil, nil
	}
	s, err := structpb.NewStruct(map[string]any(p))
	if err != nil {
		return nil, fmt.Errorf("encoding parameters: %w", err)
	}
	return s, nil
}

func strings2any(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

func predicateV1(md *ci.Metadata, o *options) (*slsa1.Provenance, *build, error) {
	var (
		b   *build
		err error
	)
	switch md.Provider {
	case "github":
		b, err = github(md)
	case "gitlab":
		b, err = gitlab(md)
	case "local":
		b, err = local(md)
	default:
		return nil, nil, fmt.Errorf("no provenance buildType for CI provider %q", md.Provider)
	}
	if err != nil {
		return nil, nil, err
	}
	ext, err := b.external.structpb()
	if err != nil {
		return nil, nil, err
	}

	in, err := b.internal.structpb()
	if err != nil {
		return nil, nil, err
	}
	meta := &slsa1.BuildMetadata{InvocationId: b.invocationID}
	if !md.StartedOn.IsZero() {
		meta.StartedOn = timestamppb.New(md.StartedOn.Truncate(time.Second))
	}
	if !o.finishedOn.IsZero() {
		meta.FinishedOn = timestamppb.New(o.finishedOn.UTC().Truncate(time.Second))
	}
	return &slsa1.Provenance{
		BuildDefinition: &slsa1.BuildDefinition{
			BuildType:            b.buildType,
			ExternalParameters:   ext,
			InternalParameters:   in,
			ResolvedDependencies: b.deps,
		},
		RunDetails: &slsa1.RunDetails{
			Builder:  &slsa1.Builder{Id: b.builderID, Version: b.builderVersion},
			Metadata: meta,
		},
	}, b, nil
}

// build is a buildType's view of the metadata.
type build struct {
	buildType      string
	external       params
	internal       params
	deps           []*intoto.ResourceDescriptor
	builderID      string
	builderVersion map[string]string
	invocationID   string
	// configSource feeds v0.2's invocation.configSource.
	configURI, configDigest, entryPoint string
}

func sourceDep(uri, commit string) []*intoto.ResourceDescriptor {
	if uri == "" {
		return nil
	}
	d := &intoto.ResourceDescriptor{Uri: uri}
	if commit != "" {
		d.Digest = map[string]string{"gitCommit": commit}
	}
	return []*intoto.ResourceDescriptor{d}
}
