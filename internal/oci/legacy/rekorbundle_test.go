package legacy

import (
	"encoding/json"
	"testing"

	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
)

// TestRekorBundle: a Rekor v1 entry becomes cosign's bundle annotation
// (base64 body, hex log ID, the SET); an entry without a SET (Rekor v2)
// gives nothing, and one without a body is an error.
func TestRekorBundle(t *testing.T) {
	e := &protorekor.TransparencyLogEntry{
		LogIndex:          42,
		LogId:             &protocommon.LogId{KeyId: []byte{0xc0, 0xff, 0xee}},
		IntegratedTime:    1700000000,
		InclusionPromise:  &protorekor.InclusionPromise{SignedEntryTimestamp: []byte("set")},
		CanonicalizedBody: []byte(`{"kind":"hashedrekord"}`),
	}
	b, err := RekorBundle(e)
	if err != nil {
		t.Fatalf("RekorBundle() = %v", err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"SignedEntryTimestamp": "c2V0",
		"Payload": map[string]any{
			"body": "eyJraW5kIjoiaGFzaGVkcmVrb3JkIn0=", "integratedTime": 1700000000.0, "logIndex": 42.0, "logID": "c0ffee",
		},
	}
	if gotJSON, wantJSON := mustJSON(t, got), mustJSON(t, want); gotJSON != wantJSON {
		t.Errorf("RekorBundle() = %s, want %s", gotJSON, wantJSON)
	}

	v2 := &protorekor.TransparencyLogEntry{LogIndex: 1, CanonicalizedBody: []byte("{}"), LogId: e.LogId}
	if b, err := RekorBundle(v2); b != nil || err != nil {
		t.Errorf("RekorBundle(no SET) = %s, %v; want nothing", b, err)
	}
	e.CanonicalizedBody = nil
	if _, err := RekorBundle(e); err == nil {
		t.Error("RekorBundle(no body) succeeded")
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
