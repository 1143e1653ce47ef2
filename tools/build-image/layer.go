package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// nonroot is distroless's unprivileged user, which the images run as.
const nonroot = 65532

// file is one entry of a layer: a directory when body is nil, else a regular file.
type file struct {
	name     string // absolute path in the image
	mode     int64  // permission bits, sticky bit included
	uid, gid int
	body     []byte
}

// rootfsLayer is the minimal root filesystem of a scratch image: what distroless static gives a
// Go binary that talks TLS and runs as nonroot.
func rootfsLayer(caCerts []byte, mtime time.Time) (v1.Layer, error) {
	passwd := strings.Join([]string{
		"root:x:0:0:root:/root:/sbin/nologin",
		"nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin",
		fmt.Sprintf("nonroot:x:%d:%d:nonroot:/home/nonroot:/sbin/nologin", nonroot, nonroot),
	}, "\n") + "\n"
	group := strings.Join([]string{"root:x:0:", "nobody:x:65534:", fmt.Sprintf("nonroot:x:%d:", nonroot)}, "\n") + "\n"
	return tarLayer([]file{
		{name: "/etc", mode: 0o755},
		{name: "/etc/group", mode: 0o644, body: []byte(group)},
		{name: "/etc/passwd", mode: 0o644, body: []byte(passwd)},
		{name: "/etc/ssl", mode: 0o755},
		{name: "/etc/ssl/certs", mode: 0o755},
		{name: certsPath, mode: 0o644, body: caCerts},
		{name: "/home", mode: 0o755},
		{name: "/home/nonroot", mode: 0o700, uid: nonroot, gid: nonroot},
		{name: "/tmp", mode: 0o1777},
	}, mtime)
}

// tarLayer writes files, in order, into a gzipped OCI layer. Every entry has the same mtime and
// no user or group names, so equal inputs give an equal digest.
func tarLayer(files []file, mtime time.Time) (v1.Layer, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		h := &tar.Header{
			Name:    strings.TrimPrefix(f.name, "/"),
			Mode:    f.mode,
			Uid:     f.uid,
			Gid:     f.gid,
			ModTime: mtime,
		}
		if f.body == nil {
			h.Typeflag, h.Name = tar.TypeDir, h.Name+"/"
		} else {
			h.Typeflag, h.Size = tar.TypeReg, int64(len(f.body))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, fmt.Errorf("writing %s to the layer: %w", f.name, err)
		}
		if _, err := tw.Write(f.body); err != nil {
			return nil, fmt.Errorf("writing %s to the layer: %w", f.name, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("closing the layer: %w", err)
	}
	b := buf.Bytes()
	layer, err := tarball.LayerFromOpener(
		func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil },
		tarball.WithMediaType(types.OCILayer),
		tarball.WithCompressionLevel(gzip.DefaultCompression),
		tarball.WithCompressedCaching,
	)
	if err != nil {
		return nil, fmt.Errorf("compressing the layer: %w", err)
	}
	return layer, nil
}
