package predicate

import (
	"bytes"
	"encoding/json"
	"fmt"

	intoto "github.com/in-toto/attestation/go/v1"
	"google.golang.org/protobuf/types/known/structpb"
)

// Statement is the one construction of the in-toto Statement v1 that Seal
// signs around a ready predicate (an SBOM, a scan report, custom JSON, a
// verification summary, cosign's empty signature predicate): the statement's
// own fields are checked with the in-toto bindings' Validate, and the
// predicate is written as given, compacted, its numbers and strings as they
// are (through the bindings' struct type its numbers would become float64s,
// and an SBOM's large integers would change). HTML characters are not escaped.
func Statement(predicateType string, pred json.RawMessage, subjects ...*intoto.ResourceDescriptor) ([]byte, error) {
	if t := bytes.TrimSpace(pred); len(t) == 0 || t[0] != '{' || !json.Valid(t) {
		return nil, fmt.Errorf("%w: the predicate of type %s is not a JSON object", ErrInvalid, predicateType)
	}
	// The predicate is checked above; Validate needs one to be present.
	st := &intoto.Statement{Type: intoto.StatementTypeUri, Subject: subjects, PredicateType: predicateType, Predicate: &structpb.Struct{}}
	if err := st.Validate(); err != nil {
		return nil, fmt.Errorf("invalid in-toto statement: %w", err)
	}
	type resource struct {
		Name   string            `json:"name,omitempty"`
		Digest map[string]string `json:"digest"`
	}
	doc := struct {
		Type          string          `json:"_type"`
		Subject       []resource      `json:"subject"`
		PredicateType string          `json:"predicateType"`
		Predicate     json.RawMessage `json:"predicate"`
	}{Type: st.GetType(), PredicateType: predicateType, Predicate: bytes.TrimSpace(pred)}
	for _, s := range subjects {
		doc.Subject = append(doc.Subject, resource{Name: s.GetName(), Digest: s.GetDigest()})
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("encoding the in-toto statement: %w", err)
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}
