package publish

import (
	"context"
	"testing"
)

// record is a Record attestation: each document is one event.
type record struct{ Predicate }

func (record) Record() {}

// TestRecordsArePublishedBesideEarlierOnes: a record of a type the signer
// already published is published beside it, in both formats; the very
// same record again is reported as existing.
func TestRecordsArePublishedBesideEarlierOnes(t *testing.T) {
	signer, reg, ref := setup(t)
	p, err := New(signer, reg)
	if err != nil {
		t.Fatal(err)
	}
	const vsa = "https://slsa.dev/verification_summary/v1"
	publish := func(doc string) map[bool]int {
		t.Helper()
		rep, err := p.Publish(context.Background(), Request{Ref: ref, Attestations: []Attestation{record{Predicate{Type: vsa, JSON: []byte(doc)}}}})
		if err != nil {
			t.Fatalf("Publish() = %v", err)
		}
		existed := map[bool]int{}
		for _, it := range rep.Items {
			existed[it.Existed]++
		}
		return existed
	}
	if got := publish(`{"timeVerified":"2026-12-03T08:00:00Z"}`); got[false] != 2 {
		t.Errorf("first record: %v, want both formats written", got)
	}
	if got := publish(`{"timeVerified":"2026-12-03T09:00:00Z"}`); got[false] != 2 {
		t.Errorf("a later record: %v, want both formats written beside the first", got)
	}
	if got := publish(`{"timeVerified":"2026-12-03T09:00:00Z"}`); got[true] != 2 || got[false] != 0 {
		t.Errorf("the same record again: %v, want both formats reported as existing", got)
	}
	// The first record is still found among the others.
	if got := publish(`{"timeVerified":"2026-12-03T08:00:00Z"}`); got[true] != 2 {
		t.Errorf("the first record again: %v, want it found among the others", got)
	}
}
