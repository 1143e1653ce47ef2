package verify

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"testing"
)

// FuzzVerifyBundles feeds arbitrary bytes as bundles: never a panic, never
// an acceptance.
func FuzzVerifyBundles(f *testing.F) {
	f.Add([]byte(`{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","verificationMaterial":{"publicKey":{"hint":"x"}},"dsseEnvelope":{"payload":"e30=","payloadType":"application/vnd.in-toto+json","signatures":[{"sig":"AAAA"}]}}`))
	f.Add([]byte(`{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","messageSignature":{"messageDigest":{"algorithm":"SHA2_256","digest":"AAAA"},"signature":"AAAA"}}`))
	f.Add([]byte(`{}`))
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	digest := sha256.Sum256([]byte("artifact"))
	f.Fuzz(func(t *testing.T, b []byte) {
		rep, err := VerifyBundles("artifact", digest[:], [][]byte{b}, Policy{Key: key.Public(), Attestations: []string{SLSAv1}})
		if err == nil {
			t.Fatalf("accepted a bundle no key signed: %+v", rep)
		}
	})
}

func FuzzProvenanceFacts(f *testing.F) {
	f.Add(`{"buildDefinition":{"resolvedDependencies":[{"uri":"git+https://x/y@refs/heads/main","digest":{"gitCommit":"ab"}}]},"runDetails":{"builder":{"id":"b"}}}`, true)
	f.Add(`{"materials":[{"uri":"git+https://x/y","digest":{"sha1":"ab"}}],"builder":{"id":"b"}}`, false)
	f.Fuzz(func(t *testing.T, pred string, v1 bool) {
		pt := SLSAv02
		if v1 {
			pt = SLSAv1
		}
		_, _ = ProvenanceFacts(pt, []byte(pred))
	})
}
