package testbed

import (
	"os"
	"os/exec"
	"testing"
)

// CosignKeyPair has the real cosign v2 generate a key pair encrypted with
// password, and returns the directory holding cosign.key and cosign.pub: keys
// in exactly the format cosign users keep in their CI variables.
func CosignKeyPair(t testing.TB, password string) string {
	t.Helper()
	dir := t.TempDir()
	kg := exec.Command(Bin(t, BinCosign), "generate-key-pair")
	kg.Dir = dir
	kg.Env = append(os.Environ(), "COSIGN_PASSWORD="+password)
	if out, err := kg.CombinedOutput(); err != nil {
		t.Fatalf("cosign generate-key-pair: %v\n%s", err, out)
	}
	return dir
}
