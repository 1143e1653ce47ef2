// Command release makes a Seal release one commit that carries its own pins, tagged with the
// version, and checks that what is published is what that commit pins.
//
//	go run ./tools/release prepare --version 1.2.3 --repository ghcr.io/sealsign/seal
//	git push origin refs/tags/1.2.3
//	go run ./tools/release check --version 1.2.3 [--images [--push]]   # at the tag
//
// prepare, on a clean checkout of the commit to release, builds seal for every platform
// reproducibly (CGO_ENABLED=0, -trimpath, no VCS stamp, the version linked in, with go.mod's Go),
// builds the seal and CI images from the linux binaries with tools/build-image (times from the
// commit's SOURCE_DATE_EPOCH) and pushes them as REPOSITORY:VERSION and REPOSITORY:VERSION-ci,
// writes the binaries' sha256 and the images' digests into actions/release.sha256 and the CI
// image into the GitLab components' seal-image default, commits that on top of the source commit
// and tags the commit VERSION. It pushes no git ref: the caller pushes the tag. So the action and
// the components at the tag install exactly the bytes built here.
//
// check, at the tagged commit, rebuilds the binaries (and with --images the images) from the
// source commit and fails unless every sha256 and digest equals what the commit pins: what is
// published is what was pinned. It leaves the checked binaries and their SHA256SUMS in --dist;
// --push pushes the checked images again (the same digests), else they must be in the registry.
//
// VERSION is semantic, without a v (1.2.3, 1.2.3-rc.1): the GitLab CI/CD Catalog requires it,
// and GitHub's tags follow, so one tag names both.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
