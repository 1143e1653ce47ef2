package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// scratch is the --base value for the root filesystem this command writes itself.
const scratch = "scratch"

// binary is one --binary flag: the seal executable for one platform.
type binary struct {
	platform v1.Platform
	path     string
}

// options are the parsed and checked flags.
type options struct {
	// binaries are the executables, one per platform, sorted by platform so the index does not
	// depend on the order of the flags.
	binaries []binary
	// base is a base image pinned by digest, or nil for scratch.
	base *name.Digest
	// caCerts is the CA bundle copied into a scratch image.
	caCerts string
	// target is "seal" (entrypoint seal) or "ci" (no entrypoint, for jobs that need a shell).
	target string
	// version and revision go into the OCI labels; revision is left out when empty.
	version, revision string
	// created is SOURCE_DATE_EPOCH: the time of the config, its history and every file written.
	created time.Time
	// push is where the index is pushed, or nil when it goes to ociLayout.
	push name.Reference
	// ociLayout is a directory the index is written to as an OCI image layout.
	ociLayout string
	// insecure lets registries be spoken to over plain HTTP.
	insecure bool
	// json prints digests and sizes as one JSON object instead of REF@DIGEST.
	json bool
}

// errReported marks flag errors that the flag package has already printed, with the usage.
var errReported = errors.New("invalid flags")

// parseOptions reads args and the SOURCE_DATE_EPOCH environment variable.
func parseOptions(args []string, stderr io.Writer) (*options, error) {
	fs := flag.NewFlagSet("build-image", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, "Usage: build-image --binary linux/ARCH=PATH... [--base REF@DIGEST] (--push REF | --oci-layout DIR)\n\n"+
			"Assembles Seal's image index from static binaries; prints REF@sha256:... of the index.\n"+
			"Times come from SOURCE_DATE_EPOCH (default 0), so equal inputs give equal digests.\n\n")
		fs.PrintDefaults()
	}
	o := &options{}
	var base, push string
	fs.Func("binary", "`PLATFORM=PATH` of a static seal binary, like linux/amd64=dist/seal_linux_amd64 (repeatable)", func(s string) error {
		p, path, ok := strings.Cut(s, "=")
		if !ok || path == "" {
			return fmt.Errorf("want PLATFORM=PATH, got %q", s)
		}
		plat, err := v1.ParsePlatform(p)
		if err != nil {
			return err
		}
		if plat.OS != "linux" || plat.Architecture == "" {
			return fmt.Errorf("platform %q: want linux/ARCH[/VARIANT]", p)
		}
		o.binaries = append(o.binaries, binary{platform: *plat, path: path})
		return nil
	})
	fs.StringVar(&base, "base", scratch, "base image `REF` pinned by digest (an index with every platform), or scratch for a minimal root filesystem")
	fs.StringVar(&o.caCerts, "ca-certificates", "/etc/ssl/certs/ca-certificates.crt", "CA bundle `FILE` for a scratch base")
	fs.StringVar(&o.target, "target", "seal", "seal (entrypoint /usr/local/bin/seal) or ci (no entrypoint; needs a --base with a shell)")
	fs.StringVar(&o.version, "version", "devel", "org.opencontainers.image.version label")
	fs.StringVar(&o.revision, "revision", "", "org.opencontainers.image.revision label (the commit)")
	fs.StringVar(&push, "push", "", "push the index to `REF` (credentials from the Docker config)")
	fs.StringVar(&o.ociLayout, "oci-layout", "", "write the index to an OCI image layout in `DIR`")
	fs.BoolVar(&o.insecure, "insecure", false, "allow plain HTTP to the registries (for loopback test registries)")
	fs.BoolVar(&o.json, "json", false, "print the index digest and each platform's digest and sizes as JSON")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, errReported
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if err := o.check(base, push); err != nil {
		return nil, err
	}
	created, err := sourceDateEpoch(os.Getenv("SOURCE_DATE_EPOCH"))
	if err != nil {
		return nil, err
	}
	o.created = created
	return o, nil
}

func (o *options) check(base, push string) error {
	if len(o.binaries) == 0 {
		return errors.New("at least one --binary is required")
	}
	slices.SortFunc(o.binaries, func(a, b binary) int { return strings.Compare(a.platform.String(), b.platform.String()) })
	for i := 1; i < len(o.binaries); i++ {
		if o.binaries[i].platform.String() == o.binaries[i-1].platform.String() {
			return fmt.Errorf("two binaries for %s", o.binaries[i].platform)
		}
	}
	var nameOpts []name.Option
	if o.insecure {
		nameOpts = append(nameOpts, name.Insecure)
	}
	if base != scratch {
		d, err := name.NewDigest(base, nameOpts...)
		if err != nil {
			return fmt.Errorf("--base %q must be scratch or pinned by digest (NAME@sha256:...), so that builds are reproducible: %w", base, err)
		}
		o.base = &d
	}
	switch o.target {
	case "seal":
	case "ci":
		if o.base == nil {
			return errors.New("--target ci needs a --base with a shell (the distroless debug-nonroot image); scratch has none")
		}
	default:
		return fmt.Errorf("--target %q: want seal or ci", o.target)
	}
	if (push == "") == (o.ociLayout == "") {
		return errors.New("exactly one of --push and --oci-layout is required")
	}
	if push != "" {
		ref, err := name.ParseReference(push, nameOpts...)
		if err != nil {
			return fmt.Errorf("--push: %w", err)
		}
		o.push = ref
	}
	return nil
}

// sourceDateEpoch parses SOURCE_DATE_EPOCH (https://reproducible-builds.org/specs/source-date-epoch/);
// unset means the Unix epoch.
func sourceDateEpoch(s string) (time.Time, error) {
	if s == "" {
		return time.Unix(0, 0).UTC(), nil
	}
	sec, err := strconv.ParseInt(s, 10, 64)
	if err != nil || sec < 0 {
		return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH=%q: want a non-negative number of seconds", s)
	}
	return time.Unix(sec, 0).UTC(), nil
}
