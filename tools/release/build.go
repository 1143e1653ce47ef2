package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// versionVar is the variable the version is linked into.
const versionVar = "github.com/sealsign/seal/internal/version.version"

// repo runs git in a checkout.
type repo struct{ dir string }

// git runs git with args and returns its trimmed stdout; an error carries its stderr.
func (r repo) git(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", append([]string{"-C", r.dir}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(stdout.String()), nil
}

// checkClean fails unless the checkout has no change and no untracked file: a release is built
// from its commit and nothing else.
func (r repo) checkClean(ctx context.Context) error {
	st, err := r.git(ctx, "status", "--porcelain")
	if err != nil {
		return err
	}
	if st != "" {
		return fmt.Errorf("the checkout %s has changes or untracked files; a release is built from a commit alone:\n%s", r.dir, st)
	}
	return nil
}

// buildEnv is the environment of every release build: the caller's, without what would change
// the bytes (target, instruction set levels, experiments, flags), plus the release's settings.
func buildEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "GOOS", "GOARCH", "GOAMD64", "GOARM64", "GOARM", "GO386", "GOEXPERIMENT", "GOFLAGS", "CGO_ENABLED", "GOROOT_FINAL":
			continue
		}
		env = append(env, kv)
	}
	return append(env, append([]string{"CGO_ENABLED=0", "GOFLAGS=-buildvcs=false"}, extra...)...)
}

// goVersion is what `go env GOVERSION` says in root, after go.mod's toolchain selection.
func goVersion(ctx context.Context, root string) (string, error) {
	cmd := exec.CommandContext(ctx, "go", "env", "GOVERSION")
	cmd.Dir = root
	cmd.Env = buildEnv()
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go env GOVERSION: %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}

// modGoVersion is the Go go.mod asks for (its toolchain line, else its go line), as
// actions/setup-go's go-version-file reads it: the Go the release workflow builds with.
func modGoVersion(root string) (string, error) {
	b, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		return "", err
	}
	var goLine, toolchain string
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) == 2 && f[0] == "go" {
			goLine = "go" + f[1]
		}
		if len(f) == 2 && f[0] == "toolchain" {
			toolchain = f[1]
		}
	}
	if toolchain != "" {
		return toolchain, nil
	}
	if goLine == "" {
		return "", fmt.Errorf("go.mod has no go line")
	}
	return goLine, nil
}

// buildBinaries builds seal for each platform into dist, as the release ships it, and returns
// the sha256 of each by asset name.
func buildBinaries(ctx context.Context, root, dist, version string, platforms []platform, log io.Writer) (map[string]string, error) {
	if err := os.MkdirAll(dist, 0o755); err != nil {
		return nil, err
	}
	sums := map[string]string{}
	for _, p := range platforms {
		start := time.Now()
		out := filepath.Join(dist, p.asset(version))
		cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags", "-s -w -X "+versionVar+"="+version, "-o", out, "./cmd/seal")
		cmd.Dir = root
		cmd.Env = buildEnv("GOOS="+p.os, "GOARCH="+p.arch)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil {
			return nil, fmt.Errorf("building seal for %s: %w\n%s", p, err, strings.TrimSpace(stderr.String()))
		}
		sum, err := fileSHA256(out)
		if err != nil {
			return nil, err
		}
		sums[p.asset(version)] = sum
		fmt.Fprintf(log, "release: built %s (sha256 %s) in %v\n", p.asset(version), sum, time.Since(start).Round(time.Millisecond))
	}
	return sums, nil
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("hashing %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
