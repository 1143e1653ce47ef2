package legacy

import (
	"encoding/json"
	"strings"
	"testing"

	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	"google.golang.org/protobuf/proto"
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

// TestRekorEntryRoundTrip: RekorEntry reads back what RekorBundle writes, the
// entry's kind and version taken from its body; broken annotations are errors.
func TestRekorEntryRoundTrip(t *testing.T) {
	e := &protorekor.TransparencyLogEntry{
		LogIndex:          42,
		LogId:             &protocommon.LogId{KeyId: []byte{0xc0, 0xff, 0xee}},
		KindVersion:       &protorekor.KindVersion{Kind: "hashedrekord", Version: "0.0.1"},
		IntegratedTime:    1700000000,
		InclusionPromise:  &protorekor.InclusionPromise{SignedEntryTimestamp: []byte("set")},
		CanonicalizedBody: []byte(`{"apiVersion":"0.0.1","kind":"hashedrekord","spec":{}}`),
	}
	b, err := RekorBundle(e)
	if err != nil {
		t.Fatalf("RekorBundle() = %v", err)
	}
	got, err := RekorEntry(b)
	if err != nil {
		t.Fatalf("RekorEntry(RekorBundle()) = %v", err)
	}
	if !proto.Equal(got, e) {
		t.Errorf("RekorEntry(RekorBundle(e)) = %v, want %v", got, e)
	}
	for _, tc := range []struct{ name, raw, want string }{
		{"not JSON", `{`, "parsing the bundle annotation"},
		{"no SET", `{"Payload":{"body":"e30=","logID":"c0ffee"}}`, "no signed entry timestamp"},
		{"log ID not hex", `{"SignedEntryTimestamp":"c2V0","Payload":{"body":"e30=","logID":"zz"}}`, "not hex"},
		{"body not JSON", `{"SignedEntryTimestamp":"c2V0","Payload":{"body":"bm9wZQ==","logID":"c0ffee"}}`, "parsing the entry body"},
	} {
		if _, err := RekorEntry([]byte(tc.raw)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: RekorEntry() = %v, want an error saying %q", tc.name, err, tc.want)
		}
	}
}
