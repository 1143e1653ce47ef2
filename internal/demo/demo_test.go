package demo

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// TestRun: the demo publishes a signature and two attestations in both
// formats for the image and for the index and each of its two platforms,
// and verifies all of them.
func TestRun(t *testing.T) {
	d, err := Start(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	dir := t.TempDir()
	res, err := d.Run(context.Background(), dir)
	if err != nil {
		t.Fatalf("Run() = %v", err)
	}
	if n := len(res.Single.Items); n != 6 {
		t.Errorf("single image: %d items, want 6 (signature + 2 attestations, 2 formats)", n)
	}
	if n := len(res.Index.Items); n != 18 {
		t.Errorf("index: %d items, want 18 (index + 2 platforms, 6 each)", n)
	}
	if len(res.Verified) != 2 {
		t.Fatalf("verified %d reports, want 2", len(res.Verified))
	}
	if n := len(res.Verified[1].Findings); n != 18 {
		t.Errorf("index verification: %d findings, want 18", n)
	}
	for _, f := range []string{res.KeyPath, res.EmptyRootPath} {
		if _, err := os.Stat(f); err != nil || filepath.Dir(f) != dir {
			t.Errorf("%s: %v", f, err)
		}
	}
}
