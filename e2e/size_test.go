package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// maxBinarySize bounds the release binary (25 MB, decimal): CI jobs
// download it on every run, and cosign's 130 MB is what Seal means not to be.
const maxBinarySize = 25_000_000

// TestBinarySize builds seal the way releases are built (-trimpath, no
// symbol table or DWARF) and checks its size.
func TestBinarySize(t *testing.T) {
	out := filepath.Join(t.TempDir(), "seal")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", out, "../cmd/seal")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	fi, err := os.Stat(out)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("seal release binary: %d bytes (%.2f MB), limit %d", fi.Size(), float64(fi.Size())/1e6, maxBinarySize)
	if fi.Size() >= maxBinarySize {
		t.Errorf("seal is %d bytes (%.2f MB), want < %d", fi.Size(), float64(fi.Size())/1e6, maxBinarySize)
	}
}
