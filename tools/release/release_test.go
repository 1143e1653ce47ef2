package main

import (
	"archive/tar"
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/sealsign/seal/internal/testbed"
)

// TestDryRunRelease runs a release from a copy of this checkout against a loopback registry, as
// the release workflow runs it, with nothing pushed but the images: prepare builds the linux
// binaries (the ones the images carry; the other four cost a cold build of minutes and take the
// same code path), pushes the images, pins, commits and tags; then, at the tag, the publish
// job's check rebuilds everything and finds the pins; the action at the tag installs the pinned
// binary from a GitHub stand-in and refuses a tampered one; the components at the tag name the
// pushed CI image; and a tag whose pins differ from what it builds is refused.
func TestDryRunRelease(t *testing.T) {
	for _, tool := range []string{"git", "bash", "curl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("the release flow needs %s", tool)
		}
	}
	const version = "1.2.3"
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if err := exec.Command("git", "-C", root, "rev-parse", "--is-inside-work-tree").Run(); err != nil {
		t.Skipf("%s is not a git checkout (%v): the release is made from one", root, err)
	}
	// Any Go that go.mod allows makes the dry run: go would not run here with another.
	gov, err := goVersion(t.Context(), root)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{
		"GIT_AUTHOR_NAME": "Seal Release", "GIT_AUTHOR_EMAIL": "release@example.com",
		"GIT_COMMITTER_NAME": "Seal Release", "GIT_COMMITTER_EMAIL": "release@example.com",
		"GIT_CONFIG_GLOBAL": os.DevNull, "GIT_CONFIG_NOSYSTEM": "1",
		"DOCKER_CONFIG": t.TempDir(),
	} {
		t.Setenv(k, v)
	}
	start := time.Now()
	lap := func(what string) {
		t.Logf("%s: %v", what, time.Since(start).Round(time.Millisecond))
		start = time.Now()
	}

	// main: this checkout as a repository of its own, one commit.
	src := filepath.Join(t.TempDir(), "seal")
	copyCheckout(t, root, src)
	pinGo(t, src, gov)
	git(t, src, "init", "-q", "-b", "main")
	git(t, src, "add", "-A")
	git(t, src, "commit", "-q", "-m", "the source of the release")
	source := git(t, src, "rev-parse", "HEAD")
	reg := testbed.StartRegistry(t, testbed.InProcess)
	base := pushBase(t, reg.Repo("distroless/static"))
	repository := reg.Repo("sealsign/seal")
	common := []string{"--version", version, "--base", base, "--ci-base", base, "--insecure"}
	lap("copied the checkout and pushed a base")

	// The prepare job.
	stdout, stderr, code := runRelease(t, append([]string{"prepare", "-C", src, "--repository", repository,
		"--platforms", "linux/amd64,linux/arm64"}, common...)...)
	if code != 0 {
		t.Fatalf("release prepare = exit %d\n%s", code, stderr)
	}
	t.Logf("release prepare:\n%s%s", stdout, stderr)
	lap("prepare")
	out := keyValues(stdout)
	commit := git(t, src, "rev-parse", "HEAD")
	if out["tag"] != version || out["commit"] != commit || git(t, src, "rev-parse", version+"^{commit}") != commit {
		t.Fatalf("prepare printed %v; HEAD %s, tag %s", out, commit, git(t, src, "rev-parse", version+"^{commit}"))
	}
	if parent := git(t, src, "rev-parse", "HEAD^"); parent != source {
		t.Errorf("the release commit's parent is %s, want the source commit %s", parent, source)
	}
	if subject := git(t, src, "log", "-1", "--format=%s"); subject != "release "+version+": pin its binaries and images" {
		t.Errorf("the release commit's subject is %q", subject)
	}
	changed := strings.Fields(git(t, src, "diff", "--name-only", "HEAD^", "HEAD"))
	if diff := cmp.Diff([]string{"actions/release.sha256", "templates/attest/template.yml", "templates/promote/template.yml", "templates/seal/template.yml",
		"templates/sign/template.yml", "templates/verify/template.yml"}, changed); diff != "" {
		t.Errorf("the release commit changes (-want +got):\n%s", diff)
	}
	if st := git(t, src, "status", "--porcelain"); st != "" {
		t.Errorf("prepare left changes:\n%s", st)
	}

	// What the tagged commit pins: the binaries prepare built, and the images it pushed.
	rel, err := parseRelease([]byte(git(t, src, "show", version+":"+pinsFile) + "\n"))
	if err != nil {
		t.Fatalf("%s at the tag: %v", pinsFile, err)
	}
	if rel.version != version || rel.source != source || rel.image != out["image"] || rel.ciImage != out["ci-image"] {
		t.Errorf("the pins name release %s from %s, images %s and %s; want %s from %s, %s and %s",
			rel.version, rel.source, rel.image, rel.ciImage, version, source, out["image"], out["ci-image"])
	}
	built := map[string][]byte{}
	for _, p := range []platform{{"linux", "amd64"}, {"linux", "arm64"}} {
		a := p.asset(version)
		b, err := os.ReadFile(filepath.Join(src, "dist", a))
		if err != nil {
			t.Fatal(err)
		}
		built[a] = b
		if rel.pins[a] != sha256Hex(b) {
			t.Errorf("%s: pinned %s, built %s", a, rel.pins[a], sha256Hex(b))
		}
	}
	if len(rel.pins) != len(built) {
		t.Errorf("the tag pins %v, want the %d binaries built", rel.pins, len(built))
	}

	t.Run("components at the tag", func(t *testing.T) {
		for _, c := range []string{"attest", "seal", "sign", "verify"} {
			raw := git(t, src, "show", version+":templates/"+c+"/template.yml")
			def, re, err := sealImageSpec([]byte(raw))
			if err != nil {
				t.Fatalf("%s: %v", c, err)
			}
			if def != rel.ciImage || !re.MatchString(def) {
				t.Errorf("%s: seal-image default %q (regex match %v), want %s", c, def, re.MatchString(def), rel.ciImage)
			}
		}
		// The CI image's content; the check below rebuilds both images to the pinned digests.
		checkImage(t, rel.ciImage, repository+":"+version+"-ci", built[platform{"linux", "amd64"}.asset(version)])
		checkImage(t, rel.image, repository+":"+version, nil)
	})
	lap("components and images")

	// The publish jobs: a fresh checkout of the tag; the images job's check, which pushes the
	// checked images again, checks the binaries too.
	pub := filepath.Join(t.TempDir(), "seal")
	git(t, "", "clone", "-q", "--branch", version, src, pub)
	stdout, stderr, code = runRelease(t, append([]string{"check", "-C", pub, "--images", "--push"}, common...)...)
	if code != 0 {
		t.Fatalf("release check at the tag = exit %d\n%s", code, stderr)
	}
	t.Logf("release check:\n%s%s", stdout, stderr)
	lap("check")
	digests := keyValues(stdout)
	for k, ref := range map[string]string{"digest": rel.image, "ci-digest": rel.ciImage} {
		if !strings.HasSuffix(ref, "@"+digests[k]) {
			t.Errorf("check printed %s=%s, want the digest of %s", k, digests[k], ref)
		}
	}
	sums, err := os.ReadFile(filepath.Join(pub, "dist", "SHA256SUMS"))
	if err != nil {
		t.Fatal(err)
	}
	for a, b := range built {
		if !strings.Contains(string(sums), sha256Hex(b)+"  "+a+"\n") {
			t.Errorf("SHA256SUMS does not list %s:\n%s", a, sums)
		}
	}

	t.Run("action at the tag", func(t *testing.T) {
		asset := platform{"linux", "amd64"}.asset(version)
		good := built[asset]
		served := good
		serverURL, ca := testbed.ReleaseServer(t, version, asset, &served)
		env := map[string]string{
			"RUNNER_OS": "Linux", "RUNNER_ARCH": "X64", "RUNNER_TEMP": t.TempDir(),
			"GITHUB_SERVER_URL": serverURL, "CURL_CA_BUNDLE": ca,
		}
		install := func(t *testing.T) (string, string, bool) {
			t.Helper()
			env["RUNNER_TOOL_CACHE"] = t.TempDir()
			plan, log, ok := setup(t, pub, env, "plan")
			if !ok || plan["mode"] != "release" || plan["version"] != version {
				t.Fatalf("setup.sh plan at the tag: outputs %v, ok %v; want mode release, version %s\n%s", plan, ok, version, log)
			}
			env["SEAL_MODE"], env["SEAL_DIR"], env["SEAL_BUILD_VERSION"] = plan["mode"], plan["dir"], plan["version"]
			got, log, ok := setup(t, pub, env, "install")
			return got["path"], log, ok
		}

		path, log, ok := install(t)
		if !ok {
			t.Fatalf("setup.sh install at the tag failed:\n%s", log)
		}
		if b, err := os.ReadFile(path); err != nil || !bytes.Equal(b, good) {
			t.Errorf("setup.sh installed %s (%v), which is not the pinned %s", path, err, asset)
		}
		v, err := exec.Command(path, "version").CombinedOutput()
		if err != nil || !strings.HasPrefix(string(v), "seal "+version+" ") {
			t.Errorf("seal version = %q, %v; want seal %s ...", v, err, version)
		}

		served = append(slices.Clone(good), "tampered"...)
		if _, log, ok := install(t); ok || !strings.Contains(log, "refusing to run it") {
			t.Errorf("setup.sh installed a tampered %s (ok %v):\n%s", asset, ok, log)
		}
	})
	lap("action")

	// A tag whose pins are not what it builds: the same release commit, with the linux/amd64
	// pin replaced.
	t.Run("pins that differ", func(t *testing.T) {
		asset := platform{"linux", "amd64"}.asset(version)
		tampered := strings.Replace(git(t, pub, "show", "HEAD:"+pinsFile), rel.pins[asset], sha256Hex([]byte("other bytes")), 1)
		if err := os.WriteFile(filepath.Join(pub, pinsFile), []byte(tampered+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		git(t, pub, "commit", "-q", "--amend", "--no-edit", "--", pinsFile)
		git(t, pub, "tag", "-f", "-a", version, "-m", "Seal "+version)
		_, stderr, code := runRelease(t, append([]string{"check", "-C", pub, "--platforms", "linux/amd64"}, common...)...)
		if code != 1 || !strings.Contains(stderr, "refusing to publish") || !strings.Contains(stderr, asset) {
			t.Errorf("check of a tag with a wrong pin = exit %d, want 1 and a refusal naming %s:\n%s", code, asset, stderr)
		}
		t.Logf("release check of a tag with a wrong pin:\n%s", stderr)
		if _, err := os.Stat(filepath.Join(pub, "dist", asset)); err == nil {
			t.Errorf("the refused %s was left in dist for publishing", asset)
		}
	})
	lap("refusal")
}

// checkImage checks that the image pinned as ref is what the registry serves under tag, an index
// of linux/amd64 and linux/arm64, and unless binary is nil that its linux/amd64 image carries
// binary at /usr/local/bin/seal (reading the layer takes seconds under -race).
func checkImage(t *testing.T, ref, tag string, binary []byte) {
	t.Helper()
	d, err := name.NewDigest(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := remote.Index(d, remote.WithContext(t.Context()))
	if err != nil {
		t.Fatalf("the pinned image %s: %v", ref, err)
	}
	tr, err := name.NewTag(tag, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if desc, err := remote.Head(tr, remote.WithContext(t.Context())); err != nil || desc.Digest.String() != d.DigestStr() {
		t.Errorf("%s = %v (%v), want the pinned %s", tag, desc, err, d.DigestStr())
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	var platforms []string
	for _, m := range im.Manifests {
		platforms = append(platforms, m.Platform.String())
	}
	if diff := cmp.Diff([]string{"linux/amd64", "linux/arm64"}, platforms); diff != "" {
		t.Fatalf("%s platforms (-want +got):\n%s", ref, diff)
	}
	if binary == nil {
		return
	}
	img, err := idx.Image(im.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	layers, err := img.Layers()
	if err != nil || len(layers) == 0 {
		t.Fatalf("%s layers: %d, %v", ref, len(layers), err)
	}
	rc, err := layers[len(layers)-1].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	r := tar.NewReader(rc)
	for {
		h, err := r.Next()
		if err != nil {
			t.Fatalf("%s: no usr/local/bin/seal in the top layer (%v)", ref, err)
		}
		if h.Name == "usr/local/bin/seal" {
			b, err := io.ReadAll(r)
			if err != nil || !bytes.Equal(b, binary) {
				t.Errorf("%s: /usr/local/bin/seal (sha256 %s, %v) is not the pinned binary %s", ref, sha256Hex(b), err, sha256Hex(binary))
			}
			return
		}
	}
}

// runRelease runs the command in-process, as `go run ./tools/release ARGS` would.
func runRelease(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(t.Context(), args, &stdout, &stderr)
	return stdout.String(), stderr.String(), code
}

// copyCheckout copies the files of the checkout at root that git tracks or would track
// (modified or new, not ignored) to dir: the working tree, as go test tests it.
func copyCheckout(t *testing.T, root, dir string) {
	t.Helper()
	files := git(t, root, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
	for _, f := range strings.Split(files, "\x00") {
		if f == "" {
			continue
		}
		fi, err := os.Lstat(filepath.Join(root, f))
		if os.IsNotExist(err) {
			continue // deleted in the working tree
		}
		if err != nil {
			t.Fatal(err)
		}
		if !fi.Mode().IsRegular() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, f)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, fi.Mode().Perm()); err != nil {
			t.Fatal(err)
		}
	}
}

// pinGo makes the go.mod in dir name gov, this machine's Go, when it names another that it allows
// gov to build with (an older patch release, say): prepare refuses to pin binaries that the
// release workflow, which builds with the Go go.mod names, would not rebuild, and a release made
// with gov would name gov. The toolchain line is go's own way to say so.
func pinGo(t *testing.T, dir, gov string) {
	t.Helper()
	want, err := modGoVersion(dir)
	if err != nil {
		t.Fatal(err)
	}
	if want == gov {
		return
	}
	p := filepath.Join(dir, "go.mod")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, l := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
		if f := strings.Fields(l); len(f) == 0 || f[0] != "toolchain" {
			lines = append(lines, l)
		}
	}
	for len(lines) > 0 && strings.TrimSpace(lines[len(lines)-1]) == "" {
		lines = lines[:len(lines)-1]
	}
	lines = append(lines, "", "toolchain "+gov)
	if err := os.WriteFile(p, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err := modGoVersion(dir); err != nil || got != gov {
		t.Fatalf("after pinning %s, go.mod names %s (%v)", gov, got, err)
	}
	if got, err := goVersion(t.Context(), dir); err != nil || got != gov {
		t.Fatalf("after pinning %s, go runs %s (%v)", gov, got, err)
	}
	t.Logf("go.mod asks for %s; the release is made with this machine's %s, which go.mod allows, named in its toolchain line", want, gov)
}

func git(t *testing.T, dir string, args ...string) string {
	t.Helper()
	if dir != "" {
		args = append([]string{"-C", dir}, args...)
	}
	out, err := exec.Command("git", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// setup runs the checkout's actions/setup.sh as the action's steps do, with env on top of an
// environment cleaned of the runner's and Seal's variables, and returns its step outputs, its
// log and whether it succeeded.
func setup(t *testing.T, checkout string, env map[string]string, step string) (map[string]string, string, bool) {
	t.Helper()
	outFile := filepath.Join(t.TempDir(), "github_output")
	if err := os.WriteFile(outFile, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("bash", filepath.Join(checkout, "actions", "setup.sh"), step)
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(k, "GITHUB_") && !strings.HasPrefix(k, "RUNNER_") && !strings.HasPrefix(k, "SEAL_") && !strings.HasPrefix(k, "CURL_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "GITHUB_OUTPUT="+outFile)
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	log, err := cmd.CombinedOutput()
	b, rerr := os.ReadFile(outFile)
	if rerr != nil {
		t.Fatal(rerr)
	}
	return keyValues(string(b)), string(log), err == nil
}

// keyValues reads NAME=VALUE lines.
func keyValues(s string) map[string]string {
	kv := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok {
			kv[k] = v
		}
	}
	return kv
}

// pushBase pushes a stand-in for the distroless bases: an index of small linux/amd64 and
// linux/arm64 images. It returns it as the Dockerfile pins a base, REPO:TAG@DIGEST.
func pushBase(t *testing.T, repo string) string {
	t.Helper()
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, arch := range []string{"amd64", "arm64"} {
		img, err := random.Image(256, 1)
		if err != nil {
			t.Fatal(err)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		cf = cf.DeepCopy()
		cf.OS, cf.Architecture = "linux", arch
		if img, err = mutate.ConfigFile(img, cf); err != nil {
			t.Fatal(err)
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: arch}}})
	}
	tag := repo + ":debug-nonroot"
	ref, err := name.NewTag(tag, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(ref, idx, remote.WithContext(t.Context())); err != nil {
		t.Fatalf("pushing the base: %v", err)
	}
	d, err := idx.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return tag + "@" + d.String()
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
