package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// report is the --json output.
type report struct {
	// Reference is the index by digest: REPOSITORY@sha256:... or DIR@sha256:....
	Reference string `json:"reference"`
	// Digest is the index digest.
	Digest    string           `json:"digest"`
	Platforms []platformReport `json:"platforms"`
}

// platformReport describes one image of the index.
type platformReport struct {
	Platform string `json:"platform"`
	// Digest is the image manifest digest.
	Digest string `json:"digest"`
	// CompressedSize is what a pull transfers: the manifest, the config and the gzipped layers.
	CompressedSize int64 `json:"compressedSize"`
	// UncompressedSize is the sum of the layer tar sizes, about the space on disk once unpacked.
	UncompressedSize int64 `json:"uncompressedSize"`
}

// run is the whole command; it returns the exit code: 2 for bad flags, 1 for failed builds.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseOptions(args, stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errReported):
		return 2
	case err != nil:
		fmt.Fprintf(stderr, "build-image: %v\n", err)
		return 2
	}
	if err := buildAndWrite(ctx, o, stdout); err != nil {
		fmt.Fprintf(stderr, "build-image: %v\n", err)
		return 1
	}
	return 0
}

func buildAndWrite(ctx context.Context, o *options, stdout io.Writer) error {
	idx, err := build(ctx, o)
	if err != nil {
		return err
	}
	d, err := idx.Digest()
	if err != nil {
		return fmt.Errorf("computing the index digest: %w", err)
	}
	var ref string
	if o.push != nil {
		if err := remote.WriteIndex(o.push, idx, remoteOptions(ctx)...); err != nil {
			return fmt.Errorf("pushing %s: %w", o.push, err)
		}
		ref = o.push.Context().Digest(d.String()).String()
	} else {
		p, err := layout.Write(o.ociLayout, empty.Index)
		if err != nil {
			return fmt.Errorf("writing the OCI layout %s: %w", o.ociLayout, err)
		}
		if err := p.AppendIndex(idx); err != nil {
			return fmt.Errorf("writing the OCI layout %s: %w", o.ociLayout, err)
		}
		ref = o.ociLayout + "@" + d.String()
	}
	if !o.json {
		_, err := fmt.Fprintln(stdout, ref)
		return err
	}
	r := report{Reference: ref, Digest: d.String()}
	im, err := idx.IndexManifest()
	if err != nil {
		return fmt.Errorf("reading the index: %w", err)
	}
	for _, desc := range im.Manifests {
		pr, err := measure(idx, desc)
		if err != nil {
			return fmt.Errorf("measuring the %s image: %w", desc.Platform, err)
		}
		r.Platforms = append(r.Platforms, pr)
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// measure adds up the sizes of the image desc in idx. Base layers are read (from the registry)
// to count their uncompressed bytes.
func measure(idx v1.ImageIndex, desc v1.Descriptor) (platformReport, error) {
	pr := platformReport{Platform: desc.Platform.String(), Digest: desc.Digest.String()}
	img, err := idx.Image(desc.Digest)
	if err != nil {
		return pr, err
	}
	m, err := img.Manifest()
	if err != nil {
		return pr, err
	}
	pr.CompressedSize = desc.Size + m.Config.Size
	for _, l := range m.Layers {
		pr.CompressedSize += l.Size
	}
	layers, err := img.Layers()
	if err != nil {
		return pr, err
	}
	for _, l := range layers {
		rc, err := l.Uncompressed()
		if err != nil {
			return pr, err
		}
		n, err := io.Copy(io.Discard, rc)
		rc.Close()
		if err != nil {
			return pr, err
		}
		pr.UncompressedSize += n
	}
	return pr, nil
}
