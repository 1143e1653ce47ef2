package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sealsign/seal/internal/testbed"
)

// sealBin is the seal binary under test, built once by TestMain.
var sealBin string

// demoBin is seal-demo, built beside it.
var demoBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "seal-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	sealBin = filepath.Join(dir, "seal")
	cmd := exec.Command("go", "build", "-o", sealBin, "../cmd/seal")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building seal:", err)
		os.Exit(1)
	}
	demoBin = filepath.Join(dir, "seal-demo")
	cmd = exec.Command("go", "build", "-o", demoBin, "../cmd/seal-demo")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building seal-demo:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// run executes a command with a clean CI environment (so the local
// provider is detected) plus env, and returns its combined output.
func run(t testing.TB, env []string, bin string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(cleanEnv(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

func mustRun(t testing.TB, env []string, bin string, args ...string) string {
	t.Helper()
	out, err := run(t, env, bin, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(bin), strings.Join(args, " "), err, out)
	}
	return out
}

func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case k == "CI", strings.HasPrefix(k, "GITHUB_"), strings.HasPrefix(k, "GITLAB_"), strings.HasPrefix(k, "CI_"),
			strings.HasPrefix(k, "ACTIONS_"), strings.HasPrefix(k, "RUNNER_"), strings.HasPrefix(k, "COSIGN_"), k == "SIGSTORE_ID_TOKEN":
			continue
		}
		env = append(env, kv)
	}
	// cosign must not try the public TUF repository or Rekor: there is no network.
	return append(env, "TUF_ROOT="+os.TempDir()+"/seal-e2e-tuf", "SIGSTORE_NO_CACHE=true")
}

// pushImage writes a small random image to host/repo:v1 and returns repo@digest.
func pushImage(t testing.TB, host, repo string) string {
	return host + "/" + repo + "@" + testbed.PushImage(t, host+"/"+repo+":v1")
}

// pushIndex writes an index of n platforms to host/repo:multi and returns
// repo@digest of the index and of each platform.
func pushIndex(t testing.TB, host, repo string, n int) (string, []string) {
	var platforms []string
	for i := range n {
		platforms = append(platforms, fmt.Sprintf("linux/arch%d", i))
	}
	idx, digests := testbed.PushIndex(t, host+"/"+repo+":multi", platforms...)
	children := make([]string, len(digests))
	for i, d := range digests {
		children[i] = host + "/" + repo + "@" + d
	}
	return host + "/" + repo + "@" + idx, children
}

func writeFile(t testing.TB, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

const spdxSBOM = `{"spdxVersion":"SPDX-2.3","dataLicense":"CC0-1.0","SPDXID":"SPDXRef-DOCUMENT","name":"app","documentNamespace":"https://example.com/app","creationInfo":{"created":"2026-01-01T00:00:00Z","creators":["Tool: syft-1.0"]},"packages":[]}`
