package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

// platform is one GOOS/GOARCH pair a release ships a binary for.
type platform struct{ os, arch string }

func (p platform) String() string { return p.os + "/" + p.arch }

// asset is the name of the platform's binary among the release's assets, and in the pins.
func (p platform) asset(version string) string {
	a := "seal_" + version + "_" + p.os + "_" + p.arch
	if p.os == "windows" {
		a += ".exe"
	}
	return a
}

// releasePlatforms are the binaries a release ships; the images take the linux ones.
var releasePlatforms = []platform{
	{"darwin", "amd64"}, {"darwin", "arm64"},
	{"linux", "amd64"}, {"linux", "arm64"},
	{"windows", "amd64"}, {"windows", "arm64"},
}

// versionPattern is a semantic version without a leading v: what the GitLab CI/CD Catalog
// publishes, and what goes into asset names (no underscore) and image tags.
var versionPattern = regexp.MustCompile(`^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$`)

// options are the parsed and checked flags of either command.
type options struct {
	// command is prepare or check.
	command string
	// root is the repository's top directory.
	root string
	// version is the release's version and tag.
	version string
	// repository is where prepare pushes the images; check reads it from the pins.
	repository name.Repository
	// platforms are the binaries to build: by default every release platform (prepare) or
	// every pinned one (check).
	platforms []platform
	// base and ciBase are the images' bases; empty means the Dockerfile's BASE_IMAGE and
	// CI_BASE_IMAGE.
	base, ciBase string
	// dist is where the binaries are written.
	dist string
	// insecure allows plain HTTP to the registries (loopback test registries).
	insecure bool
	// images makes check rebuild and compare the images too; push makes it push them.
	images, push bool
}

// errReported marks flag errors that the flag package has already printed, with the usage.
var errReported = errors.New("invalid flags")

const usage = `Usage:
  release prepare --version VERSION --repository REGISTRY/NAME [flags]
      build, push the images, pin, commit and tag VERSION (push the tag yourself)
  release check --version VERSION [--images [--push]] [flags]
      at the tag: rebuild and refuse unless everything equals the pins

`

func parseOptions(args []string, stderr io.Writer) (*options, error) {
	if len(args) == 0 || (args[0] != "prepare" && args[0] != "check") {
		fmt.Fprint(stderr, usage)
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			return nil, flag.ErrHelp
		}
		return nil, errReported
	}
	o := &options{command: args[0]}
	fs := flag.NewFlagSet("release "+o.command, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		fs.PrintDefaults()
	}
	var repository, platforms string
	fs.StringVar(&o.root, "C", ".", "the repository's top `DIR`")
	fs.StringVar(&o.version, "version", "", "the release `VERSION` and tag: MAJOR.MINOR.PATCH[-PRERELEASE], no v")
	fs.StringVar(&platforms, "platforms", "", "comma-separated `OS/ARCH` to build (default: every release platform, or every pinned one)")
	fs.StringVar(&o.base, "base", "", "base `REF@DIGEST` of the seal image (default: the Dockerfile's BASE_IMAGE)")
	fs.StringVar(&o.ciBase, "ci-base", "", "base `REF@DIGEST` of the CI image (default: the Dockerfile's CI_BASE_IMAGE)")
	fs.StringVar(&o.dist, "dist", "dist", "`DIR` the binaries are written to")
	fs.BoolVar(&o.insecure, "insecure", false, "allow plain HTTP to the registries (for loopback test registries)")
	if o.command == "prepare" {
		fs.StringVar(&repository, "repository", "", "push the images to `REGISTRY/NAME`:VERSION and :VERSION-ci")
	} else {
		fs.BoolVar(&o.images, "images", false, "also rebuild the images from the linux binaries and compare them with the pinned digests")
		fs.BoolVar(&o.push, "push", false, "with --images: push the checked images (else they must be in the registry already)")
	}
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, errReported
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if !versionPattern.MatchString(o.version) {
		return nil, fmt.Errorf("--version %q: want a semantic version without a v, like 1.2.3 (the GitLab CI/CD Catalog's and GitHub's one tag)", o.version)
	}
	if o.command == "prepare" {
		var opts []name.Option
		if o.insecure {
			opts = append(opts, name.Insecure)
		}
		repo, err := name.NewRepository(repository, opts...)
		if err != nil {
			return nil, fmt.Errorf("--repository %q: %w", repository, err)
		}
		o.repository = repo
	}
	if o.push && !o.images {
		return nil, errors.New("--push needs --images")
	}
	if platforms != "" {
		for _, s := range strings.Split(platforms, ",") {
			goos, arch, _ := strings.Cut(strings.TrimSpace(s), "/")
			p := platform{goos, arch}
			if !slices.Contains(releasePlatforms, p) {
				return nil, fmt.Errorf("--platforms: %q is not a release platform (%s)", s, platformList(releasePlatforms))
			}
			if !slices.Contains(o.platforms, p) {
				o.platforms = append(o.platforms, p)
			}
		}
	} else if o.command == "prepare" {
		o.platforms = releasePlatforms
	}
	return o, nil
}

func platformList(ps []platform) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return strings.Join(s, ", ")
}
