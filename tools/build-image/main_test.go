package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// testVersion is linked into the test binaries, so that running one proves it is the one built.
const testVersion = "v9.8.7-test"

// binaries maps GOARCH to a seal binary built for linux by TestMain, as the release builds it;
// tiny maps GOARCH to testdata/hello, for tests where the binary's size only costs time (gzip runs
// about ten times slower under -race: 24 s for the two seal layers).
var binaries, tiny = map[string]string{}, map[string]string{}

func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "build-image-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := 1
	if err := buildBinaries(dir, "amd64", "arm64"); err != nil {
		fmt.Fprintln(os.Stderr, err)
	} else {
		code = m.Run()
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

// buildBinaries cross-compiles ./cmd/seal and testdata/hello for linux on each arch into dir.
// The Go build cache makes it take seconds after the first time (a cold arm64 build of seal takes
// about 90 s on 2 cores).
func buildBinaries(dir string, archs ...string) error {
	root := filepath.Join("..", "..")
	for _, arch := range archs {
		start := time.Now()
		binaries[arch] = filepath.Join(dir, "seal_linux_"+arch)
		if err := goBuild(root, arch, binaries[arch], "./cmd/seal"); err != nil {
			return err
		}
		tiny[arch] = filepath.Join(dir, "hello_linux_"+arch)
		if err := goBuild(".", arch, tiny[arch], "./testdata/hello"); err != nil {
			return err
		}
		if testing.Verbose() {
			fmt.Printf("built seal and hello for linux/%s in %v\n", arch, time.Since(start).Round(time.Millisecond))
		}
	}
	return nil
}

// goBuild builds pkg in dir as the release does: static, trimmed, stripped.
func goBuild(dir, arch, out, pkg string) error {
	cmd := exec.Command("go", "build", "-trimpath",
		"-ldflags=-s -w -X github.com/sealsign/seal/internal/version.version="+testVersion,
		"-o", out, pkg)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+arch, "GOFLAGS=-buildvcs=false")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("building %s for linux/%s: %v\n%s", pkg, arch, err, strings.TrimSpace(stderr.String()))
	}
	return nil
}
