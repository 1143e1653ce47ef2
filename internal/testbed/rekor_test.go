package testbed_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/sign"
	"github.com/sigstore/sigstore-go/pkg/verify"

	"github.com/sealsign/seal/internal/testbed"
)

// TestRekorV2 signs keylessly through a signing config that names a Rekor v2 log and verifies
// the bundle against TrustedRootWithRekor with a transparency-log entry required, for the
// default Ed25519 log key (whose log ID depends on the origin) and an ECDSA one.
func TestRekorV2(t *testing.T) {
	ctx := context.Background()
	iss := testbed.StartIssuer(t)
	fulcio := testbed.StartFulcio(t, iss)
	tsa := testbed.StartTSA(t)
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		opts []testbed.RekorOption
	}{
		{name: "ed25519"},
		{name: "ecdsa-p256", opts: []testbed.RekorOption{testbed.WithRekorKey(ecKey)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rekor := testbed.StartRekor(t, tc.opts...)
			t.Logf("rekor-server started in %s", rekor.Startup)
			trPath := testbed.TrustedRootWithRekor(t, fulcio, tsa, rekor)
			tr, err := root.NewTrustedRootFromPath(trPath)
			if err != nil {
				t.Fatalf("NewTrustedRootFromPath() = %v", err)
			}
			checkTlogShape(t, trPath, rekor)

			logSvc := checkSigningConfigLog(t, fulcio, tsa, rekor)

			msg := []byte("logged for all to see\n")
			signOnce := func(withLog bool) *verify.VerificationResult {
				t.Helper()
				kp, err := sign.NewEphemeralKeypair(nil)
				if err != nil {
					t.Fatal(err)
				}
				opts := sign.BundleOptions{
					Context:                    ctx,
					CertificateProvider:        sign.NewFulcio(&sign.FulcioOptions{BaseURL: fulcio.URL}),
					CertificateProviderOptions: &sign.CertificateProviderOptions{IDToken: iss.Mint(iss.GitHub, testbed.GitHubClaims("sealsign/demo"))},
					TimestampAuthorities:       []*sign.TimestampAuthority{sign.NewTimestampAuthority(&sign.TimestampAuthorityOptions{URL: tsa.TimestampURL()})},
				}
				if withLog {
					opts.TransparencyLogs = []sign.Transparency{sign.NewRekor(&sign.RekorOptions{BaseURL: logSvc.URL, Version: logSvc.MajorAPIVersion})}
				}
				start := time.Now()
				pb, err := sign.Bundle(&sign.PlainData{Data: msg}, kp, opts)
				if err != nil {
					t.Fatalf("sign.Bundle() = %v", err)
				}
				t.Logf("certificate + timestamp + signature (log: %v) took %s", withLog, time.Since(start))
				if withLog {
					entries := pb.GetVerificationMaterial().GetTlogEntries()
					if len(entries) != 1 {
						t.Fatalf("bundle has %d tlog entries, want 1", len(entries))
					}
					e := entries[0]
					if diff := cmp.Diff(rekor.LogID, e.GetLogId().GetKeyId()); diff != "" {
						t.Errorf("entry's log ID differs from Rekor.LogID (-want +got):\n%s", diff)
					}
					if e.GetKindVersion().GetVersion() != "0.0.2" || e.GetInclusionPromise() != nil || e.GetIntegratedTime() != 0 {
						t.Errorf("entry is not a Rekor v2 one: kind %v, promise %v, integrated time %d",
							e.GetKindVersion(), e.GetInclusionPromise(), e.GetIntegratedTime())
					}
					cp := e.GetInclusionProof().GetCheckpoint().GetEnvelope()
					if first, _, _ := strings.Cut(cp, "\n"); first != rekor.Origin {
						t.Errorf("checkpoint origin %q, want %q", first, rekor.Origin)
					}
				}
				v, err := verify.NewVerifier(tr, verify.WithSignedTimestamps(1), verify.WithTransparencyLog(1))
				if err != nil {
					t.Fatalf("NewVerifier() = %v", err)
				}
				id, err := verify.NewShortCertificateIdentity(iss.GitHub, "", "", ".*")
				if err != nil {
					t.Fatal(err)
				}
				res, err := v.Verify(bundleOf(t, pb), verify.NewPolicy(verify.WithArtifact(bytes.NewReader(msg)), verify.WithCertificateIdentity(id)))
				if withLog && err != nil {
					t.Fatalf("Verify() = %v", err)
				}
				if !withLog && err == nil {
					t.Fatalf("Verify() accepted a bundle without a tlog entry while the trusted root names a log")
				}
				return res
			}
			signOnce(true)
			signOnce(false)

			cp, err := rekor.Checkpoint()
			if err != nil {
				t.Fatalf("Checkpoint() = %v", err)
			}
			if lines := strings.Split(string(cp), "\n"); len(lines) < 3 || lines[0] != rekor.Origin || lines[1] == "0" {
				t.Errorf("checkpoint does not name the origin or is empty:\n%s", cp)
			}
		})
	}
}

// checkTlogShape reads the tlogs entry as cosign and other parsers do, without sigstore-go.
func checkTlogShape(t *testing.T, path string, rekor *testbed.Rekor) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var tr struct {
		Tlogs []struct {
			BaseURL       string `json:"baseUrl"`
			HashAlgorithm string `json:"hashAlgorithm"`
			PublicKey     struct {
				RawBytes   []byte `json:"rawBytes"`
				KeyDetails string `json:"keyDetails"`
				ValidFor   struct {
					Start time.Time `json:"start"`
				} `json:"validFor"`
			} `json:"publicKey"`
			LogID struct {
				KeyID []byte `json:"keyId"`
			} `json:"logId"`
		} `json:"tlogs"`
	}
	if err := json.Unmarshal(b, &tr); err != nil {
		t.Fatalf("decoding trusted root: %v", err)
	}
	if len(tr.Tlogs) != 1 {
		t.Fatalf("trusted root has %d tlogs, want 1", len(tr.Tlogs))
	}
	l := tr.Tlogs[0]
	if l.BaseURL != rekor.URL || l.HashAlgorithm != "SHA2_256" || !bytes.Equal(l.LogID.KeyID, rekor.LogID) ||
		len(l.PublicKey.RawBytes) == 0 || l.PublicKey.KeyDetails == "" || l.PublicKey.ValidFor.Start.IsZero() {
		t.Errorf("tlog entry = %+v, want baseUrl %s, SHA2_256, the log's key and ID", l, rekor.URL)
	}
}

// TestRekorV1 signs keylessly against a Rekor v1 log, through the signing config's
// majorApiVersion 1, both a message signature (a hashedrekord entry) and an in-toto statement in
// a DSSE envelope (a dsse entry), with no RFC 3161 timestamp: the signed entry timestamp and the
// integrated time it covers are what proves when each was signed. Each bundle verifies against
// TrustedRootWithRekor, and not against a trusted root whose log has another key. The log starts
// before the timestamp authority, which would fail to start if rekor-server held port 2112.
func TestRekorV1(t *testing.T) {
	ctx := context.Background()
	iss := testbed.StartIssuer(t)
	fulcio := testbed.StartFulcio(t, iss)
	rekor := testbed.StartRekorV1(t)
	t.Logf("trillian-memory + rekor-server v1 started in %s", rekor.Startup)
	tsa := testbed.StartTSA(t)
	if rekor.Version != 1 {
		t.Fatalf("Rekor.Version = %d, want 1", rekor.Version)
	}
	ecKey, ok := rekor.PublicKey.(*ecdsa.PublicKey)
	if !ok || ecKey.Curve != elliptic.P256() {
		t.Fatalf("Rekor v1's key is %T, want an ECDSA P-256 key", rekor.PublicKey)
	}
	der, err := x509.MarshalPKIXPublicKey(ecKey)
	if err != nil {
		t.Fatal(err)
	}
	if want := sha256.Sum256(der); !bytes.Equal(rekor.LogID, want[:]) {
		t.Errorf("LogID = %x, want SHA-256 of the DER key %x", rekor.LogID, want)
	}

	trPath := testbed.TrustedRootWithRekor(t, fulcio, tsa, rekor)
	tr, err := root.NewTrustedRootFromPath(trPath)
	if err != nil {
		t.Fatalf("NewTrustedRootFromPath() = %v", err)
	}
	checkTlogShape(t, trPath, rekor)
	// The same log under its own ID and URL, but with another key.
	otherKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	impostor := *rekor
	impostor.PublicKey = otherKey.Public()
	wrongTR, err := root.NewTrustedRootFromPath(testbed.TrustedRootWithRekor(t, fulcio, tsa, &impostor))
	if err != nil {
		t.Fatalf("NewTrustedRootFromPath(other key) = %v", err)
	}

	logSvc := checkSigningConfigLog(t, fulcio, tsa, rekor)

	msg := []byte("logged for all to see, with the time\n")
	digest := sha256.Sum256(msg)
	statement, err := json.Marshal(map[string]any{
		"_type":         "https://in-toto.io/Statement/v1",
		"subject":       []any{map[string]any{"name": "msg.txt", "digest": map[string]string{"sha256": hex.EncodeToString(digest[:])}}},
		"predicateType": "https://example.com/test/v1",
		"predicate":     map[string]any{},
	})
	if err != nil {
		t.Fatal(err)
	}
	id, err := verify.NewShortCertificateIdentity(iss.GitHub, "", "", ".*")
	if err != nil {
		t.Fatal(err)
	}
	for i, tc := range []struct {
		kind    string
		content sign.Content
	}{
		{kind: "hashedrekord", content: &sign.PlainData{Data: msg}},
		{kind: "dsse", content: &sign.DSSEData{Data: statement, PayloadType: "application/vnd.in-toto+json"}},
	} {
		t.Run(tc.kind, func(t *testing.T) {
			kp, err := sign.NewEphemeralKeypair(nil)
			if err != nil {
				t.Fatal(err)
			}
			before := time.Now().Add(-time.Second)
			pb, err := sign.Bundle(tc.content, kp, sign.BundleOptions{
				Context:                    ctx,
				CertificateProvider:        sign.NewFulcio(&sign.FulcioOptions{BaseURL: fulcio.URL}),
				CertificateProviderOptions: &sign.CertificateProviderOptions{IDToken: iss.Mint(iss.GitHub, testbed.GitHubClaims("sealsign/demo"))},
				TransparencyLogs:           []sign.Transparency{sign.NewRekor(&sign.RekorOptions{BaseURL: logSvc.URL, Version: logSvc.MajorAPIVersion})},
			})
			if err != nil {
				t.Fatalf("sign.Bundle() = %v", err)
			}
			t.Logf("certificate + signature + Rekor v1 entry took %s", time.Since(before.Add(time.Second)))
			if ts := pb.GetVerificationMaterial().GetTimestampVerificationData().GetRfc3161Timestamps(); len(ts) != 0 {
				t.Fatalf("bundle has %d RFC 3161 timestamps, want none", len(ts))
			}
			entries := pb.GetVerificationMaterial().GetTlogEntries()
			if len(entries) != 1 {
				t.Fatalf("bundle has %d tlog entries, want 1", len(entries))
			}
			e := entries[0]
			if diff := cmp.Diff(rekor.LogID, e.GetLogId().GetKeyId()); diff != "" {
				t.Errorf("entry's log ID differs from Rekor.LogID (-want +got):\n%s", diff)
			}
			if kv := e.GetKindVersion(); kv.GetKind() != tc.kind || kv.GetVersion() != "0.0.1" {
				t.Errorf("entry kind %s %s, want %s 0.0.1", kv.GetKind(), kv.GetVersion(), tc.kind)
			}
			if e.GetLogIndex() != int64(i) {
				t.Errorf("entry's logIndex = %d, want %d", e.GetLogIndex(), i)
			}
			if len(e.GetInclusionPromise().GetSignedEntryTimestamp()) == 0 {
				t.Errorf("entry has no signed entry timestamp (inclusion promise)")
			}
			integrated := time.Unix(e.GetIntegratedTime(), 0)
			if e.GetIntegratedTime() <= 0 || integrated.Before(before) || integrated.After(time.Now()) {
				t.Errorf("integratedTime = %d (%s), want between %s and now", e.GetIntegratedTime(), integrated, before)
			}
			cp := e.GetInclusionProof().GetCheckpoint().GetEnvelope()
			if first, _, _ := strings.Cut(cp, "\n"); first != rekor.Origin {
				t.Errorf("inclusion proof's checkpoint origin %q, want %q", first, rekor.Origin)
			}

			b := bundleOf(t, pb)
			policy := verify.NewPolicy(verify.WithArtifact(bytes.NewReader(msg)), verify.WithCertificateIdentity(id))
			v, err := verify.NewVerifier(tr, verify.WithTransparencyLog(1), verify.WithIntegratedTimestamps(1))
			if err != nil {
				t.Fatalf("NewVerifier() = %v", err)
			}
			res, err := v.Verify(b, policy)
			if err != nil {
				t.Fatalf("Verify() = %v", err)
			}
			var times []string
			for _, ts := range res.VerifiedTimestamps {
				times = append(times, fmt.Sprintf("%s %d", ts.Type, ts.Timestamp.Unix()))
			}
			if want := []string{fmt.Sprintf("Tlog %d", e.GetIntegratedTime())}; !cmp.Equal(times, want) {
				t.Errorf("verified timestamps %q, want %q (the integrated time alone)", times, want)
			}

			wv, err := verify.NewVerifier(wrongTR, verify.WithTransparencyLog(1), verify.WithIntegratedTimestamps(1))
			if err != nil {
				t.Fatalf("NewVerifier(other key) = %v", err)
			}
			if _, err := wv.Verify(b, policy); err == nil {
				t.Errorf("Verify() accepted the entry against a trusted root with another key for the log")
			} else {
				t.Logf("with another log key: %v", err)
			}
		})
	}

	cp, err := rekor.Checkpoint()
	if err != nil {
		t.Fatalf("Checkpoint() = %v", err)
	}
	if lines := strings.Split(string(cp), "\n"); len(lines) < 3 || lines[0] != rekor.Origin || lines[1] != "2" {
		t.Errorf("checkpoint does not name the origin or does not hold the 2 entries:\n%s", cp)
	}
}

// checkSigningConfigLog checks that the signing config SigningConfigWithRekor writes routes
// signers to rekor with its API version, and returns the log service it selects.
func checkSigningConfigLog(t *testing.T, fulcio *testbed.Fulcio, tsa *testbed.TSA, rekor *testbed.Rekor) root.Service {
	t.Helper()
	sc, err := root.NewSigningConfigFromPath(testbed.SigningConfigWithRekor(t, fulcio, tsa, rekor))
	if err != nil {
		t.Fatalf("NewSigningConfigFromPath() = %v", err)
	}
	logSvc, err := root.SelectService(sc.RekorLogURLs(), sign.RekorAPIVersions, time.Now())
	if err != nil {
		t.Fatalf("SelectService(rekor) = %v", err)
	}
	if logSvc.URL != rekor.URL || int(logSvc.MajorAPIVersion) != rekor.Version {
		t.Fatalf("signing config names Rekor %s v%d, want %s v%d", logSvc.URL, logSvc.MajorAPIVersion, rekor.URL, rekor.Version)
	}
	return logSvc
}
