package e2e

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sealsign/seal/internal/testbed"
)

// TestRekorV2 signs keylessly with Fulcio, the TSA and a real Rekor v2 log (no --no-tlog), and
// checks that verifiers require and check the log entry: seal verify, cosign v3, cosign v2 and
// gh accept it against a trusted root naming the log and refuse a signature that is not in the
// log. Keyed signing and the signing config's route to the log work too; the legacy format,
// which can carry only Rekor v1 entries, is refused.
func TestRekorV2(t *testing.T) {
	cosign2, cosign3 := testbed.Bin(t, testbed.BinCosign), testbed.Bin(t, testbed.BinCosignV3)
	s, rekor, rootLog, reg, genv, tok, keyless, withLog := startLogBed(t, func(t testing.TB) *testbed.Rekor { return testbed.StartRekor(t) }, testbed.Olareg)
	attest := func(t *testing.T, img string, extra ...string) (string, error) {
		t.Helper()
		args := append([]string{"attest", "--sign", "--provenance"}, extra...)
		return run(t, genv, sealBin, append(args, img)...)
	}
	verifyArgs := func(root string, extra ...string) []string {
		return append([]string{"verify", "--insecure-registry", reg.Host, "--github-repo", s.githubRepo,
			"--certificate-oidc-issuer", s.issuer.GitHub, "--trusted-root", root, "--attestation", "slsaprovenance1"}, extra...)
	}
	cosignArgs := func(root string) []string {
		return append([]string{"--allow-http-registry", "--new-bundle-format", "--trusted-root", root, "--insecure-ignore-sct"}, s.identity()...)
	}

	logged := pushImage(t, reg.Host, "rekor/logged")
	out := t.TempDir()
	start := time.Now()
	// The token says the repository is public: seal uploads without --tlog.
	if o, err := attest(t, logged, append([]string{"--format", "bundle", "--output-dir", out}, withLog...)...); err != nil {
		t.Fatalf("seal attest with Rekor v2: %v\n%s", err, o)
	}
	t.Logf("seal attest --sign --provenance (2 signatures, 2 log entries) took %s", time.Since(start))
	checkLogged(t, out, rekor, 2)

	unlogged := pushImage(t, reg.Host, "rekor/unlogged")
	start = time.Now()
	if o, err := attest(t, unlogged, append([]string{"--format", "bundle", "--no-tlog"}, keyless...)...); err != nil {
		t.Fatalf("seal attest --no-tlog: %v\n%s", err, o)
	}
	t.Logf("the same without the log took %s", time.Since(start))

	t.Run("seal verify", func(t *testing.T) {
		expectVerify(t, true, "", append(verifyArgs(rootLog), logged)...)
		// Without a log entry, a root naming a log is not enough.
		expectVerify(t, false, "transparency log", append(verifyArgs(rootLog), unlogged)...)
		// An entry in a log the root does not name proves nothing.
		expectVerify(t, false, "transparency log", append(verifyArgs(s.root), logged)...)
		// The checkpoint's signature is checked: the same log ID with another key fails.
		_, otherKey, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		impostor := *rekor
		impostor.PublicKey = otherKey.Public()
		expectVerify(t, false, "checkpoint", append(verifyArgs(testbed.TrustedRootWithRekor(t, s.fulcio, s.tsa, &impostor)), logged)...)
		// The opt-out still accepts the timestamp alone.
		expectVerify(t, true, "", append(verifyArgs(rootLog, "--no-tlog"), unlogged)...)
	})

	t.Run("cosign v3", func(t *testing.T) {
		args := cosignArgs(rootLog)
		mustRun(t, nil, cosign3, append(append([]string{"verify"}, args...), logged)...)
		mustRun(t, nil, cosign3, append(append([]string{"verify-attestation", "--type", "slsaprovenance1"}, args...), logged)...)
		if o, err := run(t, nil, cosign3, append(append([]string{"verify"}, args...), unlogged)...); err == nil {
			t.Errorf("cosign v3 verify accepted a signature that is not in the log:\n%s", o)
		}
	})

	// cosign v2 checks a Rekor v2 entry too, but only trusts the TSA's time when told to: without
	// --use-signed-timestamps it wants the log's integrated time, which Rekor v2 does not give.
	t.Run("cosign v2", func(t *testing.T) {
		args := append(cosignArgs(rootLog), "--use-signed-timestamps")
		mustRun(t, nil, cosign2, append(append([]string{"verify"}, args...), logged)...)
		mustRun(t, nil, cosign2, append(append([]string{"verify-attestation", "--type", "slsaprovenance1"}, args...), logged)...)
		if o, err := run(t, nil, cosign2, append(append([]string{"verify"}, args...), unlogged)...); err == nil {
			t.Errorf("cosign v2 verify accepted a signature that is not in the log:\n%s", o)
		}
		if o, err := run(t, nil, cosign2, append(append([]string{"verify"}, cosignArgs(rootLog)...), logged)...); err == nil {
			t.Errorf("cosign v2 verify without --use-signed-timestamps accepted a Rekor v2 entry; drop the flag:\n%s", o)
		}
	})

	t.Run("gh attestation verify", func(t *testing.T) {
		s.ghRequiresLog(t, rekor, logged, unlogged)
	})

	t.Run("signing config", func(t *testing.T) {
		img := pushImage(t, reg.Host, "rekor/config")
		dir := t.TempDir()
		sc := testbed.SigningConfigWithRekor(t, s.fulcio, s.tsa, rekor)
		o, err := attest(t, img, "--format", "bundle", "--output-dir", dir, "--insecure-registry", reg.Host,
			"--identity-token", tok, "--signing-config", sc)
		if err != nil {
			t.Fatalf("seal attest --signing-config: %v\n%s", err, o)
		}
		checkLogged(t, dir, rekor, 2)
		expectVerify(t, true, "", append(verifyArgs(rootLog), img)...)
	})

	// A long-lived key's signature goes into the log as its public key.
	t.Run("keyed", func(t *testing.T) {
		img := pushImage(t, reg.Host, "rekor/keyed")
		dir := t.TempDir()
		env := []string{"COSIGN_PASSWORD=" + s.password}
		mustRun(t, env, sealBin, "sign", "--key", s.key, "--tlog", "--rekor-url", rekor.URL, "--rekor-version", "2",
			"--format", "bundle", "--output-dir", dir, "--insecure-registry", reg.Host, img)
		checkLogged(t, dir, rekor, 1)
		keyRoot := testbed.TrustedRootWithRekor(t, nil, nil, rekor)
		mustRun(t, nil, cosign3, "verify", "--allow-http-registry", "--key", s.pub, "--trusted-root", keyRoot, img)
		if o, err := run(t, nil, cosign3, "verify", "--allow-http-registry", "--key", s.pub, "--trusted-root", s.emptyRoot, img); err == nil {
			t.Errorf("cosign v3 verify accepted an entry from a log its trusted root does not name:\n%s", o)
		}
		mustRun(t, nil, sealBin, "verify", "--key", s.pub, "--insecure-registry", reg.Host, img)
	})

	t.Run("legacy format refused", func(t *testing.T) {
		img := pushImage(t, reg.Host, "rekor/legacy")
		for _, format := range []string{"legacy", "both"} {
			o, err := attest(t, img, append([]string{"--format", format}, withLog...)...)
			if err == nil || !strings.Contains(o, "Rekor v2") {
				t.Errorf("seal attest --format %s with a Rekor v2 log: err=%v, want a refusal naming Rekor v2:\n%s", format, err, o)
			}
		}
		// It refused before signing: nothing was published.
		expectVerify(t, false, "", append(verifyArgs(rootLog, "--no-tlog"), img)...)
	})
}

// checkLogged reads the bundles seal saved in dir and checks that each has one Rekor v2 entry
// from rekor.
func checkLogged(t *testing.T, dir string, rekor *testbed.Rekor, want int) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*.sigstore.json"))
	if len(files) != want {
		t.Fatalf("%d bundles in %s, want %d", len(files), dir, want)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var bundle struct {
			VerificationMaterial struct {
				TlogEntries []struct {
					LogID struct {
						KeyID []byte `json:"keyId"`
					} `json:"logId"`
					KindVersion struct {
						Kind, Version string
					} `json:"kindVersion"`
					InclusionProof struct {
						Checkpoint struct{ Envelope string } `json:"checkpoint"`
					} `json:"inclusionProof"`
				} `json:"tlogEntries"`
			} `json:"verificationMaterial"`
		}
		if err := json.Unmarshal(b, &bundle); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		es := bundle.VerificationMaterial.TlogEntries
		if len(es) != 1 || !bytes.Equal(es[0].LogID.KeyID, rekor.LogID) || es[0].KindVersion.Version != "0.0.2" ||
			!strings.HasPrefix(es[0].InclusionProof.Checkpoint.Envelope, rekor.Origin+"\n") {
			t.Errorf("%s: tlog entries %+v, want one Rekor v2 entry from log %x", filepath.Base(f), es, rekor.LogID)
		}
	}
}

// startLogBed is the set-up of a keyless test with a transparency log: the testbed's Sigstore, the
// log start starts, a trusted root naming it, a registry of kind, a GitHub job's environment and
// token, and seal's keyless flags without and with the log.
func startLogBed(t *testing.T, start func(testing.TB) *testbed.Rekor, kind testbed.RegistryKind) (
	s *sigstore, rekor *testbed.Rekor, rootLog string, reg *testbed.Registry, genv []string, tok string, keyless, withLog []string) {
	t.Helper()
	s = startSigstore(t)
	rekor = start(t)
	rootLog = testbed.TrustedRootWithRekor(t, s.fulcio, s.tsa, rekor)
	reg = testbed.StartRegistry(t, kind)
	genv, tok = s.githubEnv(t)
	keyless = []string{"--insecure-registry", reg.Host, "--identity-token", tok,
		"--fulcio-url", s.fulcio.URL, "--timestamp-url", s.tsa.TimestampURL()}
	withLog = append([]string{"--rekor-url", rekor.URL, "--rekor-version", fmt.Sprint(rekor.Version)}, keyless...)
	return
}

// ghRequiresLog runs gh attestation verify --bundle-from-oci against a root naming rekor: logged
// passes, unlogged is refused, and passes against a root without the log, so the missing entry is
// what gh refuses (its message says only `verifying with issuer "sigstore"`). It returns gh's
// command for further checks: the binary, its environment, and its arguments for a root and image.
func (s *sigstore) ghRequiresLog(t *testing.T, rekor *testbed.Rekor, logged, unlogged string) (string, []string, func(root, img string) []string) {
	t.Helper()
	gh := testbed.Bin(t, testbed.BinGH)
	env := []string{"GH_TOKEN=offline", "GH_NO_UPDATE_NOTIFIER=1", "GH_CONFIG_DIR=" + t.TempDir()}
	args := func(root, img string) []string {
		return []string{"attestation", "verify", "--bundle-from-oci", "--owner", "acme", "--cert-oidc-issuer", s.issuer.GitHub,
			"--custom-trusted-root", root, "oci://" + img}
	}
	root := testbed.TrustedRootWithRekorJSONL(t, s.fulcio, s.tsa, rekor)
	mustRun(t, env, gh, args(root, logged)...)
	if o, err := run(t, env, gh, args(root, unlogged)...); err == nil {
		t.Errorf("gh accepted an attestation that is not in the log:\n%s", o)
	}
	mustRun(t, env, gh, args(testbed.TrustedRootJSONL(t, s.fulcio, s.tsa), unlogged)...)
	return gh, env, args
}
