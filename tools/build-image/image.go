package main

import (
	"context"
	"debug/elf"
	"fmt"
	"os"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

const (
	binaryPath = "/usr/local/bin/seal"
	certsPath  = "/etc/ssl/certs/ca-certificates.crt"
	user       = "65532:65532"
	source     = "https://github.com/sealsign/seal"
	defaultEnv = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
)

// target is what distinguishes the two images: the Dockerfile's targets of the same names.
type target struct {
	title, description, documentation string
	entrypoint, cmd                   []string
}

var targets = map[string]target{
	"seal": {
		title:         "seal",
		description:   "Sign, attest and verify container images from CI",
		documentation: source,
		entrypoint:    []string{binaryPath},
		cmd:           []string{"--help"},
	},
	// CI runners start the job's shell themselves; no entrypoint gets in their way.
	"ci": {
		title:         "seal-ci",
		description:   "Seal with a shell, for CI jobs: sign, attest and verify container images",
		documentation: source + "/tree/main/templates",
		cmd:           []string{"seal", "--help"},
	},
}

func remoteOptions(ctx context.Context) []remote.Option {
	return []remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(authn.DefaultKeychain)}
}

// build assembles the image index: one image per binary, in the order of o.binaries.
func build(ctx context.Context, o *options) (v1.ImageIndex, error) {
	bases, err := baseImages(ctx, o)
	if err != nil {
		return nil, err
	}
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for i, b := range o.binaries {
		img, err := platformImage(bases[i], b, o)
		if err != nil {
			return nil, fmt.Errorf("building the %s image: %w", b.platform, err)
		}
		// The config's platform: a base's variant (linux/arm64/v8) shows in the index too.
		cf, err := img.ConfigFile()
		if err != nil {
			return nil, fmt.Errorf("reading the %s config: %w", b.platform, err)
		}
		p := v1.Platform{OS: cf.OS, Architecture: cf.Architecture, Variant: cf.Variant}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &p}})
	}
	return idx, nil
}

// baseImages returns the base image of each binary: the matching platform of --base, or an empty
// image with the scratch root filesystem.
func baseImages(ctx context.Context, o *options) ([]v1.Image, error) {
	bases := make([]v1.Image, len(o.binaries))
	if o.base == nil {
		certs, err := os.ReadFile(o.caCerts)
		if err != nil {
			return nil, fmt.Errorf("reading the CA certificates: %w", err)
		}
		rootfs, err := rootfsLayer(certs, o.created)
		if err != nil {
			return nil, err
		}
		scratchImg := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
		img, err := mutate.Append(scratchImg, mutate.Addendum{
			Layer:     rootfs,
			MediaType: types.OCILayer,
			History:   v1.History{Created: v1.Time{Time: o.created}, CreatedBy: "build-image: root filesystem (CA certificates, nonroot user 65532, /tmp)"},
		})
		if err != nil {
			return nil, fmt.Errorf("adding the root filesystem: %w", err)
		}
		for i := range bases {
			bases[i] = img
		}
		return bases, nil
	}
	desc, err := remote.Get(o.base, remoteOptions(ctx)...)
	if err != nil {
		return nil, fmt.Errorf("fetching the base image %s: %w", o.base, err)
	}
	if !desc.MediaType.IsIndex() {
		// One image serves every binary only if they all share its platform; basePlatform checks.
		img, err := desc.Image()
		if err != nil {
			return nil, fmt.Errorf("reading the base image %s: %w", o.base, err)
		}
		for i := range bases {
			bases[i] = img
		}
		return bases, nil
	}
	idx, err := desc.ImageIndex()
	if err != nil {
		return nil, fmt.Errorf("reading the base index %s: %w", o.base, err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("reading the base index %s: %w", o.base, err)
	}
	for i, b := range o.binaries {
		j := slices.IndexFunc(im.Manifests, func(d v1.Descriptor) bool {
			return d.MediaType.IsImage() && d.Platform != nil && platformMatches(b.platform, *d.Platform)
		})
		if j < 0 {
			return nil, fmt.Errorf("the base index %s has no %s image", o.base, b.platform)
		}
		if bases[i], err = idx.Image(im.Manifests[j].Digest); err != nil {
			return nil, fmt.Errorf("reading the %s base image: %w", b.platform, err)
		}
	}
	return bases, nil
}

// platformMatches reports whether have serves want; a want without variant takes any variant
// (linux/arm64 takes linux/arm64/v8).
func platformMatches(want, have v1.Platform) bool {
	return want.OS == have.OS && want.Architecture == have.Architecture &&
		(want.Variant == "" || want.Variant == have.Variant)
}

// platformImage puts the binary on base and writes the config.
func platformImage(base v1.Image, b binary, o *options) (v1.Image, error) {
	exe, err := readBinary(b)
	if err != nil {
		return nil, err
	}
	layer, err := binaryLayer(exe, o.created)
	if err != nil {
		return nil, err
	}
	img, err := mutate.Append(base, mutate.Addendum{
		Layer:     layer,
		MediaType: types.OCILayer,
		History:   v1.History{Created: v1.Time{Time: o.created}, CreatedBy: "build-image: COPY seal " + binaryPath},
	})
	if err != nil {
		return nil, fmt.Errorf("adding the binary: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("reading the config: %w", err)
	}
	cf = cf.DeepCopy()
	if o.base == nil {
		cf.OS, cf.Architecture, cf.Variant = b.platform.OS, b.platform.Architecture, b.platform.Variant
	} else if have := (v1.Platform{OS: cf.OS, Architecture: cf.Architecture, Variant: cf.Variant}); !platformMatches(b.platform, have) {
		return nil, fmt.Errorf("the base image is %s, not %s", have, b.platform)
	}
	t := targets[o.target]
	cf.Created = v1.Time{Time: o.created}
	cf.Config.User = user
	cf.Config.Entrypoint = t.entrypoint
	cf.Config.Cmd = t.cmd
	cf.Config.Env = withEnv(cf.Config.Env, defaultEnv, "SSL_CERT_FILE="+certsPath)
	if cf.Config.Labels == nil {
		cf.Config.Labels = map[string]string{}
	}
	labels := map[string]string{
		"title":         t.title,
		"description":   t.description,
		"source":        source,
		"documentation": t.documentation,
		"version":       o.version,
		"revision":      o.revision,
		"created":       o.created.Format(time.RFC3339),
	}
	for k, v := range labels {
		if v != "" {
			cf.Config.Labels["org.opencontainers.image."+k] = v
		}
	}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, fmt.Errorf("writing the config: %w", err)
	}
	// The manifest and config are OCI whatever the base used (its layers keep their media types).
	return mutate.ConfigMediaType(mutate.MediaType(img, types.OCIManifestSchema1), types.OCIConfigJSON), nil
}

// withEnv adds each KEY=VALUE of add whose KEY env does not set yet: a base's PATH (distroless
// debug's has /busybox) wins over the default.
func withEnv(env []string, add ...string) []string {
	env = slices.Clone(env)
	for _, kv := range add {
		key, _, _ := strings.Cut(kv, "=")
		if !slices.ContainsFunc(env, func(e string) bool { return strings.HasPrefix(e, key+"=") }) {
			env = append(env, kv)
		}
	}
	return env
}

// elfMachines maps GOARCH to the ELF machine of its binaries, to catch a binary given for the
// wrong platform before it is shipped as that platform.
var elfMachines = map[string]elf.Machine{
	"amd64":   elf.EM_X86_64,
	"arm64":   elf.EM_AARCH64,
	"arm":     elf.EM_ARM,
	"386":     elf.EM_386,
	"ppc64le": elf.EM_PPC64,
	"s390x":   elf.EM_S390,
	"riscv64": elf.EM_RISCV,
}

// readBinary reads b's file and checks that it is a static executable for b's platform: the
// images have no dynamic loader or libc.
func readBinary(b binary) ([]byte, error) {
	f, err := elf.Open(b.path)
	if err != nil {
		return nil, fmt.Errorf("reading the %s binary: %w", b.platform, err)
	}
	defer f.Close()
	if want, ok := elfMachines[b.platform.Architecture]; ok && f.Machine != want {
		return nil, fmt.Errorf("%s is built for %s, not %s", b.path, f.Machine, b.platform)
	}
	if slices.ContainsFunc(f.Progs, func(p *elf.Prog) bool { return p.Type == elf.PT_INTERP }) {
		return nil, fmt.Errorf("%s is dynamically linked; build it with CGO_ENABLED=0", b.path)
	}
	exe, err := os.ReadFile(b.path)
	if err != nil {
		return nil, fmt.Errorf("reading the %s binary: %w", b.platform, err)
	}
	return exe, nil
}

// binaryLayer holds the executable at binaryPath, with its parent directories.
func binaryLayer(exe []byte, mtime time.Time) (v1.Layer, error) {
	var files []file
	for dir := path.Dir(binaryPath); dir != "/"; dir = path.Dir(dir) {
		files = append([]file{{name: dir, mode: 0o755}}, files...)
	}
	files = append(files, file{name: binaryPath, mode: 0o755, body: exe})
	return tarLayer(files, mtime)
}
