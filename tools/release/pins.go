package main

import (
	"bufio"
	"bytes"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

// pinsFile is where the action finds the release it installs (actions/setup.sh reads the
// lines that are not comments: sha256 and asset name).
const pinsFile = "actions/release.sha256"

// pinsHeader opens pinsFile at every commit, release or not.
const pinsHeader = `# The Seal release this action installs: sha256 and asset name of each binary, one per line
# (sha256sum format). tools/release writes the pins into a release's own tagged commit; at any
# other commit there are none, and the action builds seal from its own source. Never edit by hand.
`

// release is what a release commit pins: pinsFile's content.
type release struct {
	version string
	// source is the commit the binaries and images are built from: the release commit's parent.
	source string
	// goVersion is the Go that built the binaries (go env GOVERSION); another one builds other
	// bytes.
	goVersion string
	// image and ciImage are REPOSITORY:VERSION@sha256:... and REPOSITORY:VERSION-ci@sha256:....
	image, ciImage string
	// pins maps each asset name to its sha256, in hex.
	pins map[string]string
}

var (
	releaseLine = regexp.MustCompile(`^# release (\S+) from ([0-9a-f]{40}) with (go\S+)$`)
	imageLine   = regexp.MustCompile(`^# image (\S+)$`)
	pinLine     = regexp.MustCompile(`^([0-9a-f]{64})  (\S+)$`)
)

// marshal writes pinsFile: the header, what the release was built from, its images, and the
// pins sorted by asset name.
func (r *release) marshal() []byte {
	var b bytes.Buffer
	b.WriteString(pinsHeader)
	fmt.Fprintf(&b, "# release %s from %s with %s\n", r.version, r.source, r.goVersion)
	fmt.Fprintf(&b, "# image %s\n# image %s\n", r.image, r.ciImage)
	assets := make([]string, 0, len(r.pins))
	for a := range r.pins {
		assets = append(assets, a)
	}
	slices.Sort(assets)
	for _, a := range assets {
		fmt.Fprintf(&b, "%s  %s\n", r.pins[a], a)
	}
	return b.Bytes()
}

// parseRelease reads pinsFile as a release commit holds it, and checks that every pin and image
// belongs to that release.
func parseRelease(data []byte) (*release, error) {
	r := &release{pins: map[string]string{}}
	var images []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if m := releaseLine.FindStringSubmatch(line); m != nil {
			if r.version != "" {
				return nil, fmt.Errorf("line %d: a second release line", n)
			}
			r.version, r.source, r.goVersion = m[1], m[2], m[3]
			continue
		}
		if m := imageLine.FindStringSubmatch(line); m != nil {
			images = append(images, m[1])
			continue
		}
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		m := pinLine.FindStringSubmatch(line)
		if m == nil {
			return nil, fmt.Errorf("line %d: %q is neither a comment nor SHA256  ASSET", n, line)
		}
		if _, dup := r.pins[m[2]]; dup {
			return nil, fmt.Errorf("line %d: %s is pinned twice", n, m[2])
		}
		r.pins[m[2]] = m[1]
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if r.version == "" {
		return nil, fmt.Errorf("no %q line: this commit pins no release", "# release VERSION from COMMIT with GOVERSION")
	}
	if len(r.pins) == 0 {
		return nil, fmt.Errorf("release %s pins no binary", r.version)
	}
	for a := range r.pins {
		if !slices.ContainsFunc(releasePlatforms, func(p platform) bool { return p.asset(r.version) == a }) {
			return nil, fmt.Errorf("%s is not an asset of release %s", a, r.version)
		}
	}
	for _, img := range images {
		tag, err := imageTag(img)
		if err != nil {
			return nil, err
		}
		switch tag {
		case r.version:
			r.image = img
		case r.version + "-ci":
			r.ciImage = img
		default:
			return nil, fmt.Errorf("image %s: want the tag %s or %s-ci", img, r.version, r.version)
		}
	}
	if r.image == "" || r.ciImage == "" {
		return nil, fmt.Errorf("release %s pins %d images, want the seal image (:%s) and the CI image (:%s-ci)", r.version, len(images), r.version, r.version)
	}
	return r, nil
}

// pinnedPlatforms are the platforms r pins a binary for, in release order.
func (r *release) pinnedPlatforms() []platform {
	var ps []platform
	for _, p := range releasePlatforms {
		if _, ok := r.pins[p.asset(r.version)]; ok {
			ps = append(ps, p)
		}
	}
	return ps
}

// imageRef is REPOSITORY:TAG@DIGEST, the form the Dockerfile pins its bases in: the tag says
// which release, the digest what runs.
func imageRef(repo name.Repository, tag, digest string) string {
	return repo.Name() + ":" + tag + "@" + digest
}

// imageTag checks that img is REPOSITORY:TAG@DIGEST and returns its tag.
func imageTag(img string) (string, error) {
	if _, err := name.NewDigest(img); err != nil {
		return "", fmt.Errorf("image %q: %w", img, err)
	}
	base, _, _ := strings.Cut(img, "@")
	t, err := name.NewTag(base, name.StrictValidation)
	if err != nil {
		return "", fmt.Errorf("image %q: want REPOSITORY:TAG@DIGEST: %w", img, err)
	}
	return t.TagStr(), nil
}
