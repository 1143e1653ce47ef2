package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// image is one of the two images of a release, as tools/build-image builds it.
type image struct {
	// target is build-image's --target: seal or ci.
	target string
	// tag is the image's tag: VERSION, or VERSION-ci.
	tag string
	// base is the base image, pinned by digest.
	base string
}

// releaseImages are the release's seal and CI images, on the bases o names or the Dockerfile's.
func releaseImages(root string, o *options) ([]image, error) {
	base, ciBase := o.base, o.ciBase
	for _, b := range []struct {
		v   *string
		arg string
	}{{&base, "BASE_IMAGE"}, {&ciBase, "CI_BASE_IMAGE"}} {
		if *b.v != "" {
			continue
		}
		v, err := dockerfileArg(root, b.arg)
		if err != nil {
			return nil, err
		}
		*b.v = v
	}
	return []image{
		{target: "seal", tag: o.version, base: base},
		{target: "ci", tag: o.version + "-ci", base: ciBase},
	}, nil
}

// dockerfileArg reads ARG NAME=VALUE from the Dockerfile, which pins the images' bases by
// digest: one pin to update.
func dockerfileArg(root, arg string) (string, error) {
	b, err := os.ReadFile(filepath.Join(root, "Dockerfile"))
	if err != nil {
		return "", err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "ARG "+arg+"="); ok && v != "" {
			return strings.TrimSpace(v), nil
		}
	}
	return "", fmt.Errorf("the Dockerfile has no ARG %s=...", arg)
}

// imageBuilder runs tools/build-image as the checkout has it, built once into a temporary
// directory (tmp, which also takes the builds' OCI layouts) that close removes.
type imageBuilder struct {
	root, bin, tmp string
	// epoch is SOURCE_DATE_EPOCH: the source commit's time, so that a rebuild gives the same
	// digests.
	epoch    int64
	version  string
	revision string
	insecure bool
	log      io.Writer
}

// newImageBuilder builds tools/build-image for images of o.version from the commit revision,
// made at epoch.
func newImageBuilder(ctx context.Context, o *options, revision string, epoch int64, log io.Writer) (*imageBuilder, error) {
	tmp, err := os.MkdirTemp("", "seal-release-")
	if err != nil {
		return nil, err
	}
	b := &imageBuilder{root: o.root, bin: filepath.Join(tmp, "build-image"), tmp: tmp,
		epoch: epoch, version: o.version, revision: revision, insecure: o.insecure, log: log}
	cmd := exec.CommandContext(ctx, "go", "build", "-o", b.bin, "./tools/build-image")
	cmd.Dir = o.root
	cmd.Env = buildEnv()
	if out, err := cmd.CombinedOutput(); err != nil {
		b.close()
		return nil, fmt.Errorf("building tools/build-image: %w\n%s", err, out)
	}
	return b, nil
}

func (b *imageBuilder) close() { os.RemoveAll(b.tmp) }

// build assembles img from the linux binaries in bins (platform to path) and writes it with
// the output flags (--push REF or --oci-layout DIR); it returns the index digest.
func (b *imageBuilder) build(ctx context.Context, img image, bins map[platform]string, output ...string) (string, error) {
	args := []string{"--target", img.target, "--base", img.base, "--version", b.version, "--revision", b.revision}
	for _, p := range releasePlatforms {
		if path, ok := bins[p]; ok {
			args = append(args, "--binary", p.String()+"="+path)
		}
	}
	if b.insecure {
		args = append(args, "--insecure")
	}
	args = append(args, output...)
	cmd := exec.CommandContext(ctx, b.bin, args...)
	cmd.Dir = b.root
	cmd.Env = append(os.Environ(), "SOURCE_DATE_EPOCH="+strconv.FormatInt(b.epoch, 10))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("building the %s image: %w\n%s", img.target, err, strings.TrimSpace(stderr.String()))
	}
	_, digest, ok := strings.Cut(strings.TrimSpace(stdout.String()), "@")
	if !ok || !strings.HasPrefix(digest, "sha256:") {
		return "", fmt.Errorf("building the %s image: build-image printed %q, want REF@sha256:...", img.target, stdout.String())
	}
	fmt.Fprintf(b.log, "release: built the %s image %s\n", img.target, digest)
	return digest, nil
}

// linuxBinaries are the binaries in dist that the images carry.
func linuxBinaries(dist, version string, platforms []platform) map[platform]string {
	bins := map[platform]string{}
	for _, p := range platforms {
		if p.os == "linux" {
			bins[p] = filepath.Join(dist, p.asset(version))
		}
	}
	return bins
}

func remoteOptions(ctx context.Context) []remote.Option {
	return []remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(authn.DefaultKeychain)}
}

// pushLayout pushes the one index in the OCI layout dir to ref.
func pushLayout(ctx context.Context, dir string, ref name.Reference) error {
	p, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		return fmt.Errorf("reading %s: %w", dir, err)
	}
	im, err := p.IndexManifest()
	if err != nil || len(im.Manifests) != 1 {
		return fmt.Errorf("reading %s: want one index, have %v (%v)", dir, im, err)
	}
	idx, err := p.ImageIndex(im.Manifests[0].Digest)
	if err != nil {
		return fmt.Errorf("reading %s: %w", dir, err)
	}
	if err := remote.WriteIndex(ref, idx, remoteOptions(ctx)...); err != nil {
		return fmt.Errorf("pushing %s: %w", ref, err)
	}
	return nil
}
