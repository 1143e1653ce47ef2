package main

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/sealsign/seal/internal/testbed"
)

const epoch = 1700000000

func TestScratchImage(t *testing.T) {
	reg := testbed.StartRegistry(t, testbed.Distribution)
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	t.Setenv("SOURCE_DATE_EPOCH", fmt.Sprint(epoch))
	created := time.Unix(epoch, 0).UTC()
	caCerts := []byte("-----BEGIN CERTIFICATE-----\nMIIB test\n-----END CERTIFICATE-----\n")
	caFile := filepath.Join(t.TempDir(), "ca.crt")
	if err := os.WriteFile(caFile, caCerts, 0o644); err != nil {
		t.Fatal(err)
	}
	// arm64 first: the index is sorted by platform whatever the order of the flags.
	args := []string{
		"--binary", "linux/arm64=" + binaries["arm64"], "--binary", "linux/amd64=" + binaries["amd64"],
		"--ca-certificates", caFile, "--version", testVersion, "--revision", "0123abcd",
	}
	tag := reg.Repo("seal") + ":" + testVersion
	start := time.Now()
	stdout := buildImage(t, append(args, "--push", tag, "--insecure", "--json")...)
	t.Logf("built and pushed 2 platforms in %v", time.Since(start).Round(time.Millisecond))
	var rep report
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("--json output %q: %v", stdout, err)
	}
	if want := reg.Repo("seal") + "@" + rep.Digest; rep.Reference != want {
		t.Errorf("reference = %q, want %q", rep.Reference, want)
	}

	idx, err := remote.Index(mustRef(t, tag), remote.WithContext(t.Context()))
	if err != nil {
		t.Fatalf("remote.Index(%s) = %v", tag, err)
	}
	im := indexManifest(t, idx, rep.Digest)
	if diff := cmp.Diff([]string{"linux/amd64", "linux/arm64"}, platforms(im)); diff != "" {
		t.Errorf("index platforms (-want +got):\n%s", diff)
	}
	if len(rep.Platforms) != len(im.Manifests) {
		t.Fatalf("report has %d platforms, index %d", len(rep.Platforms), len(im.Manifests))
	}
	for i, desc := range im.Manifests {
		arch := desc.Platform.Architecture
		t.Run(arch, func(t *testing.T) {
			img, err := idx.Image(desc.Digest)
			if err != nil {
				t.Fatalf("Image(%s) = %v", desc.Digest, err)
			}
			cf, err := img.ConfigFile()
			if err != nil {
				t.Fatalf("ConfigFile() = %v", err)
			}
			wantConfig := v1.Config{
				User:       "65532:65532",
				Entrypoint: []string{"/usr/local/bin/seal"},
				Cmd:        []string{"--help"},
				Env:        []string{defaultEnv, "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"},
				Labels: map[string]string{
					"org.opencontainers.image.title":         "seal",
					"org.opencontainers.image.description":   "Sign, attest and verify container images from CI",
					"org.opencontainers.image.source":        "https://github.com/sealsign/seal",
					"org.opencontainers.image.documentation": "https://github.com/sealsign/seal",
					"org.opencontainers.image.version":       testVersion,
					"org.opencontainers.image.revision":      "0123abcd",
					"org.opencontainers.image.created":       "2023-11-14T22:13:20Z",
				},
			}
			if diff := cmp.Diff(wantConfig, cf.Config); diff != "" {
				t.Errorf("config (-want +got):\n%s", diff)
			}
			if !cf.Created.Equal(created) || cf.OS != "linux" || cf.Architecture != arch {
				t.Errorf("config created %v os %q arch %q, want %v linux %s", cf.Created, cf.OS, cf.Architecture, created, arch)
			}
			layers, err := img.Layers()
			if err != nil || len(layers) != 2 {
				t.Fatalf("Layers() = %d layers, %v; want 2 (root filesystem, binary)", len(layers), err)
			}

			rootfs, rootfsSize := readLayer(t, layers[0])
			checkEntry(t, rootfs, "etc/passwd", tar.TypeReg, 0o644, 0, created)
			if !strings.Contains(string(rootfs["etc/passwd"].body), "\nnonroot:x:65532:65532:nonroot:/home/nonroot:") {
				t.Errorf("/etc/passwd has no nonroot user 65532:\n%s", rootfs["etc/passwd"].body)
			}
			if !strings.Contains(string(rootfs["etc/group"].body), "\nnonroot:x:65532:") {
				t.Errorf("/etc/group has no nonroot group 65532:\n%s", rootfs["etc/group"].body)
			}
			checkEntry(t, rootfs, "etc/ssl/certs/ca-certificates.crt", tar.TypeReg, 0o644, 0, created)
			if !bytes.Equal(rootfs["etc/ssl/certs/ca-certificates.crt"].body, caCerts) {
				t.Errorf("CA certificates differ from --ca-certificates")
			}
			checkEntry(t, rootfs, "tmp/", tar.TypeDir, 0o1777, 0, created)
			checkEntry(t, rootfs, "home/nonroot/", tar.TypeDir, 0o700, 65532, created)

			bin, binSize := readLayer(t, layers[1])
			checkEntry(t, bin, "usr/local/bin/", tar.TypeDir, 0o755, 0, created)
			checkEntry(t, bin, "usr/local/bin/seal", tar.TypeReg, 0o755, 0, created)
			if len(bin) != 4 {
				t.Errorf("binary layer has %d entries, want usr/, usr/local/, usr/local/bin/ and seal", len(bin))
			}
			exe, err := os.ReadFile(binaries[arch])
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(bin["usr/local/bin/seal"].body, exe) {
				t.Errorf("the layer's seal differs from %s", binaries[arch])
			}

			// The sizes the report gives, counted here from what the registry serves.
			want := platformReport{Platform: "linux/" + arch, Digest: desc.Digest.String(),
				CompressedSize: pulledSize(t, img), UncompressedSize: rootfsSize + binSize}
			if diff := cmp.Diff(want, rep.Platforms[i]); diff != "" {
				t.Errorf("report (-want +got):\n%s", diff)
			}
			t.Logf("linux/%s: %d bytes compressed, %d uncompressed", arch, want.CompressedSize, want.UncompressedSize)

			if arch == "amd64" {
				// Static: it runs from the layer with nothing around it.
				p := filepath.Join(t.TempDir(), "seal")
				if err := os.WriteFile(p, bin["usr/local/bin/seal"].body, 0o755); err != nil {
					t.Fatal(err)
				}
				out, err := exec.CommandContext(t.Context(), p, "version").CombinedOutput()
				if err != nil || !strings.HasPrefix(string(out), "seal "+testVersion+" ") {
					t.Errorf("seal version from the layer = %q, %v; want seal %s ...", out, err, testVersion)
				}
			}
		})
	}
}

func TestReproducible(t *testing.T) {
	reg := testbed.StartRegistry(t, testbed.Distribution)
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	t.Setenv("SOURCE_DATE_EPOCH", fmt.Sprint(epoch))
	tag := reg.Repo("hello") + ":v1"
	out := buildImage(t, "--binary", "linux/amd64="+tiny["amd64"], "--binary", "linux/arm64="+tiny["arm64"],
		"--push", tag, "--insecure")
	desc, err := remote.Head(mustRef(t, tag), remote.WithContext(t.Context()))
	if err != nil {
		t.Fatalf("remote.Head(%s) = %v", tag, err)
	}
	digest := desc.Digest.String()
	if want := reg.Repo("hello") + "@" + digest + "\n"; out != want {
		t.Errorf("printed %q, want %q", out, want)
	}

	// Again, into a layout, with the flags in another order: the same index.
	dir := t.TempDir()
	args := []string{"--binary", "linux/arm64=" + tiny["arm64"], "--binary", "linux/amd64=" + tiny["amd64"]}
	if got, want := buildImage(t, append(args, "--oci-layout", dir)...), dir+"@"+digest+"\n"; got != want {
		t.Errorf("second build printed %q, want %q", got, want)
	}
	lidx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatalf("reading the layout = %v", err)
	}
	lim, err := lidx.IndexManifest()
	if err != nil || len(lim.Manifests) != 1 || lim.Manifests[0].Digest.String() != digest {
		t.Fatalf("layout index.json = %+v, %v; want the one index %s", lim, err, digest)
	}
	idx, err := lidx.ImageIndex(lim.Manifests[0].Digest)
	if err != nil {
		t.Fatalf("reading the index from the layout = %v", err)
	}
	indexManifest(t, idx, digest)

	// The comparison above can fail: a later SOURCE_DATE_EPOCH gives another digest.
	t.Setenv("SOURCE_DATE_EPOCH", fmt.Sprint(epoch+1))
	if got := buildImage(t, append(args, "--oci-layout", t.TempDir())...); strings.Contains(got, digest) {
		t.Errorf("SOURCE_DATE_EPOCH changed, the digest did not: %s", got)
	}
}

func TestCIImageOnBase(t *testing.T) {
	reg := testbed.StartRegistry(t, testbed.Distribution)
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	base, baseLayers := pushBase(t, reg.Repo("distroless/static"))
	tag := reg.Repo("seal") + ":v1-ci"
	out := buildImage(t, "--target", "ci", "--base", base, "--insecure", "--push", tag, "--json",
		"--binary", "linux/amd64="+tiny["amd64"], "--binary", "linux/arm64="+tiny["arm64"])
	var rep report
	if err := json.Unmarshal([]byte(out), &rep); err != nil || len(rep.Platforms) != 2 {
		t.Fatalf("--json output %q: %v", out, err)
	}
	idx, err := remote.Index(mustRef(t, tag), remote.WithContext(t.Context()))
	if err != nil {
		t.Fatalf("remote.Index(%s) = %v", tag, err)
	}
	im := indexManifest(t, idx, rep.Digest)
	if diff := cmp.Diff([]string{"linux/amd64", "linux/arm64/v8"}, platforms(im)); diff != "" {
		t.Errorf("index platforms (-want +got):\n%s", diff)
	}
	for i, desc := range im.Manifests {
		arch := desc.Platform.Architecture
		img, err := idx.Image(desc.Digest)
		if err != nil {
			t.Fatalf("Image(%s) = %v", desc.Digest, err)
		}
		m, err := img.Manifest()
		if err != nil || len(m.Layers) != 2 || m.Layers[0].Digest != baseLayers[arch] {
			t.Fatalf("%s manifest = %+v, %v; want the %s base layer %s and the binary", arch, m, err, arch, baseLayers[arch])
		}
		layers, err := img.Layers()
		if err != nil {
			t.Fatalf("Layers() = %v", err)
		}
		_, baseSize := readLayer(t, layers[0])
		bin, binSize := readLayer(t, layers[1])
		if exe, err := os.ReadFile(tiny[arch]); err != nil || !bytes.Equal(bin["usr/local/bin/seal"].body, exe) {
			t.Errorf("%s: /usr/local/bin/seal is not %s (%v)", arch, tiny[arch], err)
		}
		// The base's layer counts too.
		wantReport := platformReport{Platform: desc.Platform.String(), Digest: desc.Digest.String(),
			CompressedSize: pulledSize(t, img), UncompressedSize: baseSize + binSize}
		if diff := cmp.Diff(wantReport, rep.Platforms[i]); diff != "" {
			t.Errorf("report (-want +got):\n%s", diff)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatalf("ConfigFile() = %v", err)
		}
		got := cf.Config
		labels := got.Labels
		got.Labels = nil
		want := v1.Config{
			User:       "65532:65532",
			Cmd:        []string{"seal", "--help"},
			Env:        []string{baseEnvPath, "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"},
			WorkingDir: "/home/nonroot",
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s config (-want +got):\n%s", arch, diff)
		}
		if labels["org.opencontainers.image.title"] != "seal-ci" || labels["base.label"] != "kept" {
			t.Errorf("%s labels = %v, want the title seal-ci and the base's label", arch, labels)
		}
		if _, ok := labels["org.opencontainers.image.revision"]; ok {
			t.Errorf("%s has a revision label without --revision", arch)
		}
	}

	out, stderr := buildImageFails(t, 1, "--target", "ci", "--base", base, "--insecure", "--push", tag+"-ppc",
		"--binary", "linux/ppc64le="+tiny["amd64"])
	if !strings.Contains(stderr, "has no linux/ppc64le image") || out != "" {
		t.Errorf("a platform the base lacks: stdout %q, stderr %q", out, stderr)
	}
}

func TestRefusals(t *testing.T) {
	reg := testbed.StartRegistry(t, testbed.Distribution)
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	amd64 := "linux/amd64=" + tiny["amd64"]
	push := reg.Repo("refused") + ":latest"
	for _, tc := range []struct {
		name   string
		env    string // SOURCE_DATE_EPOCH
		args   []string
		code   int
		stderr string
	}{
		{name: "ci on scratch", args: []string{"--target", "ci", "--binary", amd64, "--push", push},
			code: 2, stderr: "--target ci needs a --base with a shell"},
		{name: "missing binary", args: []string{"--binary", "linux/amd64=/nonexistent/seal", "--push", push, "--insecure"},
			code: 1, stderr: "reading the linux/amd64 binary: open /nonexistent/seal: no such file or directory"},
		{name: "wrong architecture", args: []string{"--binary", "linux/arm64=" + tiny["amd64"], "--push", push, "--insecure"},
			code: 1, stderr: "is built for EM_X86_64, not linux/arm64"},
		// The test machine's own /bin/sh is a dynamically linked amd64 executable.
		{name: "dynamic binary", args: []string{"--binary", "linux/amd64=/bin/sh", "--push", push, "--insecure"},
			code: 1, stderr: "dynamically linked; build it with CGO_ENABLED=0"},
		{name: "base by tag", args: []string{"--base", "gcr.io/distroless/static:nonroot", "--binary", amd64, "--push", push},
			code: 2, stderr: "must be scratch or pinned by digest"},
		{name: "no output", args: []string{"--binary", amd64},
			code: 2, stderr: "exactly one of --push and --oci-layout"},
		{name: "two binaries for a platform", args: []string{"--binary", amd64, "--binary", amd64, "--push", push},
			code: 2, stderr: "two binaries for linux/amd64"},
		{name: "not linux", args: []string{"--binary", "windows/amd64=seal.exe", "--push", push},
			code: 2, stderr: `platform "windows/amd64": want linux/ARCH`},
		{name: "bad SOURCE_DATE_EPOCH", env: "yesterday", args: []string{"--binary", amd64, "--push", push},
			code: 2, stderr: `SOURCE_DATE_EPOCH="yesterday"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("SOURCE_DATE_EPOCH", tc.env)
			out, stderr := buildImageFails(t, tc.code, tc.args...)
			if out != "" || !strings.Contains(stderr, tc.stderr) {
				t.Errorf("stdout %q, stderr %q; want nothing and %q", out, stderr, tc.stderr)
			}
		})
	}
	repos, err := remote.Catalog(t.Context(), mustRef(t, push).Context().Registry)
	if err != nil || len(repos) != 0 {
		t.Errorf("after refused builds the registry holds %v (%v), want nothing", repos, err)
	}
}

// buildImage runs the command with args, checks that it exits 0 and returns its stdout.
func buildImage(t *testing.T, args ...string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if code := run(t.Context(), args, &stdout, &stderr); code != 0 {
		t.Fatalf("build-image %s = exit %d\n%s", strings.Join(args, " "), code, stderr.String())
	}
	return stdout.String()
}

// buildImageFails runs the command with args, checks its exit code and returns stdout and stderr.
func buildImageFails(t *testing.T, code int, args ...string) (string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if got := run(t.Context(), args, &stdout, &stderr); got != code {
		t.Fatalf("build-image %s = exit %d, want %d\n%s", strings.Join(args, " "), got, code, stderr.String())
	}
	return stdout.String(), stderr.String()
}

func mustRef(t *testing.T, s string) name.Reference {
	t.Helper()
	ref, err := name.ParseReference(s)
	if err != nil {
		t.Fatal(err)
	}
	return ref
}

// indexManifest checks that idx is an OCI index with the given digest and returns its manifest.
func indexManifest(t *testing.T, idx v1.ImageIndex, digest string) *v1.IndexManifest {
	t.Helper()
	d, err := idx.Digest()
	if err != nil || d.String() != digest {
		t.Fatalf("index digest = %v, %v; want %s", d, err, digest)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatalf("IndexManifest() = %v", err)
	}
	if im.MediaType != types.OCIImageIndex {
		t.Errorf("index media type = %q, want %q", im.MediaType, types.OCIImageIndex)
	}
	for _, m := range im.Manifests {
		if m.MediaType != types.OCIManifestSchema1 {
			t.Errorf("manifest %s media type = %q, want %q", m.Digest, m.MediaType, types.OCIManifestSchema1)
		}
	}
	return im
}

func platforms(im *v1.IndexManifest) []string {
	var ps []string
	for _, m := range im.Manifests {
		ps = append(ps, m.Platform.String())
	}
	return ps
}

type tarEntry struct {
	hdr  *tar.Header
	body []byte
}

// readLayer returns the entries of a pulled layer by name, and the size of its tar.
func readLayer(t *testing.T, l v1.Layer) (map[string]tarEntry, int64) {
	t.Helper()
	rc, err := l.Uncompressed()
	if err != nil {
		t.Fatalf("Uncompressed() = %v", err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("reading the layer: %v", err)
	}
	entries := map[string]tarEntry{}
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return entries, int64(len(b))
		}
		if err != nil {
			t.Fatalf("reading the layer's tar: %v", err)
		}
		body, err := io.ReadAll(tr)
		if err != nil {
			t.Fatalf("reading %s: %v", h.Name, err)
		}
		entries[h.Name] = tarEntry{hdr: h, body: body}
	}
}

func checkEntry(t *testing.T, entries map[string]tarEntry, name string, typ byte, mode int64, owner int, mtime time.Time) {
	t.Helper()
	e, ok := entries[name]
	if !ok {
		t.Errorf("the layer has no %s", name)
		return
	}
	h := e.hdr
	if h.Typeflag != typ || h.Mode != mode || h.Uid != owner || h.Gid != owner || !h.ModTime.Equal(mtime) {
		t.Errorf("%s: type %c mode %o owner %d:%d mtime %v; want type %c mode %o owner %d:%d mtime %v",
			name, h.Typeflag, h.Mode, h.Uid, h.Gid, h.ModTime.UTC(), typ, mode, owner, owner, mtime)
	}
}

// pulledSize counts the bytes of img's manifest, config and compressed layers as served.
func pulledSize(t *testing.T, img v1.Image) int64 {
	t.Helper()
	m, err := img.RawManifest()
	if err != nil {
		t.Fatal(err)
	}
	c, err := img.RawConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	n := int64(len(m) + len(c))
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range layers {
		rc, err := l.Compressed()
		if err != nil {
			t.Fatal(err)
		}
		k, err := io.Copy(io.Discard, rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		n += k
	}
	return n
}

const baseEnvPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/busybox"

// pushBase pushes a stand-in for distroless debug-nonroot to repo: an index of linux/amd64,
// linux/arm64/v8 and linux/s390x images, each with a /busybox/sh of its own and distroless's
// config. It returns the reference as the Dockerfile writes it (repo:tag@digest) and the digest of
// each platform's layer by architecture.
func pushBase(t *testing.T, repo string) (string, map[string]v1.Hash) {
	t.Helper()
	layers := map[string]v1.Hash{}
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, p := range []v1.Platform{{OS: "linux", Architecture: "amd64"}, {OS: "linux", Architecture: "arm64", Variant: "v8"}, {OS: "linux", Architecture: "s390x"}} {
		l, err := tarLayer([]file{{name: "/busybox", mode: 0o755}, {name: "/busybox/sh", mode: 0o755, body: []byte("sh for " + p.String())}}, time.Unix(0, 0))
		if err != nil {
			t.Fatal(err)
		}
		img, err := mutate.Append(mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON), mutate.Addendum{Layer: l})
		if err != nil {
			t.Fatal(err)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		cf.OS, cf.Architecture, cf.Variant = p.OS, p.Architecture, p.Variant
		cf.Config = v1.Config{
			User:       "65532",
			WorkingDir: "/home/nonroot",
			Entrypoint: []string{"/busybox/sh"},
			Env:        []string{baseEnvPath, "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"},
			Labels:     map[string]string{"base.label": "kept"},
		}
		if img, err = mutate.ConfigFile(img, cf); err != nil {
			t.Fatal(err)
		}
		if layers[p.Architecture], err = l.Digest(); err != nil {
			t.Fatal(err)
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &p}})
	}
	tag := repo + ":debug-nonroot"
	if err := remote.WriteIndex(mustRef(t, tag), idx, remote.WithContext(t.Context())); err != nil {
		t.Fatalf("pushing the base: %v", err)
	}
	d, err := idx.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return tag + "@" + d.String(), layers
}
