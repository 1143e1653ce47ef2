package oci

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
	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
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

// maxLegacyLayers is cosign's limit; it refuses to read more.
const maxLegacyLayers = 1000

// LegacyLayer is one signature or attestation in a cosign tag: a blob and the
// annotations of its layer descriptor.
type LegacyLayer struct {
	MediaType   types.MediaType
	Payload     []byte
	Annotations map[string]string
	// Digest is the payload's digest; filled in when reading.
	Digest v1.Hash
	// Err is why the layer could not be read (LegacyEntries only): its blob
	// is missing or not what its digest promises, or the tag's manifest is
	// unreadable (then it is the tag's only entry, without a digest).
	Err error
}

// LegacyMaterial is the verification material cosign keeps in annotations.
type LegacyMaterial struct {
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

func (m LegacyMaterial) annotate(ann map[string]string) error {
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

// SignatureLayer builds a .sig layer: the simple-signing payload as the blob
// and its raw signature, base64 encoded, in the signature annotation.
func SignatureLayer(payload, signature []byte, m LegacyMaterial) (LegacyLayer, error) {
	if len(payload) == 0 || len(signature) == 0 {
		return LegacyLayer{}, errors.New("signature layer: empty payload or signature")
	}
	ann := map[string]string{AnnotationSignature: base64.StdEncoding.EncodeToString(signature)}
	if err := m.annotate(ann); err != nil {
		return LegacyLayer{}, fmt.Errorf("signature layer: %w", err)
	}
	return LegacyLayer{MediaType: SimpleSigningMediaType, Payload: payload, Annotations: ann}, nil
}

// AttestationLayer builds a .att layer: the DSSE envelope JSON as the blob, the
// predicate type annotation, and an empty signature annotation, which cosign
// requires to be present.
func AttestationLayer(envelope []byte, predicateType string, m LegacyMaterial) (LegacyLayer, error) {
	if !json.Valid(envelope) {
		return LegacyLayer{}, errors.New("attestation layer: envelope is not JSON")
	}
	if predicateType == "" {
		return LegacyLayer{}, errors.New("attestation layer: empty predicate type")
	}
	ann := map[string]string{AnnotationSignature: "", AnnotationPredicateType: predicateType}
	if err := m.annotate(ann); err != nil {
		return LegacyLayer{}, fmt.Errorf("attestation layer: %w", err)
	}
	return LegacyLayer{MediaType: DSSEMediaType, Payload: envelope, Annotations: ann}, nil
}

// Signature returns the decoded signature annotation (empty for attestations).
func (l LegacyLayer) Signature() ([]byte, error) {
	s, ok := l.Annotations[AnnotationSignature]
	if !ok {
		return nil, fmt.Errorf("layer %s has no %s annotation", l.Digest, AnnotationSignature)
	}
	return base64.StdEncoding.DecodeString(s)
}

// RFC3161Timestamp returns the DER timestamp response, or nil.
func (l LegacyLayer) RFC3161Timestamp() ([]byte, error) {
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

func (l LegacyLayer) descriptor() (v1.Descriptor, error) {
	h, size, err := v1.SHA256(bytes.NewReader(l.Payload))
	if err != nil {
		return v1.Descriptor{}, err
	}
	if l.MediaType == "" {
		return v1.Descriptor{}, errors.New("layer without media type")
	}
	return v1.Descriptor{MediaType: l.MediaType, Size: size, Digest: h, Annotations: l.Annotations}, nil
}

// LegacyTag is the cosign tag of a subject: sha256-<hex>.sig or .att.
func LegacyTag(s Subject, kind Kind) (string, error) {
	suf, err := kind.suffix()
	if err != nil {
		return "", err
	}
	return fallbackTag(s.Descriptor.Digest) + "." + suf, nil
}

// AppendLegacy adds layers to the subject's cosign tag, the way cosign v2 signs
// and attests, without losing layers that concurrent writers add (see Settle).
// A layer already present with the same blob and annotations is not added again.
//
// Requests: each new blob (1 with monolithic upload, else 2), uploaded while
// the tag update runs: GET (none when this client has just read the tag), the
// new config blob (1 or 2), a HEAD showing the tag has not moved, PUT, and the
// GET that checks it. One layer on a registry without monolithic upload: 8;
// re-publishing: 1 GET plus the blob uploads.
func (c *Client) AppendLegacy(ctx context.Context, s Subject, kind Kind, layers []LegacyLayer) (Result, error) {
	tag, err := LegacyTag(s, kind)
	if err != nil {
		return Result{}, err
	}
	repo := s.Ref.Context()
	res := Result{Ref: repo.Tag(tag).String()}
	if len(layers) == 0 {
		return res, fmt.Errorf("appending to %s: no layers", res.Ref)
	}
	descs := make([]v1.Descriptor, len(layers))
	for i, l := range layers {
		if descs[i], err = l.descriptor(); err != nil {
			return res, fmt.Errorf("appending to %s: layer %d: %w", res.Ref, i, err)
		}
	}
	rc, err := c.repo(ctx, repo, true)
	if err != nil {
		return res, fmt.Errorf("appending to %s: %w", res.Ref, err)
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
	go func() {
		uploaded <- c.parallel(len(uniq), func(i int) error {
			_, err := c.putBlob(ctx, rc, uniq[i])
			return err
		})
	}()
	ready := sync.OnceValue(func() error { return <-uploaded })
	u := tagUpdate{repo: repo, tag: tag, format: legacyFormat{}, entries: descs, ready: ready}
	c.remember(u)
	out, err := c.updateTag(ctx, rc, u)
	if uerr := ready(); uerr != nil && err == nil {
		err = uerr
	}
	if err != nil {
		return res, fmt.Errorf("appending to %s: %w", res.Ref, err)
	}
	res.Existed = !out.wrote
	if out.final != nil {
		res.Descriptor = v1.Descriptor{MediaType: out.final.mediaType, Digest: out.final.digest, Size: int64(len(out.final.body))}
	}
	return res, nil
}

// legacyFormat is a cosign tag's image manifest; its entries are the layers,
// keyed by blob, media type and annotations. render rebuilds the config the way
// go-containerregistry's mutate.Append does for cosign, so a manifest Seal
// starts is byte for byte the one cosign would write.
type legacyFormat struct{}

func (legacyFormat) parse(cur *fetched) ([]v1.Descriptor, any, error) {
	m := &v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.OCIManifestSchema1,
		Config:        v1.Descriptor{MediaType: types.OCIConfigJSON},
	}
	if cur != nil {
		var err error
		if m, err = parseLegacyManifest(cur.body); err != nil {
			return nil, nil, err
		}
	}
	return m.Layers, m, nil
}

func (legacyFormat) render(entries []v1.Descriptor, rest any) (*tagPlan, error) {
	m := *rest.(*v1.Manifest)
	m.Layers = entries
	if len(m.Layers) > maxLegacyLayers {
		return nil, fmt.Errorf("%d layers exceed cosign's limit of %d", len(m.Layers), maxLegacyLayers)
	}
	cfg, err := legacyConfig(m.Layers)
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
	return &tagPlan{body: raw, mediaType: m.MediaType, blobs: [][]byte{cfg}}, nil
}

func (legacyFormat) key(d v1.Descriptor) string {
	ann, _ := json.Marshal(d.Annotations) // sorted keys
	return d.Digest.String() + " " + string(d.MediaType) + " " + string(ann)
}

// legacyConfig is the config cosign's signature images carry: an empty image
// whose rootfs lists each layer (uncompressed, so diff ID = digest) with one
// empty history entry per layer.
func legacyConfig(layers []v1.Descriptor) ([]byte, error) {
	cfg := v1.ConfigFile{RootFS: v1.RootFS{Type: "layers"}}
	for _, l := range layers {
		cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, l.Digest)
		cfg.History = append(cfg.History, v1.History{})
	}
	return json.Marshal(cfg)
}

// parseLegacyManifest reads a cosign tag's manifest.
func parseLegacyManifest(b []byte) (*v1.Manifest, error) {
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

// Legacy reads the layers of the subject's cosign tag; a missing tag yields
// none, and a layer that cannot be read fails the read (see LegacyEntries).
// Requests: the manifest (1) and each layer's blob (1 each).
func (c *Client) Legacy(ctx context.Context, s Subject, kind Kind) ([]LegacyLayer, error) {
	ls, err := c.LegacyEntries(ctx, s, kind)
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

// LegacyEntries is Legacy for readers that judge each layer on its own (a
// verifier): a layer whose blob cannot be read comes back with Err set, and
// a tag whose manifest cannot be parsed as one entry with Err, instead of
// failing the read, so that one broken layer cannot hide the valid ones.
// Only a failed request for the manifest, or a cancelled context, fails.
func (c *Client) LegacyEntries(ctx context.Context, s Subject, kind Kind) ([]LegacyLayer, error) {
	tag, err := LegacyTag(s, kind)
	if err != nil {
		return nil, err
	}
	ref := s.Ref.Context().Tag(tag).String()
	rc, err := c.repo(ctx, s.Ref.Context(), false)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", ref, err)
	}
	f, err := c.getManifest(ctx, rc, tag)
	if errors.Is(err, ErrNotFound) {
		c.noteRead(s.Ref.Context(), tag, nil)
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", ref, err)
	}
	c.noteRead(s.Ref.Context(), tag, f)
	m, err := parseLegacyManifest(f.body)
	if err == nil && len(m.Layers) > maxLegacyLayers {
		err = fmt.Errorf("%d layers exceed cosign's limit of %d", len(m.Layers), maxLegacyLayers)
	}
	if err != nil {
		return []LegacyLayer{{Err: fmt.Errorf("reading %s: %w", ref, err)}}, nil
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
	_ = c.parallel(len(uniq), func(i int) error {
		blobs[i], errs[i] = c.getBlob(ctx, rc, uniq[i])
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
	out := make([]LegacyLayer, len(m.Layers))
	for i, d := range m.Layers {
		b := byDigest[d.Digest]
		out[i] = LegacyLayer{MediaType: d.MediaType, Payload: b.body, Annotations: d.Annotations, Digest: d.Digest}
		if b.err != nil {
			out[i].Payload, out[i].Err = nil, fmt.Errorf("reading %s: %w", ref, b.err)
		}
	}
	return out, nil
}
