// Command build-image assembles Seal's container images, ko-style, from cross-compiled static
// binaries: no Docker engine, no emulation, no RUN steps. Each --binary becomes one platform of an
// OCI image index. The binary sits alone in the top layer at /usr/local/bin/seal, on top of a base
// image pinned by digest (the distroless images the Dockerfile names) or, with --base scratch, on
// a minimal root filesystem this command writes itself: CA certificates, a nonroot user 65532 and
// /tmp. The result is reproducible: times come from SOURCE_DATE_EPOCH (default 0), so the same
// inputs give the same index digest.
//
//	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 go build -trimpath -ldflags=-s\ -w -o dist/seal_linux_arm64 ./cmd/seal
//	go run ./tools/build-image --binary linux/amd64=dist/seal_linux_amd64 \
//	  --binary linux/arm64=dist/seal_linux_arm64 --push ghcr.io/sealsign/seal:v1.2.3
//
// It prints REF@sha256:... of the index, or with --json the digest and sizes of every platform.
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
