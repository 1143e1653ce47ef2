package action

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sealsign/seal/internal/testbed"
)

// setupRun runs actions/setup.sh with env on top of a cleaned environment and returns its
// step outputs, its log and whether it succeeded.
func setupRun(t *testing.T, env map[string]string, args ...string) (map[string]string, string, bool) {
	t.Helper()
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("setup.sh runs in bash; no bash here")
	}
	out := filepath.Join(t.TempDir(), "github_output")
	if err := os.WriteFile(out, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("bash", append([]string{filepath.Join(repoRoot(t), "actions", "setup.sh")}, args...)...)
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "GITHUB_") || strings.HasPrefix(k, "RUNNER_") || strings.HasPrefix(k, "SEAL_") || strings.HasPrefix(k, "CURL_") {
			continue
		}
		cmd.Env = append(cmd.Env, kv)
	}
	cmd.Env = append(cmd.Env, "GITHUB_OUTPUT="+out)
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	log, err := cmd.CombinedOutput()
	return parseFileCommand(t, out), string(log), err == nil
}

// plantPoison writes into dir a stand-in for a binary an attacker planted in a cache: running
// it leaves a marker file, whose path it returns.
func plantPoison(t *testing.T, dir string) (marker string) {
	t.Helper()
	marker = filepath.Join(t.TempDir(), "poisoned-binary-ran")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	script := "#!/bin/sh\necho POISONED >&2\ntouch '" + marker + "'\n"
	if err := os.WriteFile(filepath.Join(dir, "seal"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return marker
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// TestActionSetupReleaseCachePoisoned plants a binary in the tool cache where setup.sh keeps the
// pinned release, as a job that ran earlier on a self-hosted runner could: the action must
// check it against the pin on every use, fetch the pinned binary again, and never run the
// planted one.
func TestActionSetupReleaseCachePoisoned(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("release mode downloads with curl; no curl here")
	}
	const version = "v9.9.9"
	const asset = "seal_" + version + "_linux_amd64"
	good := []byte("#!/bin/sh\necho \"seal " + version + " (the pinned release)\"\n")
	served := good
	serverURL, ca := testbed.ReleaseServer(t, version, asset, &served)
	pins := filepath.Join(t.TempDir(), "release.sha256")
	if err := os.WriteFile(pins, []byte("# pins\n"+sha256Hex(good)+"  "+asset+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"SEAL_PINS": pins, "RUNNER_OS": "Linux", "RUNNER_ARCH": "X64",
		"RUNNER_TOOL_CACHE": t.TempDir(), "RUNNER_TEMP": t.TempDir(),
		"GITHUB_SERVER_URL": serverURL, "SEAL_REPOSITORY": "sealsign/seal", "CURL_CA_BUNDLE": ca,
	}
	plan, log, ok := setupRun(t, env, "plan")
	if !ok || plan["mode"] != "release" || plan["version"] != version {
		t.Fatalf("setup.sh plan: outputs %v, ok %v\n%s", plan, ok, log)
	}
	env["SEAL_MODE"], env["SEAL_DIR"], env["SEAL_BUILD_VERSION"] = plan["mode"], plan["dir"], plan["version"]

	install := func(t *testing.T) (string, string, bool) {
		t.Helper()
		out, log, ok := setupRun(t, env, "install")
		t.Logf("setup.sh install (ok %v):\n%s", ok, log)
		return out["path"], log, ok
	}

	t.Run("first use", func(t *testing.T) {
		path, log, ok := install(t)
		if !ok {
			t.Fatalf("install failed:\n%s", log)
		}
		if b, err := os.ReadFile(path); err != nil || sha256Hex(b) != sha256Hex(good) {
			t.Errorf("output path %s is not the pinned binary (%v)", path, err)
		}
	})
	t.Run("planted in the tool cache", func(t *testing.T) {
		marker := plantPoison(t, plan["dir"])
		path, log, ok := install(t)
		if _, err := os.Stat(marker); err == nil || strings.Contains(log, "POISONED") {
			t.Fatalf("setup.sh ran the binary planted in %s:\n%s", plan["dir"], log)
		}
		if !ok {
			t.Fatalf("install failed; want the pinned binary fetched again:\n%s", log)
		}
		b, err := os.ReadFile(path)
		if err != nil || sha256Hex(b) != sha256Hex(good) {
			t.Errorf("output path %s is not the pinned binary (%v)", path, err)
		}
		if !strings.Contains(log, "does not match") {
			t.Errorf("the log does not say that the cached binary did not match its pin:\n%s", log)
		}
	})
	t.Run("planted in the cache and served", func(t *testing.T) {
		marker := plantPoison(t, plan["dir"])
		served = []byte("#!/bin/sh\ntouch '" + marker + "'\n")
		defer func() { served = good }()
		_, log, ok := install(t)
		if _, err := os.Stat(marker); err == nil || strings.Contains(log, "POISONED") {
			t.Fatalf("setup.sh ran a binary that does not match its pin:\n%s", log)
		}
		if ok || !strings.Contains(log, "refusing to run it") {
			t.Errorf("install succeeded or did not say why it failed (ok %v):\n%s", ok, log)
		}
	})
}

// TestActionSetupSourceCachePoisoned plants a binary where a source build of seal was kept (the
// tool cache, or what actions/cache restored under a key anyone who can run a job of the
// repository can write): the action must build it again, never run what it found.
func TestActionSetupSourceCachePoisoned(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("building seal from source needs go on PATH")
	}
	env := map[string]string{
		"SEAL_VERSION": "source", "RUNNER_OS": "Linux", "RUNNER_ARCH": "X64",
		"RUNNER_TOOL_CACHE": t.TempDir(), "RUNNER_TEMP": t.TempDir(),
	}
	plan, log, ok := setupRun(t, env, "plan")
	if !ok || plan["mode"] != "source" {
		t.Fatalf("setup.sh plan: outputs %v, ok %v\n%s", plan, ok, log)
	}
	// Where a source build was kept, and actions/cache restored it, under a key derived from
	// the source hash that any job of the repository can compute and write.
	dir := plan["dir"]
	if dir == "" {
		dir = filepath.Join(env["RUNNER_TOOL_CACHE"], "seal", plan["version"], "linux-amd64")
	}
	env["SEAL_MODE"], env["SEAL_DIR"], env["SEAL_BUILD_VERSION"] = plan["mode"], dir, plan["version"]
	marker := plantPoison(t, dir)
	out, log, ok := setupRun(t, env, "install")
	t.Logf("setup.sh install (ok %v):\n%s", ok, log)
	if _, err := os.Stat(marker); err == nil || strings.Contains(log, "POISONED") {
		t.Fatalf("setup.sh ran the binary planted in %s:\n%s", dir, log)
	}
	if strings.HasPrefix(out["path"], dir) {
		t.Errorf("output path %s is in the cache directory %s", out["path"], dir)
	}
	if !ok {
		t.Fatalf("install failed:\n%s", log)
	}
	v, err := exec.Command(out["path"], "version").CombinedOutput()
	if err != nil || !strings.Contains(string(v), plan["version"]) {
		t.Errorf("%s version = %q, %v; want the source build %s", out["path"], v, err, plan["version"])
	}
}
