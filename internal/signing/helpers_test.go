package signing

import (
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"
)

func hexOf(b []byte) string { return hex.EncodeToString(b) }

func writeTemp(t *testing.T, b []byte) string {
	p := filepath.Join(t.TempDir(), "bundle.json")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
