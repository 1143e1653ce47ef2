package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// run is the whole command; it returns the exit code: 2 for bad flags, 1 for a failed or
// refused release.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseOptions(args, stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errReported):
		return 2
	case err != nil:
		fmt.Fprintf(stderr, "release: %v\n", err)
		return 2
	}
	if o.command == "prepare" {
		err = prepare(ctx, o, stdout, stderr)
	} else {
		err = check(ctx, o, stdout, stderr)
	}
	if err != nil {
		fmt.Fprintf(stderr, "release %s: %v\n", o.command, err)
		return 1
	}
	return 0
}

// prepare builds, pushes, pins, commits and tags; see the command's doc.
func prepare(ctx context.Context, o *options, stdout, log io.Writer) error {
	r := repo{o.root}
	if err := r.checkClean(ctx); err != nil {
		return err
	}
	if _, err := r.git(ctx, "rev-parse", "-q", "--verify", "refs/tags/"+o.version); err == nil {
		return fmt.Errorf("the tag %s exists already", o.version)
	}
	// Before anything is built or pushed: the commit and the tag need an identity.
	if _, err := r.git(ctx, "var", "GIT_COMMITTER_IDENT"); err != nil {
		return fmt.Errorf("git cannot commit here (set user.name and user.email): %w", err)
	}
	gov, err := goVersion(ctx, o.root)
	if err != nil {
		return err
	}
	want, err := modGoVersion(o.root)
	if err != nil {
		return err
	}
	if gov != want {
		return fmt.Errorf("this is %s, but go.mod asks for %s, which the release workflow's check rebuilds with: the pins would not match", gov, want)
	}
	source, epoch, err := sourceCommit(ctx, r, "HEAD")
	if err != nil {
		return err
	}
	if slices.IndexFunc(o.platforms, func(p platform) bool { return p.os == "linux" }) < 0 {
		return errors.New("--platforms has no linux platform, which the images need")
	}
	fmt.Fprintf(log, "release: %s from %s with %s\n", o.version, source, gov)

	dist := filepath.Join(o.root, o.dist)
	if filepath.IsAbs(o.dist) {
		dist = o.dist
	}
	sums, err := buildBinaries(ctx, o.root, dist, o.version, o.platforms, log)
	if err != nil {
		return err
	}
	b, err := newImageBuilder(ctx, o, source, epoch, log)
	if err != nil {
		return err
	}
	defer b.close()
	imgs, err := releaseImages(o.root, o)
	if err != nil {
		return err
	}
	bins := linuxBinaries(dist, o.version, o.platforms)
	refs := make([]string, len(imgs))
	for i, img := range imgs {
		digest, err := b.build(ctx, img, bins, "--push", o.repository.Tag(img.tag).String())
		if err != nil {
			return err
		}
		refs[i] = imageRef(o.repository, img.tag, digest)
	}
	rel := &release{version: o.version, source: source, goVersion: gov, image: refs[0], ciImage: refs[1], pins: sums}

	// The release commit: the pins, and the CI image as the components' default.
	if err := os.WriteFile(filepath.Join(o.root, pinsFile), rel.marshal(), 0o644); err != nil {
		return err
	}
	templates, err := pinTemplates(o.root, rel.ciImage)
	if err != nil {
		return err
	}
	paths := append([]string{pinsFile}, templates...)
	if _, err := r.git(ctx, append([]string{"add", "--"}, paths...)...); err != nil {
		return err
	}
	msg := fmt.Sprintf("release %s: pin its binaries and images\n\n"+
		"%s pins the sha256 of the %d binaries built from %s with %s, and the components' seal-image is %s\n"+
		"(the seal image is %s). `go run ./tools/release check --version %s` rebuilds them.\n",
		o.version, pinsFile, len(sums), source, gov, rel.ciImage, rel.image, o.version)
	if _, err := r.git(ctx, append([]string{"commit", "-q", "-m", msg, "--"}, paths...)...); err != nil {
		return err
	}
	if _, err := r.git(ctx, "tag", "-a", o.version, "-m", "Seal "+o.version); err != nil {
		return err
	}
	commit, err := r.git(ctx, "rev-parse", "HEAD")
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "tag=%s\ncommit=%s\nimage=%s\nci-image=%s\n", o.version, commit, rel.image, rel.ciImage)
	fmt.Fprintf(log, "release: tagged %s at %s; publish it with: git push origin refs/tags/%s\n", o.version, commit, o.version)
	return nil
}

// check rebuilds what the tagged commit pins and refuses any difference; see the command's doc.
func check(ctx context.Context, o *options, stdout, log io.Writer) error {
	r := repo{o.root}
	if err := r.checkClean(ctx); err != nil {
		return err
	}
	head, err := r.git(ctx, "rev-parse", "HEAD")
	if err != nil {
		return err
	}
	tagged, err := r.git(ctx, "rev-parse", "-q", "--verify", "refs/tags/"+o.version+"^{commit}")
	if err != nil || tagged != head {
		return fmt.Errorf("HEAD %s is not the commit the tag %s names (%s): check the tag out", head, o.version, tagged)
	}
	data, err := r.git(ctx, "show", "HEAD:"+pinsFile)
	if err != nil {
		return err
	}
	rel, err := parseRelease([]byte(data + "\n"))
	if err != nil {
		return fmt.Errorf("%s at %s: %w", pinsFile, o.version, err)
	}
	if rel.version != o.version {
		return fmt.Errorf("%s at the tag %s pins release %s", pinsFile, o.version, rel.version)
	}
	parents, err := r.git(ctx, "rev-list", "--parents", "-n", "1", "HEAD")
	if err != nil {
		return err
	}
	if p := strings.Fields(parents)[1:]; len(p) != 1 || p[0] != rel.source {
		return fmt.Errorf("the tagged commit's parents are %v, but its pins were built from %s", p, rel.source)
	}
	gov, err := goVersion(ctx, o.root)
	if err != nil {
		return err
	}
	if gov != rel.goVersion {
		return fmt.Errorf("the pins were built with %s and this is %s, which builds other bytes", rel.goVersion, gov)
	}
	_, epoch, err := sourceCommit(ctx, r, rel.source)
	if err != nil {
		return err
	}
	paths, err := templatePaths(o.root)
	if err != nil {
		return err
	}
	for _, p := range paths {
		raw, err := os.ReadFile(filepath.Join(o.root, p))
		if err != nil {
			return err
		}
		def, _, err := sealImageSpec(raw)
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		if def != rel.ciImage {
			return fmt.Errorf("%s: the seal-image default is %q, but the release's CI image is %s", p, def, rel.ciImage)
		}
	}

	platforms := o.platforms
	if platforms == nil {
		platforms = rel.pinnedPlatforms()
	}
	for _, p := range platforms {
		if _, ok := rel.pins[p.asset(o.version)]; !ok {
			return fmt.Errorf("release %s pins no %s binary", o.version, p)
		}
	}
	dist := filepath.Join(o.root, o.dist)
	if filepath.IsAbs(o.dist) {
		dist = o.dist
	}
	sums, err := buildBinaries(ctx, o.root, dist, o.version, platforms, log)
	if err != nil {
		return err
	}
	var differ []string
	for _, p := range platforms {
		a := p.asset(o.version)
		if sums[a] != rel.pins[a] {
			differ = append(differ, fmt.Sprintf("%s: built sha256 %s, the tag pins %s", a, sums[a], rel.pins[a]))
		}
	}
	if differ != nil {
		// Nothing that differs from its pin stays where a publishing step would find it.
		for _, p := range platforms {
			os.Remove(filepath.Join(dist, p.asset(o.version)))
		}
		return fmt.Errorf("refusing to publish: the binaries built from the tag are not the ones it pins\n  %s", strings.Join(differ, "\n  "))
	}
	var sumsFile strings.Builder
	for _, p := range platforms {
		fmt.Fprintf(&sumsFile, "%s  %s\n", sums[p.asset(o.version)], p.asset(o.version))
	}
	if err := os.WriteFile(filepath.Join(dist, "SHA256SUMS"), []byte(sumsFile.String()), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(log, "release: the %d binaries match the pins of %s\n", len(platforms), o.version)
	if !o.images {
		return nil
	}
	return checkImages(ctx, o, rel, dist, platforms, epoch, stdout, log)
}

// checkImages rebuilds the two images into OCI layouts and refuses unless their digests are
// the pinned ones; then pushes them again (o.push) or checks that the registry has them.
func checkImages(ctx context.Context, o *options, rel *release, dist string, platforms []platform, epoch int64, stdout, log io.Writer) error {
	bins := linuxBinaries(dist, o.version, platforms)
	for _, p := range rel.pinnedPlatforms() {
		if _, ok := bins[p]; p.os == "linux" && !ok {
			return fmt.Errorf("the images need the %s binary: check it too (--platforms)", p)
		}
	}
	b, err := newImageBuilder(ctx, o, rel.source, epoch, log)
	if err != nil {
		return err
	}
	defer b.close()
	imgs, err := releaseImages(o.root, o)
	if err != nil {
		return err
	}
	var nameOpts []name.Option
	if o.insecure {
		nameOpts = append(nameOpts, name.Insecure)
	}
	outputs := []string{"digest", "ci-digest"}
	for i, img := range imgs {
		pinned := rel.image
		if img.target == "ci" {
			pinned = rel.ciImage
		}
		ref, err := name.NewDigest(pinned, nameOpts...)
		if err != nil {
			return err
		}
		dir := filepath.Join(b.tmp, img.target)
		digest, err := b.build(ctx, img, bins, "--oci-layout", dir)
		if err != nil {
			return err
		}
		if digest != ref.DigestStr() {
			return fmt.Errorf("refusing to publish: the %s image built from the tag is %s, but the tag pins %s", img.target, digest, pinned)
		}
		if o.push {
			if err := pushLayout(ctx, dir, ref.Context().Tag(img.tag)); err != nil {
				return err
			}
			fmt.Fprintf(log, "release: pushed %s\n", pinned)
		} else if _, err := remote.Head(ref, remoteOptions(ctx)...); err != nil {
			return fmt.Errorf("the pinned %s image %s: %w", img.target, pinned, err)
		}
		fmt.Fprintf(stdout, "%s=%s\n", outputs[i], digest)
	}
	fmt.Fprintf(log, "release: the images match the pins of %s\n", o.version)
	return nil
}

// sourceCommit resolves rev to the commit a release is built from and its committer time, the
// images' SOURCE_DATE_EPOCH.
func sourceCommit(ctx context.Context, r repo, rev string) (string, int64, error) {
	out, err := r.git(ctx, "log", "-1", "--format=%H %ct", rev)
	if err != nil {
		return "", 0, err
	}
	sha, ct, _ := strings.Cut(out, " ")
	epoch, err := strconv.ParseInt(ct, 10, 64)
	if err != nil {
		return "", 0, fmt.Errorf("the commit time of %s: %w", rev, err)
	}
	return sha, epoch, nil
}
