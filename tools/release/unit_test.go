package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestOptionsRefused(t *testing.T) {
	for _, tc := range []struct {
		name   string
		args   []string
		stderr string
	}{
		{"no command", nil, "Usage:"},
		{"v prefix", []string{"check", "--version", "v1.2.3"}, `--version "v1.2.3": want a semantic version without a v`},
		{"not semantic", []string{"check", "--version", "1.2"}, "want a semantic version"},
		{"underscore", []string{"check", "--version", "1.2.3-rc_1"}, "want a semantic version"},
		{"no repository", []string{"prepare", "--version", "1.2.3"}, `--repository ""`},
		{"push without images", []string{"check", "--version", "1.2.3", "--push"}, "--push needs --images"},
		{"unknown platform", []string{"check", "--version", "1.2.3", "--platforms", "linux/ppc64le"}, `"linux/ppc64le" is not a release platform`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := run(t.Context(), tc.args, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), tc.stderr) {
				t.Errorf("run(%q) = exit %d, stderr %q; want 2 and %q", tc.args, code, stderr.String(), tc.stderr)
			}
		})
	}
}

func TestPlatformAssets(t *testing.T) {
	var got []string
	for _, p := range releasePlatforms {
		got = append(got, p.asset("1.2.3"))
	}
	want := []string{"seal_1.2.3_darwin_amd64", "seal_1.2.3_darwin_arm64", "seal_1.2.3_linux_amd64",
		"seal_1.2.3_linux_arm64", "seal_1.2.3_windows_amd64.exe", "seal_1.2.3_windows_arm64.exe"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("asset names (-want +got):\n%s", diff)
	}
}

func TestReleaseFile(t *testing.T) {
	h := func(c string) string { return strings.Repeat(c, 64) }
	rel := &release{
		version: "1.2.3", source: strings.Repeat("ab", 20), goVersion: "go1.26.8",
		image:   "ghcr.io/sealsign/seal:1.2.3@sha256:" + h("1"),
		ciImage: "ghcr.io/sealsign/seal:1.2.3-ci@sha256:" + h("2"),
		pins:    map[string]string{"seal_1.2.3_windows_arm64.exe": h("c"), "seal_1.2.3_linux_amd64": h("a")},
	}
	data := rel.marshal()
	if !bytes.HasPrefix(data, []byte(pinsHeader)) {
		t.Errorf("no header:\n%s", data)
	}
	// setup.sh reads the lines that are not comments, sorted by asset here.
	var pins []string
	for _, l := range strings.Split(string(data), "\n") {
		if l != "" && !strings.HasPrefix(l, "#") {
			pins = append(pins, l)
		}
	}
	if diff := cmp.Diff([]string{h("a") + "  seal_1.2.3_linux_amd64", h("c") + "  seal_1.2.3_windows_arm64.exe"}, pins); diff != "" {
		t.Errorf("pins (-want +got):\n%s", diff)
	}
	got, err := parseRelease(data)
	if err != nil {
		t.Fatalf("parseRelease() = %v\n%s", err, data)
	}
	if diff := cmp.Diff(rel, got, cmp.AllowUnexported(release{})); diff != "" {
		t.Errorf("parseRelease(marshal()) (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]platform{{"linux", "amd64"}, {"windows", "arm64"}}, got.pinnedPlatforms(), cmp.AllowUnexported(platform{})); diff != "" {
		t.Errorf("pinnedPlatforms() (-want +got):\n%s", diff)
	}

	main, err := os.ReadFile(filepath.Join("..", "..", pinsFile))
	if err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct{ data, err string }{
		"no release (main)":        {string(main), "pins no release"},
		"another version":          {strings.Replace(string(data), "seal_1.2.3_linux", "seal_1.2.4_linux", 1), "seal_1.2.4_linux_amd64 is not an asset of release 1.2.3"},
		"image of another version": {strings.Replace(string(data), ":1.2.3-ci@", ":1.2.4-ci@", 1), "want the tag 1.2.3 or 1.2.3-ci"},
		"image by digest only":     {strings.Replace(string(data), ":1.2.3-ci@", "@", 1), "want REPOSITORY:TAG@DIGEST"},
		"one image":                {strings.Replace(string(data), "# image ghcr.io/sealsign/seal:1.2.3@", "# the image ", 1), "pins 1 images"},
		"pinned twice":             {string(data) + h("d") + "  seal_1.2.3_linux_amd64\n", "pinned twice"},
		"not a pin":                {string(data) + "seal_1.2.3_linux_arm64\n", "neither a comment nor SHA256  ASSET"},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := parseRelease([]byte(tc.data)); err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("parseRelease() = %v, want %q", err, tc.err)
			}
		})
	}
}

// TestPinTemplate pins this checkout's components: only the seal-image default changes, and
// what GitLab reads is the pinned image.
func TestPinTemplate(t *testing.T) {
	paths, err := templatePaths(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	const ref = "ghcr.io/sealsign/seal:1.2.3-ci@sha256:2222222222222222222222222222222222222222222222222222222222222222"
	for _, p := range paths {
		t.Run(p, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join("..", "..", p))
			if err != nil {
				t.Fatal(err)
			}
			pinned, err := pinTemplate(raw, ref)
			if err != nil {
				t.Fatalf("pinTemplate() = %v", err)
			}
			var changed []string
			before, after := strings.Split(string(raw), "\n"), strings.Split(string(pinned), "\n")
			if len(before) != len(after) {
				t.Fatalf("pinning changed the number of lines: %d, %d", len(before), len(after))
			}
			for i := range before {
				if before[i] != after[i] {
					changed = append(changed, after[i])
				}
			}
			if diff := cmp.Diff([]string{"      default: '" + ref + "'"}, changed); diff != "" {
				t.Errorf("changed lines (-want +got):\n%s", diff)
			}
			// Again, over a release's pin.
			if again, err := pinTemplate(pinned, strings.Replace(ref, "1.2.3", "1.2.4", 1)); err != nil || bytes.Equal(again, pinned) {
				t.Errorf("pinning a pinned template: %v", err)
			}
			if _, err := pinTemplate(raw, "ghcr.io/sealsign/seal:1.2.3-ci"); err == nil || !strings.Contains(err.Error(), "does not pass the seal-image regex") {
				t.Errorf("pinTemplate(a tag) = %v, want a refusal", err)
			}
		})
	}
	if _, err := pinTemplate([]byte("spec:\n  inputs:\n    image:\n      default: x\n---\n"), ref); err == nil {
		t.Error("pinTemplate() of a template without seal-image succeeded")
	}
}

// TestPinGo: a go.mod that allows this machine's Go but names another (by its go line, or by
// an older toolchain line) is made to name this one, in a toolchain line, for the dry run.
func TestPinGo(t *testing.T) {
	gov, err := goVersion(t.Context(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for name, mod := range map[string]string{
		"go line":        "module example.com/m\n\ngo 1.21\n",
		"toolchain line": "module example.com/m\n\ngo 1.21\n\ntoolchain go1.21.1\n",
		"already":        "module example.com/m\n\ngo 1.21\n\ntoolchain " + gov + "\n",
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte(mod), 0o644); err != nil {
				t.Fatal(err)
			}
			pinGo(t, dir, gov)
			b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
			if err != nil {
				t.Fatal(err)
			}
			want := "module example.com/m\n\ngo 1.21\n\ntoolchain " + gov + "\n"
			if diff := cmp.Diff(want, string(b)); diff != "" {
				t.Errorf("go.mod (-want +got):\n%s", diff)
			}
		})
	}
}
