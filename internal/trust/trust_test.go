package trust

import (
	"os"
	"path/filepath"
	"testing"
)

func TestPublic(t *testing.T) {
	tr, err := Public()
	if err != nil {
		t.Fatal(err)
	}
	if len(tr.FulcioCertificateAuthorities()) == 0 || len(tr.RekorLogs()) == 0 || len(tr.CTLogs()) == 0 {
		t.Errorf("public root lacks CAs, logs or CT logs: %d %d %d", len(tr.FulcioCertificateAuthorities()), len(tr.RekorLogs()), len(tr.CTLogs()))
	}
}

func TestLoad(t *testing.T) {
	p := filepath.Join(t.TempDir(), "root.json")
	if err := os.WriteFile(p, publicRoot, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(p); err != nil {
		t.Errorf("Load(copy of public) = %v", err)
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing.json")); err == nil {
		t.Error("Load(missing) succeeded")
	}
	if err := os.WriteFile(p, []byte(`{"mediaType":"nope"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(p); err == nil {
		t.Error("Load(bad media type) succeeded")
	}
}
