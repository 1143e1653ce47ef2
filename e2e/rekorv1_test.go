package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sealsign/seal/internal/oci"
	ocilegacy "github.com/sealsign/seal/internal/oci/legacy"
	"github.com/sealsign/seal/internal/testbed"
)

// TestRekorV1 signs keylessly with Fulcio, the TSA and a real Rekor v1 log (rekor-server on an
// in-memory Trillian), the kind of log the public instance runs. Seal's legacy layers then carry
// cosign's bundle annotation (the entry and its signed entry timestamp), so cosign v2 and v3
// verify them with the log required (no --insecure-ignore-tlog), as they verify public-instance
// signatures, and gh attestation verify checks the bundles' entries. seal verify checks the entry
// the same way: a signature not in the log and an entry whose log the trusted root does not hold
// are refused. What cosign v2 itself signs into the log, seal verify accepts.
func TestRekorV1(t *testing.T) {
	cosign2, cosign3 := testbed.Bin(t, testbed.BinCosign), testbed.Bin(t, testbed.BinCosignV3)
	s, rekor, rootLog, reg, genv, tok, keyless, withLog := startLogBed(t, testbed.StartRekorV1, testbed.Distribution)
	attest := func(t *testing.T, img string, extra ...string) {
		t.Helper()
		args := append([]string{"attest", "--sign", "--provenance"}, extra...)
		mustRun(t, genv, sealBin, append(args, img)...)
	}
	verifyArgs := func(root string, extra ...string) []string {
		return append([]string{"verify", "--insecure-registry", reg.Host, "--github-repo", s.githubRepo,
			"--certificate-oidc-issuer", s.issuer.GitHub, "--trusted-root", root, "--attestation", "slsaprovenance1"}, extra...)
	}
	der, err := x509.MarshalPKIXPublicKey(rekor.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	rekorPEM := writeFile(t, t.TempDir(), "rekor.pub", string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})))

	legacy := pushImage(t, reg.Host, "rekor1/legacy")
	attest(t, legacy, append([]string{"--format", "legacy"}, withLog...)...)
	both := pushImage(t, reg.Host, "rekor1/both")
	attest(t, both, append([]string{"--format", "both"}, withLog...)...)
	unlogged := pushImage(t, reg.Host, "rekor1/unlogged")
	attest(t, unlogged, append([]string{"--format", "legacy", "--no-tlog"}, keyless...)...)
	unloggedBundles := pushImage(t, reg.Host, "rekor1/unlogged-bundles")
	attest(t, unloggedBundles, append([]string{"--format", "bundle", "--no-tlog"}, keyless...)...)

	// --json names the log entry of every signature it wrote, in both formats, and of bundle files.
	t.Run("json", func(t *testing.T) {
		img := pushImage(t, reg.Host, "rekor1/json")
		out, stderr, code := runSplit(t, genv, sealBin, append(append([]string{"attest", "--sign", "--provenance", "--format", "both", "--json"}, withLog...), img)...)
		if code != 0 {
			t.Fatalf("seal attest --json: exit %d\n%s", code, stderr)
		}
		if !strings.Contains(stderr, "(log index ") {
			t.Errorf("seal attest's summary names no log index:\n%s", stderr)
		}
		var rep struct {
			Items []struct {
				Kind, Format string
				Tlog         *struct {
					LogIndex       *int64 `json:"logIndex"`
					LogID          string `json:"logId"`
					IntegratedTime int64  `json:"integratedTime"`
				} `json:"tlog"`
			} `json:"items"`
		}
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatalf("seal attest --json: %v\n%s", err, out)
		}
		if len(rep.Items) != 4 {
			t.Fatalf("seal attest --json listed %d items, want 4 (signature and provenance, both formats):\n%s", len(rep.Items), out)
		}
		seen := map[int64]bool{}
		for _, it := range rep.Items {
			if it.Tlog == nil || it.Tlog.LogIndex == nil || it.Tlog.LogID != hex.EncodeToString(rekor.LogID) || it.Tlog.IntegratedTime == 0 {
				t.Errorf("%s %s: tlog = %+v, want an entry of log %x", it.Format, it.Kind, it.Tlog, rekor.LogID)
				continue
			}
			seen[*it.Tlog.LogIndex] = true
		}
		// The provenance attestation's one envelope serves both formats: three entries.
		if len(seen) != 3 {
			t.Errorf("log indexes %v, want 3 distinct entries (two signatures, one attestation)", seen)
		}
		files := t.TempDir()
		bin := writeFile(t, files, "app.tar.gz", "release")
		out, stderr, code = runSplit(t, genv, sealBin, append([]string{"attest", "--provenance", "--subject-path", bin, "--output-dir", files, "--json"}, withLog...)...)
		if code != 0 {
			t.Fatalf("seal attest --subject-path --json: exit %d\n%s", code, stderr)
		}
		if !strings.Contains(out, `"logId":"`+hex.EncodeToString(rekor.LogID)+`"`) {
			t.Errorf("seal attest --subject-path --json names no log entry:\n%s", out)
		}
	})

	t.Run("annotation", func(t *testing.T) {
		client, err := oci.New(oci.WithInsecureHosts(reg.Host))
		if err != nil {
			t.Fatal(err)
		}
		sub, err := client.Resolve(t.Context(), legacy)
		if err != nil {
			t.Fatal(err)
		}
		for _, kind := range []ocilegacy.Kind{ocilegacy.Signature, ocilegacy.Attestation} {
			layers, err := ocilegacy.Read(t.Context(), client, sub, kind)
			if err != nil || len(layers) == 0 {
				t.Fatalf("Legacy(%s) = %d layers, %v", kind, len(layers), err)
			}
			for _, l := range layers {
				var rb struct {
					SignedEntryTimestamp []byte
					Payload              struct {
						Body           string `json:"body"`
						IntegratedTime int64  `json:"integratedTime"`
						LogID          string `json:"logID"`
					}
				}
				if err := json.Unmarshal([]byte(l.Annotations[ocilegacy.AnnotationRekorBundle]), &rb); err != nil {
					t.Fatalf("%s layer: bundle annotation %q: %v", kind, l.Annotations[ocilegacy.AnnotationRekorBundle], err)
				}
				if len(rb.SignedEntryTimestamp) == 0 || rb.Payload.Body == "" || rb.Payload.IntegratedTime == 0 || rb.Payload.LogID == "" {
					t.Errorf("%s layer: incomplete Rekor bundle: %+v", kind, rb)
				}
			}
		}
	})

	// cosign's classic verification, the log required, with the keys a user of a private
	// instance passes: the trusted root for verify; for verify-attestation (which refuses
	// --trusted-root in the classic format) the CA, TSA chain and the log's key. On an image
	// that also has bundles (--format both) cosign v2's verify-attestation switches to them
	// by itself and then takes only --trusted-root.
	rekorEnv := []string{"SIGSTORE_REKOR_PUBLIC_KEY=" + rekorPEM}
	classic2 := func(verb string, img string) []string {
		args := append([]string{verb, "--allow-http-registry", "--insecure-ignore-sct"}, s.identity()...)
		switch {
		case verb == "verify", img == both:
			args = append(args, "--trusted-root", rootLog)
		default:
			args = append(args, "--ca-roots", s.fulcioPEM, "--timestamp-certificate-chain", s.tsaPEM)
		}
		if verb == "verify-attestation" {
			args = append(args, "--type", "slsaprovenance1")
		}
		return append(args, img)
	}

	t.Run("cosign v2", func(t *testing.T) {
		for _, img := range []string{legacy, both} {
			mustRun(t, rekorEnv, cosign2, classic2("verify", img)...)
			mustRun(t, rekorEnv, cosign2, classic2("verify-attestation", img)...)
		}
		// Without an entry attached, cosign must find one in the log (offline here: it cannot).
		refuses(t, rekorEnv, "cosign v2 verify", "searching log query", cosign2, classic2("verify", unlogged)...)
		refuses(t, rekorEnv, "cosign v2 verify-attestation", "searching log query", cosign2, classic2("verify-attestation", unlogged)...)
	})

	t.Run("cosign v3", func(t *testing.T) {
		args := func(img string, extra ...string) []string {
			a := append([]string{"--allow-http-registry", "--insecure-ignore-sct", "--trusted-root", rootLog}, s.identity()...)
			return append(append(a, extra...), img)
		}
		mustRun(t, nil, cosign3, append([]string{"verify"}, args(legacy, "--new-bundle-format=false")...)...)
		mustRun(t, nil, cosign3, append([]string{"verify-attestation", "--type", "slsaprovenance1"}, args(legacy, "--new-bundle-format=false")...)...)
		// The bundles of --format both carry the same log's entries.
		mustRun(t, nil, cosign3, append([]string{"verify"}, args(both)...)...)
		mustRun(t, nil, cosign3, append([]string{"verify-attestation", "--type", "slsaprovenance1"}, args(both)...)...)
		// A legacy signature without an entry sends cosign searching the log (here it cannot
		// reach the public one: offline), a bundle without one is refused outright.
		refuses(t, nil, "cosign v3 legacy", "searching log query", cosign3, append([]string{"verify"}, args(unlogged, "--new-bundle-format=false")...)...)
		refuses(t, nil, "cosign v3 bundle", "not enough verified log entries", cosign3, append([]string{"verify"}, args(unloggedBundles)...)...)
	})

	// GitHub's verifier reads the bundle's Rekor v1 entry (inclusion proof and SET), as it does
	// for attestations logged in the public instance.
	t.Run("gh attestation verify", func(t *testing.T) {
		gh, env, args := s.ghRequiresLog(t, rekor, both, unloggedBundles)
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		impostor := *rekor
		impostor.PublicKey = key.Public()
		if o, err := run(t, env, gh, args(testbed.TrustedRootWithRekorJSONL(t, s.fulcio, s.tsa, &impostor), both)...); err == nil {
			t.Errorf("gh accepted a Rekor entry against another log key:\n%s", o)
		}
	})

	t.Run("seal verify", func(t *testing.T) {
		expectVerify(t, true, "", append(verifyArgs(rootLog), legacy)...)
		expectVerify(t, true, "", append(verifyArgs(rootLog), both)...)
		// The log is required when the trusted root names one: an unlogged legacy signature fails...
		expectVerify(t, false, "transparency-log entry", append(verifyArgs(rootLog), unlogged)...)
		// ...and passes only with the opt-out (its TSA timestamp then proves the time).
		expectVerify(t, true, "", append(verifyArgs(rootLog, "--no-tlog"), unlogged)...)
		// An entry from a log the root does not hold, or signed by another key, proves nothing.
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		impostor := *rekor
		impostor.PublicKey = key.Public()
		expectVerify(t, false, "SET", append(verifyArgs(testbed.TrustedRootWithRekor(t, s.fulcio, s.tsa, &impostor)), legacy)...)
		expectVerify(t, false, "transparency-log entry", append(verifyArgs(s.root), legacy)...)
	})

	// A key-based signature in the log, as cosign v2 makes by default: cosign verify --key then
	// requires the entry (no --insecure-ignore-tlog), in the legacy format and in bundles.
	t.Run("keyed", func(t *testing.T) {
		keyEnv := []string{"COSIGN_PASSWORD=" + s.password}
		keyRoot := testbed.TrustedRootWithRekor(t, nil, nil, rekor)
		sign := func(format string, logged bool) string {
			img := pushImage(t, reg.Host, "rekor1/keyed-"+format)
			args := []string{"sign", "--key", s.key, "--format", format, "--insecure-registry", reg.Host, img}
			if logged {
				args = append(args, "--tlog", "--rekor-url", rekor.URL, "--rekor-version", "1")
			}
			mustRun(t, keyEnv, sealBin, args...)
			return img
		}
		legacyImg, bundleImg := sign("legacy", true), sign("bundle", true)
		// cosign v2 finds the log's key in SIGSTORE_REKOR_PUBLIC_KEY for the legacy format, in the
		// trusted root for bundles; cosign v3 reads the trusted root for both.
		mustRun(t, rekorEnv, cosign2, "verify", "--allow-http-registry", "--key", s.pub, legacyImg)
		mustRun(t, nil, cosign2, "verify", "--allow-http-registry", "--key", s.pub, "--trusted-root", keyRoot, bundleImg)
		mustRun(t, nil, cosign3, "verify", "--allow-http-registry", "--key", s.pub, "--trusted-root", keyRoot, "--new-bundle-format=false", legacyImg)
		mustRun(t, nil, cosign3, "verify", "--allow-http-registry", "--key", s.pub, "--trusted-root", keyRoot, bundleImg)
		// The same key without the log: cosign wants the entry by default.
		unlogged := sign("legacy", false)
		refuses(t, rekorEnv, "cosign v2 verify --key", "searching log query", cosign2, "verify", "--allow-http-registry", "--key", s.pub, unlogged)
	})

	// cosign v2's own keyless signature, logged as the public instance logs it (SET, no TSA).
	t.Run("seal verifies cosign v2", func(t *testing.T) {
		img := pushImage(t, reg.Host, "rekor1/cosigned")
		common := []string{"--allow-http-registry", "--yes", "--identity-token", tok, "--fulcio-url", s.fulcio.URL,
			"--rekor-url", rekor.URL, "--insecure-skip-verify"}
		mustRun(t, rekorEnv, cosign2, append(append([]string{"sign"}, common...), img)...)
		out := mustRun(t, nil, sealBin, "verify", "--insecure-registry", reg.Host, "--github-repo", s.githubRepo,
			"--certificate-oidc-issuer", s.issuer.GitHub, "--trusted-root", rootLog, "--json", img)
		if !strings.Contains(out, `"format": "legacy"`) {
			t.Errorf("seal verify did not report cosign's legacy signature:\n%s", out)
		}
		// Its attestations, timestamped over the whole envelope and logged as a dsse entry (its
		// default), which logs the envelope's payload and signature for seal verify to compare
		// with the layer. An intoto entry (v0.0.1 from cosign v2) logs no signature: refused.
		pred := filepath.Join(t.TempDir(), "provenance.json")
		mustRun(t, genv, sealBin, "provenance", "--identity-token", tok, "--predicate-only", "-o", pred,
			"--subject", "x@sha256:"+strings.Repeat("0", 64))
		for _, entry := range []string{"dsse", "intoto"} {
			img := pushImage(t, reg.Host, "rekor1/cosign-attest-"+entry)
			mustRun(t, rekorEnv, cosign2, append(append([]string{"attest", "--type", "slsaprovenance1", "--predicate", pred,
				"--rekor-entry-type", entry, "--timestamp-server-url", s.tsa.TimestampURL()}, common...), img)...)
			if entry == "intoto" {
				expectVerify(t, false, "its kind, intoto v0.0.1, cannot be compared", append(verifyArgs(rootLog, "--no-signature"), img)...)
				continue
			}
			out := mustRun(t, nil, sealBin, append(verifyArgs(rootLog, "--no-signature", "--json"), img)...)
			if !strings.Contains(out, `"format": "legacy"`) || !strings.Contains(out, `"predicateType": "https://slsa.dev/provenance/v1"`) {
				t.Errorf("seal verify did not report cosign's legacy attestation (%s entry):\n%s", entry, out)
			}
		}
	})
}

// refuses runs a verifier that must fail, for the reason want names.
func refuses(t *testing.T, env []string, what, want, bin string, args ...string) {
	t.Helper()
	o, err := run(t, env, bin, args...)
	switch {
	case err == nil:
		t.Errorf("%s accepted a signature that is not in the log:\n%s", what, o)
	case !strings.Contains(o, want):
		t.Errorf("%s refused, but not saying %q:\n%s", what, want, o)
	}
}
