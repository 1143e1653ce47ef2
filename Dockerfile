# syntax=docker/dockerfile:1
#
# The release images are not built from this file: .github/workflows/release.yml assembles them
# with tools/build-image (go-containerregistry, no Docker) from the same cross-compiled binary on
# the bases pinned below (it reads the BASE_IMAGE and CI_BASE_IMAGE lines), and that tool's tests
# check what it builds. This file is for people who build with docker; keep the two in step.
#
# Seal's images, built for each platform from one builder stage (cross-compiled, no emulation):
#   target seal (the default): the static binary on distroless static, non-root. For
#     `docker run ghcr.io/sealsign/seal verify ...`, Kubernetes jobs and Tekton tasks.
#   target ci: the same binary with busybox's shell, non-root, for CI jobs that run scripts in
#     the image (GitLab's docker executor needs a shell); Seal's GitLab components use it.
#
#   docker buildx build --platform linux/amd64,linux/arm64 --build-arg VERSION=v1.2.3 --target seal .
#
# Base images are pinned by digest; Renovate or Dependabot (docker ecosystem) keeps the digests
# current. The binary is static (CGO_ENABLED=0) and reproducible (-trimpath, no VCS stamping,
# the version from VERSION), so two builds of a tag give the same binary.

ARG GO_IMAGE=golang:1.26.8-bookworm@sha256:dc9ad6c05acc7a88e5b71bde60a5fe3bd4b9f0db209011711b464107438a8107
ARG BASE_IMAGE=gcr.io/distroless/static-debian12:nonroot@sha256:d093aa3e30dbadd3efe1310db061a14da60299baff8450a17fe0ccc514a16639
ARG CI_BASE_IMAGE=gcr.io/distroless/static-debian12:debug-nonroot@sha256:e1b3e6d4f72cf1c29a21fe79767c7c9e206ed8e05467b4677b80bad1219a00c3

FROM --platform=$BUILDPLATFORM ${GO_IMAGE} AS build
WORKDIR /src
ENV CGO_ENABLED=0 GOFLAGS=-buildvcs=false GOTOOLCHAIN=local
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY cmd ./cmd
COPY internal ./internal
ARG TARGETOS TARGETARCH
ARG VERSION=devel
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    GOOS=$TARGETOS GOARCH=$TARGETARCH go build -trimpath \
      -ldflags "-s -w -X github.com/sealsign/seal/internal/version.version=${VERSION}" \
      -o /out/seal ./cmd/seal

FROM ${CI_BASE_IMAGE} AS ci
ARG VERSION=devel
LABEL org.opencontainers.image.title="seal-ci" \
      org.opencontainers.image.description="Seal with a shell, for CI jobs: sign, attest and verify container images" \
      org.opencontainers.image.source="https://github.com/sealsign/seal" \
      org.opencontainers.image.documentation="https://github.com/sealsign/seal/tree/main/templates" \
      org.opencontainers.image.version="${VERSION}"
COPY --from=build /out/seal /usr/local/bin/seal
USER 65532:65532
# CI runners start the job's shell themselves; no entrypoint gets in their way.
ENTRYPOINT []
CMD ["seal", "--help"]

FROM ${BASE_IMAGE} AS seal
ARG VERSION=devel
LABEL org.opencontainers.image.title="seal" \
      org.opencontainers.image.description="Sign, attest and verify container images from CI" \
      org.opencontainers.image.source="https://github.com/sealsign/seal" \
      org.opencontainers.image.documentation="https://github.com/sealsign/seal" \
      org.opencontainers.image.version="${VERSION}"
COPY --from=build /out/seal /usr/local/bin/seal
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/seal"]
CMD ["--help"]
