package legacy

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"

	"github.com/sealsign/seal/internal/oci"
)

// Kind is which cosign tag a legacy layer belongs to.
type Kind int

const (
	// Signature layers live in the .sig tag: simple-signing payloads.
	Signature Kind = iota + 1
	// Attestation layers live in the .att tag: DSSE envelopes.
	Attestation
)

func (k Kind) String() string {
	switch k {
	case Signature:
		return "signature"
	case Attestation:
		return "attestation"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

func (k Kind) suffix() (string, error) {
	switch k {
	case Signature:
		return "sig", nil
	case Attestation:
		return "att", nil
	}
	return "", fmt.Errorf("unknown kind %d", int(k))
}

// Media types and annotation keys of cosign's classic signature format
// (cosign v2 pkg/oci/static, pkg/types).
const (
	SimpleSigningMediaType types.MediaType = "application/vnd.dev.cosign.simplesigning.v1+json"
	DSSEMediaType          types.MediaType = "application/vnd.dsse.envelope.v1+json"

	AnnotationSignature        = "dev.cosignproject.cosign/signature"
	AnnotationCertificate      = "dev.sigstore.cosign/certificate"
	AnnotationChain            = "dev.sigstore.cosign/chain"
	AnnotationRekorBundle      = "dev.sigstore.cosign/bundle"
	AnnotationRFC3161Timestamp = "dev.sigstore.cosign/rfc3161timestamp"
	AnnotationPredicateType    = "predicateType"
)

// maxLayers is cosign's limit; it refuses to read more.
const maxLayers = 1000

// Layer is one signature or attestation in a cosign tag: a blob and the
// annotations of its layer descriptor.
type Layer struct {
	MediaType   types.MediaType
	Payload     []byte
	Annotations map[string]string
	// Digest is the payload's digest; filled in when reading.
	Digest v1.Hash
	// Err is why the layer could not be read (Entries only): its blob
	// is missing or not what its digest promises, or the tag's manifest is
	// unreadable (then it is the tag's only entry, without a digest).
	Err error
}

// Material is the verification material cosign keeps in annotations.
type Material struct {
	// Certificate and Chain are PEM; a certificate without a chain still gets
	// the (empty) chain annotation, as cosign writes it.
	Certificate []byte
	Chain       []byte
	// RekorBundle is cosign's Rekor bundle JSON ({"SignedEntryTimestamp":…,"Payload":…}).
	RekorBundle []byte
	// RFC3161Timestamp is a DER timestamp response, stored as
	// {"SignedRFC3161Timestamp":"<base64>"}.
	RFC3161Timestamp []byte
}

func (m Material) annotate(ann map[string]string) error {
	if len(m.Certificate) > 0 {
		ann[AnnotationCertificate] = string(m.Certificate)
		ann[AnnotationChain] = string(m.Chain)
	}
	if len(m.RekorBundle) > 0 {
		if !json.Valid(m.RekorBundle) {
			return errors.New("rekor bundle is not JSON")
		}
		ann[AnnotationRekorBundle] = string(m.RekorBundle)
	}
	if len(m.RFC3161Timestamp) > 0 {
		b, err := json.Marshal(struct {
			SignedRFC3161Timestamp []byte `json:"SignedRFC3161Timestamp"`
		}{m.RFC3161Timestamp})
		if err != nil {
			return err
		}
		ann[AnnotationRFC3161Timestamp] = string(b)
	}
	return nil
}

// RekorBundle turns a Rekor v1 log entry, as a Sigstore bundle holds it, into
// the JSON of cosign's dev.sigstore.cosign/bundle annotation: the signed entry
// timestamp (SET) and the payload it signs, which is the entry's body,
// integrated time, index and log ID (hex). It returns nil for an entry
// without a SET (Rekor v2 gives none), which the annotation cannot carry.
func RekorBundle(e *protorekor.TransparencyLogEntry) ([]byte, error) {
	set := e.GetInclusionPromise().GetSignedEntryTimestamp()
	if len(set) == 0 {
		return nil, nil
	}
	if len(e.GetCanonicalizedBody()) == 0 || len(e.GetLogId().GetKeyId()) == 0 {
		return nil, errors.New("rekor entry: no body or log ID")
	}
	type payload struct {
		Body           string `json:"body"`
		IntegratedTime int64  `json:"integratedTime"`
		LogIndex       int64  `json:"logIndex"`
		LogID          string `json:"logID"`
	}
	return json.Marshal(struct {
		SignedEntryTimestamp []byte  `json:"SignedEntryTimestamp"`
		Payload              payload `json:"Payload"`
	}{set, payload{
		Body:           base64.StdEncoding.EncodeToString(e.GetCanonicalizedBody()),
		IntegratedTime: e.GetIntegratedTime(),
		LogIndex:       e.GetLogIndex(),
		LogID:          hex.EncodeToString(e.GetLogId().GetKeyId()),
	}})
}

// RekorEntry reads cosign's dev.sigstore.cosign/bundle annotation back into
// the Rekor v1 log entry a Sigstore bundle holds: the inverse of RekorBundle.
// The entry's kind and version are read from its body.
func RekorEntry(raw []byte) (*protorekor.TransparencyLogEntry, error) {
	var rb struct {
		SignedEntryTimestamp []byte
		Payload              struct {
			Body           []byte `json:"body"`
			IntegratedTime int64  `json:"integratedTime"`
			LogIndex       int64  `json:"logIndex"`
			LogID          string `json:"logID"`
		}
	}
	if err := json.Unmarshal(raw, &rb); err != nil {
		return nil, fmt.Errorf("parsing the bundle annotation: %w", err)
	}
	if len(rb.SignedEntryTimestamp) == 0 || len(rb.Payload.Body) == 0 {
		return nil, errors.New("the bundle annotation has no signed entry timestamp or no entry body")
	}
	logID, err := hex.DecodeString(rb.Payload.LogID)
	if err != nil || len(logID) == 0 {
		return nil, fmt.Errorf("decoding the log ID %q: not hex", rb.Payload.LogID)
	}
	var kind struct {
		Kind       string `json:"kind"`
		APIVersion string `json:"apiVersion"`
	}
	if err := json.Unmarshal(rb.Payload.Body, &kind); err != nil {
		return nil, fmt.Errorf("parsing the entry body: %w", err)
	}
	return &protorekor.TransparencyLogEntry{
		LogIndex:          rb.Payload.LogIndex,
		LogId:             &protocommon.LogId{KeyId: logID},
		KindVersion:       &protorekor.KindVersion{Kind: kind.Kind, Version: kind.APIVersion},
		IntegratedTime:    rb.Payload.IntegratedTime,
		InclusionPromise:  &protorekor.InclusionPromise{SignedEntryTimestamp: rb.SignedEntryTimestamp},
		CanonicalizedBody: rb.Payload.Body,
	}, nil
}

// SignatureLayer builds a .sig layer: the simple-signing payload as the blob
// and its raw signature, base64 encoded, in the signature annotation.
func SignatureLayer(payload, signature []byte, m Material) (Layer, error) {
	if len(payload) == 0 || len(signature) == 0 {
		return Layer{}, errors.New("signature layer: empty payload or signature")
	}
	ann := map[string]string{AnnotationSignature: base64.StdEncoding.EncodeToString(signature)}
	if err := m.annotate(ann); err != nil {
		return Layer{}, fmt.Errorf("signature layer: %w", err)
	}
	return Layer{MediaType: SimpleSigningMediaType, Payload: payload, Annotations: ann}, nil
}

// AttestationLayer builds a .att layer: the DSSE envelope JSON as the blob, the
// predicate type annotation, and an empty signature annotation, which cosign
// requires to be present.
func AttestationLayer(envelope []byte, predicateType string, m Material) (Layer, error) {
	if !json.Valid(envelope) {
		return Layer{}, errors.New("attestation layer: envelope is not JSON")
	}
	if predicateType == "" {
		return Layer{}, errors.New("attestation layer: empty predicate type")
	}
	ann := map[string]string{AnnotationSignature: "", AnnotationPredicateType: predicateType}
	if err := m.annotate(ann); err != nil {
		return Layer{}, fmt.Errorf("attestation layer: %w", err)
	}
	return Layer{MediaType: DSSEMediaType, Payload: envelope, Annotations: ann}, nil
}

// Signature returns the decoded signature annotation (empty for attestations).
func (l Layer) Signature() ([]byte, error) {
	s, ok := l.Annotations[AnnotationSignature]
	if !ok {
		return nil, fmt.Errorf("layer %s has no %s annotation", l.Digest, AnnotationSignature)
	}
	return base64.StdEncoding.DecodeString(s)
}

// RFC3161Timestamp returns the DER timestamp response, or nil.
func (l Layer) RFC3161Timestamp() ([]byte, error) {
	s, ok := l.Annotations[AnnotationRFC3161Timestamp]
	if !ok {
		return nil, nil
	}
	var v struct {
		SignedRFC3161Timestamp []byte `json:"SignedRFC3161Timestamp"`
	}
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		return nil, fmt.Errorf("parsing %s annotation: %w", AnnotationRFC3161Timestamp, err)
	}
	return v.SignedRFC3161Timestamp, nil
}

func (l Layer) descriptor() (v1.Descriptor, error) {
	h, size, err := v1.SHA256(bytes.NewReader(l.Payload))
	if err != nil {
		return v1.Descriptor{}, err
	}
	if l.MediaType == "" {
		return v1.Descriptor{}, errors.New("layer without media type")
	}
	return v1.Descriptor{MediaType: l.MediaType, Size: size, Digest: h, Annotations: l.Annotations}, nil
}

// Tag is the cosign tag of a subject: sha256-<hex>.sig or .att.
func Tag(s oci.Subject, kind Kind) (string, error) {
	suf, err := kind.suffix()
	if err != nil {
		return "", err
	}
	return oci.DigestTag(s.Descriptor.Digest) + "." + suf, nil
}

// Append adds layers to the subject's cosign tag, the way cosign v2 signs
// and attests, without losing layers that concurrent writers add (see
// oci.Client.AppendTag and Settle). A layer already present with the same
// blob and annotations is not added again.
//
// Requests: each new blob (1 with monolithic upload, else 2), uploaded while
// the tag update runs: GET (none when this client has just read the tag), the
// new config blob (1 or 2), a HEAD showing the tag has not moved, PUT, and the
// GET that checks it. One layer on a registry without monolithic upload: 8;
// re-publishing: 1 GET plus the blob uploads.
func Append(ctx context.Context, c *oci.Client, s oci.Subject, kind Kind, layers []Layer) (oci.Result, error) {
	tag, err := Tag(s, kind)
	if err != nil {
		return oci.Result{}, err
	}
	repo := s.Ref.Context()
	res := oci.Result{Ref: repo.Tag(tag).String()}
	if len(layers) == 0 {
		return res, fmt.Errorf("appending to %s: no layers", res.Ref)
	}
	descs := make([]v1.Descriptor, len(layers))
	for i, l := range layers {
		if descs[i], err = l.descriptor(); err != nil {
			return res, fmt.Errorf("appending to %s: layer %d: %w", res.Ref, i, err)
		}
	}
	var uniq [][]byte
	seen := map[v1.Hash]bool{}
	for i, d := range descs {
		if !seen[d.Digest] {
			seen[d.Digest] = true
			uniq = append(uniq, layers[i].Payload)
		}
	}
	// The layers upload while the tag is read and merged and its config
	// uploaded; the update waits for them before it writes the manifest.
	uploaded := make(chan error, 1)
	go func() { uploaded <- c.PutBlobs(ctx, repo, uniq) }()
	ready := sync.OnceValue(func() error { return <-uploaded })
	res, err = c.AppendTag(ctx, repo, tag, format{}, descs, ready)
	if uerr := ready(); uerr != nil && err == nil {
		err = uerr
	}
	if err != nil {
		return res, fmt.Errorf("appending to %s: %w", res.Ref, err)
	}
	return res, nil
}

// format is a cosign tag's image manifest; its entries are the layers,
// keyed by blob, media type and annotations. render rebuilds the config the way
// go-containerregistry's mutate.Append does for cosign, so a manifest Seal
// starts is byte for byte the one cosign would write.
type format struct{}

func (format) Parse(cur *oci.Manifest) ([]v1.Descriptor, any, error) {
	m := &v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.OCIManifestSchema1,
		Config:        v1.Descriptor{MediaType: types.OCIConfigJSON},
	}
	if cur != nil {
		var err error
		if m, err = parseManifest(cur.Body); err != nil {
			return nil, nil, err
		}
	}
	return m.Layers, m, nil
}

func (format) Render(entries []v1.Descriptor, rest any) (*oci.TagDocument, error) {
	m := *rest.(*v1.Manifest)
	m.Layers = entries
	if len(m.Layers) > maxLayers {
		return nil, fmt.Errorf("%d layers exceed cosign's limit of %d", len(m.Layers), maxLayers)
	}
	cfg, err := config(m.Layers)
	if err != nil {
		return nil, err
	}
	h, size, err := v1.SHA256(bytes.NewReader(cfg))
	if err != nil {
		return nil, err
	}
	if m.Config.MediaType == "" {
		m.Config.MediaType = types.OCIConfigJSON
	}
	m.Config.Digest, m.Config.Size = h, size
	if m.MediaType == "" {
		m.MediaType = types.OCIManifestSchema1
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	return &oci.TagDocument{Body: raw, MediaType: m.MediaType, Blobs: [][]byte{cfg}}, nil
}

func (format) Key(d v1.Descriptor) string {
	ann, _ := json.Marshal(d.Annotations) // sorted keys
	return d.Digest.String() + " " + string(d.MediaType) + " " + string(ann)
}

// config is the config cosign's signature images carry: an empty image
// whose rootfs lists each layer (uncompressed, so diff ID = digest) with one
// empty history entry per layer.
func config(layers []v1.Descriptor) ([]byte, error) {
	cfg := v1.ConfigFile{RootFS: v1.RootFS{Type: "layers"}}
	for _, l := range layers {
		cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, l.Digest)
		cfg.History = append(cfg.History, v1.History{})
	}
	return json.Marshal(cfg)
}

// parseManifest reads a cosign tag's manifest.
func parseManifest(b []byte) (*v1.Manifest, error) {
	var m v1.Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("parsing signature manifest: %w", err)
	}
	if m.SchemaVersion != 2 {
		return nil, fmt.Errorf("signature manifest has schemaVersion %d, want 2", m.SchemaVersion)
	}
	if m.MediaType != "" && !m.MediaType.IsImage() {
		return nil, fmt.Errorf("signature tag holds a %s, not an image manifest", m.MediaType)
	}
	for i, l := range m.Layers {
		if l.Digest.Algorithm == "" {
			return nil, fmt.Errorf("signature manifest layer %d has no digest", i)
		}
	}
	return &m, nil
}

// Read reads the layers of the subject's cosign tag; a missing tag yields
// none, and a layer that cannot be read fails the read (see Entries).
// Requests: the manifest (1) and each layer's blob (1 each).
func Read(ctx context.Context, c *oci.Client, s oci.Subject, kind Kind) ([]Layer, error) {
	ls, err := Entries(ctx, c, s, kind)
	if err != nil {
		return nil, err
	}
	for _, l := range ls {
		if l.Err != nil {
			return nil, l.Err
		}
	}
	return ls, nil
}

// Entries is Read for readers that judge each layer on its own (a
// verifier): a layer whose blob cannot be read comes back with Err set, and
// a tag whose manifest cannot be parsed as one entry with Err, instead of
// failing the read, so that one broken layer cannot hide the valid ones.
// Only a failed request for the manifest, or a cancelled context, fails.
func Entries(ctx context.Context, c *oci.Client, s oci.Subject, kind Kind) ([]Layer, error) {
	tag, err := Tag(s, kind)
	if err != nil {
		return nil, err
	}
	repo := s.Ref.Context()
	ref := repo.Tag(tag).String()
	f, err := c.ReadTag(ctx, repo, tag)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", ref, err)
	}
	if f == nil {
		return nil, nil
	}
	m, err := parseManifest(f.Body)
	if err == nil && len(m.Layers) > maxLayers {
		err = fmt.Errorf("%d layers exceed cosign's limit of %d", len(m.Layers), maxLayers)
	}
	if err != nil {
		return []Layer{{Err: fmt.Errorf("reading %s: %w", ref, err)}}, nil
	}
	// Simple-signing payloads repeat across signers: fetch each blob once.
	var uniq []v1.Hash
	seen := map[v1.Hash]bool{}
	for _, d := range m.Layers {
		if !seen[d.Digest] {
			seen[d.Digest] = true
			uniq = append(uniq, d.Digest)
		}
	}
	blobs := make([][]byte, len(uniq))
	errs := make([]error, len(uniq))
	_ = c.Parallel(len(uniq), func(i int) error {
		blobs[i], errs[i] = c.Blob(ctx, repo, uniq[i])
		return nil
	})
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", ref, err)
	}
	type blob struct {
		body []byte
		err  error
	}
	byDigest := make(map[v1.Hash]blob, len(uniq))
	for i, h := range uniq {
		byDigest[h] = blob{blobs[i], errs[i]}
	}
	out := make([]Layer, len(m.Layers))
	for i, d := range m.Layers {
		b := byDigest[d.Digest]
		out[i] = Layer{MediaType: d.MediaType, Payload: b.body, Annotations: d.Annotations, Digest: d.Digest}
		if b.err != nil {
			out[i].Payload, out[i].Err = nil, fmt.Errorf("reading %s: %w", ref, b.err)
		}
	}
	return out, nil
}
