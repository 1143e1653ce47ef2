package subject

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const h64 = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824" // sha256("hello")

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    Subject
		wantErr string
	}{
		{in: "ghcr.io/o/app@sha256:" + h64, want: Subject{Name: "ghcr.io/o/app", Digest: map[string]string{"sha256": h64}}},
		{in: "localhost:5000/a/b@sha256:" + h64, want: Subject{Name: "localhost:5000/a/b", Digest: map[string]string{"sha256": h64}}},
		{in: "app", wantErr: "want NAME@sha256:HEX"},
		{in: "@sha256:" + h64, wantErr: "want NAME@sha256:HEX"},
		{in: "app@" + h64, wantErr: "has no algorithm"},
		{in: "app@md5:abcd", wantErr: "unsupported digest algorithm"},
		{in: "app@sha256:abcd", wantErr: "64 hex characters, got 4"},
		{in: "app@sha256:" + strings.ToUpper(h64), wantErr: "lowercase hex"},
		{in: "app@sha256:" + strings.Repeat("z", 64), wantErr: "lowercase hex"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := Parse(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Parse() error = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse() = %v", err)
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("Parse() mismatch (-want +got):\n%s", d)
			}
		})
	}
}

func TestFromGlob(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"b.tar.gz", "a.tar.gz"} {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("hello"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "c.tar.gz"), 0o700); err != nil { // directories are skipped
		t.Fatal(err)
	}
	got, err := FromGlob(context.Background(), filepath.Join(dir, "*.tar.gz"))
	if err != nil {
		t.Fatalf("FromGlob() = %v", err)
	}
	want := []Subject{
		{Name: filepath.ToSlash(filepath.Join(dir, "a.tar.gz")), Digest: map[string]string{"sha256": h64}},
		{Name: filepath.ToSlash(filepath.Join(dir, "b.tar.gz")), Digest: map[string]string{"sha256": h64}},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("FromGlob() mismatch (-want +got):\n%s", d)
	}
	if _, err := FromGlob(context.Background(), filepath.Join(dir, "*.zip")); !errors.Is(err, ErrNoMatch) {
		t.Errorf("FromGlob(no match) = %v, want ErrNoMatch", err)
	}
	if _, err := FromGlob(context.Background(), "[bad"); err == nil {
		t.Error("FromGlob(bad pattern) succeeded")
	}
}

func FuzzParse(f *testing.F) {
	f.Add("ghcr.io/o/app@sha256:" + h64)
	f.Add("a@b:c")
	f.Fuzz(func(t *testing.T, s string) {
		sub, err := Parse(s)
		if err == nil && (sub.Name == "" || len(sub.Digest) != 1) {
			t.Fatalf("Parse(%q) accepted %+v", s, sub)
		}
	})
}
