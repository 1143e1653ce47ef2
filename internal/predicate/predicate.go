package predicate

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Predicate types.
const (
	SLSAProvenanceV02 = "https://slsa.dev/provenance/v0.2"
	SLSAProvenanceV1  = "https://slsa.dev/provenance/v1"
	SPDX              = "https://spdx.dev/Document"
	CycloneDX         = "https://cyclonedx.org/bom"
	Vuln              = "https://cosign.sigstore.dev/attestation/vuln/v1"
	Custom            = "https://cosign.sigstore.dev/attestation/v1"
	Link              = "https://in-toto.io/Link/v1"
	OpenVEX           = "https://openvex.dev/ns"
	// VSA is a SLSA Verification Summary Attestation v1: a verifier's
	// signed record of what it checked about an artifact, against which
	// policy, with which result.
	VSA = "https://slsa.dev/verification_summary/v1"
	// CosignSign is the predicate type of a cosign v3 (and Seal) image
	// signature in bundle format: a DSSE in-toto statement about the digest.
	CosignSign = "https://sigstore.dev/cosign/sign/v1"
)

// InTotoPayloadType is the DSSE payload type of in-toto statements.
const InTotoPayloadType = "application/vnd.in-toto+json"

// cosignNames are the short names `cosign attest --type` takes.
var cosignNames = map[string]string{
	"slsaprovenance":   SLSAProvenanceV02,
	"slsaprovenance02": SLSAProvenanceV02,
	"slsaprovenance1":  SLSAProvenanceV1,
	"spdx":             SPDX,
	"spdxjson":         SPDX,
	"cyclonedx":        CycloneDX,
	"vuln":             Vuln,
	"custom":           Custom,
	"link":             Link,
	"openvex":          OpenVEX,
	"vsa":              VSA,
}

// ResolveType turns a cosign short name or a URI into a predicate type URI.
func ResolveType(t string) (string, error) {
	if u, ok := cosignNames[strings.ToLower(t)]; ok {
		return u, nil
	}
	u, err := url.Parse(t)
	if err != nil || u.Scheme == "" || (u.Host == "" && u.Opaque == "") {
		return "", fmt.Errorf("unknown predicate type %q: use a URI or one of slsaprovenance, slsaprovenance1, spdx, spdxjson, cyclonedx, vuln, custom, link, openvex, vsa", t)
	}
	return t, nil
}

// Required is what an attestation of type t requires, as `seal verify
// --attestation` and `seal policy --attestation` take it: ResolveType's
// predicate type, except that cosign's "slsaprovenance" (v0.2) is met by
// either version, SLSA v1 (which Seal writes) or v0.2 (Tekton-era
// builders). Any one of the types returned satisfies the requirement.
func Required(t string) ([]string, error) {
	if strings.EqualFold(t, "slsaprovenance") {
		return []string{SLSAProvenanceV1, SLSAProvenanceV02}, nil
	}
	u, err := ResolveType(t)
	if err != nil {
		return nil, err
	}
	return []string{u}, nil
}

// Document is a predicate ready to attest.
type Document struct {
	Type string
	JSON json.RawMessage
	// Detected names the format the type was taken from ("SPDX 2.3",
	// "Trivy report"), "" when the type was given.
	Detected string
}

// ErrInvalid is wrapped by every error about a document's content.
var ErrInvalid = errors.New("invalid predicate")

// maxSize bounds what is read into memory: SBOMs of large images run to
// tens of megabytes, registries refuse much larger blobs anyway.
const maxSize = 64 << 20

// Parse reads a predicate document. typ is a cosign short name, a URI, or
// "" to detect it. Scan reports of Trivy and Grype become cosign vuln
// predicates; given --type vuln with a ready cosign vuln predicate, it is
// kept as is.
func Parse(data []byte, typ string, now time.Time) (*Document, error) {
	if len(data) > maxSize {
		return nil, fmt.Errorf("%w: document is %d bytes, more than the %d limit", ErrInvalid, len(data), maxSize)
	}
	data = bytes.TrimSpace(data)
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(data, &obj); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return nil, fmt.Errorf("%w: not JSON (at byte %d: %v)", ErrInvalid, se.Offset, err)
		}
		return nil, fmt.Errorf("%w: a predicate must be a JSON object: %v", ErrInvalid, err)
	}
	kind, detectedType := detect(obj)
	want := detectedType
	if typ != "" {
		t, err := ResolveType(typ)
		if err != nil {
			return nil, err
		}
		want = t
	}
	if want == "" {
		return nil, fmt.Errorf("%w: cannot tell what this document is (not SPDX, CycloneDX, Trivy or Grype JSON): give --type", ErrInvalid)
	}
	doc := &Document{Type: want, JSON: data}
	if typ == "" {
		doc.Detected = kind
	}
	switch want {
	case SPDX:
		if kind != "" && !strings.HasPrefix(kind, "SPDX") {
			return nil, fmt.Errorf("%w: --type spdx but the document is a %s", ErrInvalid, kind)
		}
		if err := requireFields(obj, "SPDX", "spdxVersion", "SPDXID"); err != nil {
			return nil, err
		}
	case CycloneDX:
		if kind != "" && !strings.HasPrefix(kind, "CycloneDX") {
			return nil, fmt.Errorf("%w: --type cyclonedx but the document is a %s", ErrInvalid, kind)
		}
		if err := requireFields(obj, "CycloneDX", "bomFormat", "specVersion"); err != nil {
			return nil, err
		}
	case Vuln:
		switch kind {
		case "Trivy report", "Grype report":
			wrapped, err := vulnPredicate(obj, kind, now)
			if err != nil {
				return nil, err
			}
			doc.JSON = wrapped
		case "":
			if _, ok := obj["scanner"]; !ok {
				return nil, fmt.Errorf("%w: --type vuln needs a Trivy or Grype JSON report, or a cosign vuln predicate with a \"scanner\" field", ErrInvalid)
			}
		default:
			return nil, fmt.Errorf("%w: --type vuln but the document is a %s", ErrInvalid, kind)
		}
	}
	return doc, nil
}

func requireFields(obj map[string]json.RawMessage, what string, fields ...string) error {
	for _, f := range fields {
		if _, ok := obj[f]; !ok {
			return fmt.Errorf("%w: %s document has no %q field", ErrInvalid, what, f)
		}
	}
	return nil
}

// detect names the document's format and its natural predicate type.
func detect(obj map[string]json.RawMessage) (kind, typ string) {
	str := func(k string) string {
		var s string
		_ = json.Unmarshal(obj[k], &s)
		return s
	}
	switch {
	case str("spdxVersion") != "":
		return strings.Replace(str("spdxVersion"), "-", " ", 1), SPDX
	case str("bomFormat") == "CycloneDX":
		return "CycloneDX " + str("specVersion"), CycloneDX
	case obj["SchemaVersion"] != nil && obj["ArtifactName"] != nil:
		return "Trivy report", Vuln
	case obj["matches"] != nil && obj["descriptor"] != nil:
		return "Grype report", Vuln
	}
	return "", ""
}

// vulnPredicate wraps a scanner's report in cosign's vuln predicate
// (cosign specs/COSIGN_VULN_ATTESTATION_SPEC.md), as `cosign attest
// --type vuln` does.
func vulnPredicate(obj map[string]json.RawMessage, kind string, now time.Time) (json.RawMessage, error) {
	raw, err := json.Marshal(obj)
	if err != nil {
		return nil, err
	}
	var scanner struct {
		URI     string `json:"uri"`
		Version string `json:"version"`
	}
	switch kind {
	case "Trivy report":
		scanner.URI = "pkg:github/aquasecurity/trivy"
		var r struct {
			Trivy struct {
				Version string `json:"Version"`
			} `json:"Trivy"`
		}
		_ = json.Unmarshal(raw, &r)
		scanner.Version = r.Trivy.Version
	case "Grype report":
		scanner.URI = "pkg:github/anchore/grype"
		var r struct {
			Descriptor struct {
				Version string `json:"version"`
			} `json:"descriptor"`
		}
		_ = json.Unmarshal(raw, &r)
		scanner.Version = r.Descriptor.Version
	}
	ts := now.UTC().Format(time.RFC3339)
	return json.Marshal(map[string]any{
		"invocation": map[string]any{"parameters": nil, "uri": "", "event_id": "", "builder.id": ""},
		"scanner": map[string]any{
			"uri":     scanner.URI,
			"version": scanner.Version,
			"db":      map[string]any{"uri": "", "version": ""},
			"result":  json.RawMessage(raw),
		},
		"metadata": map[string]any{"scanStartedOn": ts, "scanFinishedOn": ts},
	})
}
