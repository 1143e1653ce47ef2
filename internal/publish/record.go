package publish

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
)

// Record is implemented by attestations that record one event, such as a
// verification summary (when it verified, against which policy, with
// which result): a statement of the type the signer published before is
// another record, not this one. A Record is skipped as existing only when
// the very same statement is already there, so a re-run of the same record
// publishes nothing twice and a new record is always published.
type Record interface {
	Attestation
	Record()
}

// statementKey names a statement in the map of what a signer already
// published: a digest, which no predicate type URI looks like.
func statementKey(st []byte) string {
	h := sha256.Sum256(st)
	return "statement sha256:" + hex.EncodeToString(h[:])
}

// bundlePayload is the DSSE payload of a Sigstore bundle, nil if it has none.
func bundlePayload(raw []byte) []byte {
	var b struct {
		DSSE struct {
			Payload []byte `json:"payload"`
		} `json:"dsseEnvelope"`
	}
	if json.Unmarshal(raw, &b) != nil {
		return nil
	}
	return b.DSSE.Payload
}

// envelopePayload is the payload of a DSSE envelope, nil if unreadable.
func envelopePayload(raw []byte) []byte {
	var e struct {
		Payload []byte `json:"payload"`
	}
	if json.Unmarshal(raw, &e) != nil {
		return nil
	}
	return e.Payload
}
