package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// maxBinarySize bounds the release binary (27 MB, decimal): CI jobs
// download it on every run, and cosign's 130 MB is what Seal means not to be.
// It was 25 MB until AWS KMS went through the AWS SDK's KMS and STS clients.
const maxBinarySize = 27_000_000

// TestBinarySize builds seal the way releases are built (-trimpath, no
// symbol table or DWARF, no cgo) for the host and for the other operating
// systems the GitHub Action installs it on, so that a change that breaks
// the macOS or Windows build, or grows any release binary past the limit,
// fails here and not in the release workflow.
func TestBinarySize(t *testing.T) {
	for _, target := range []struct{ goos, goarch string }{
		{"", ""}, // the host, as CI runs it
		{"windows", "amd64"},
		{"darwin", "arm64"},
	} {
		name := target.goos + "-" + target.goarch
		if target.goos == "" {
			name = "host"
		}
		t.Run(name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "seal")
			cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", out, "../cmd/seal")
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
			if target.goos != "" {
				cmd.Env = append(cmd.Env, "GOOS="+target.goos, "GOARCH="+target.goarch)
			}
			if b, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("go build: %v\n%s", err, b)
			}
			fi, err := os.Stat(out)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("seal release binary (%s): %d bytes (%.2f MB), limit %d", name, fi.Size(), float64(fi.Size())/1e6, maxBinarySize)
			if fi.Size() >= maxBinarySize {
				t.Errorf("seal (%s) is %d bytes (%.2f MB), want < %d", name, fi.Size(), float64(fi.Size())/1e6, maxBinarySize)
			}
		})
	}
}

// TestReleaseBinaryHasNoRegistryServer keeps the demo's in-memory registry
// (and anything else that serves OCI) out of seal: it lives in seal-demo.
func TestReleaseBinaryHasNoRegistryServer(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "../cmd/seal").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, pkg := range strings.Fields(string(out)) {
		switch pkg {
		case "github.com/google/go-containerregistry/pkg/registry", "github.com/sealsign/seal/internal/demo":
			t.Errorf("cmd/seal depends on %s; the demo and its registry belong to cmd/seal-demo", pkg)
		}
	}
}
