package e2e

import (
	"bytes"
	"net/http"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sealsign/seal/internal/testbed"
)

// TestInterrupt stops seal sign --recursive and seal attest with SIGINT and
// SIGTERM while a slow registry takes their uploads: each must stop within
// two seconds, exit 1 saying it was interrupted, and leave the registry so
// that a re-run completes and the result verifies, with seal and with
// cosign v2.
func TestInterrupt(t *testing.T) {
	cosign := testbed.Bin(t, "cosign")
	keys := newKeyPair(t)
	reg := testbed.StartRegistry(t, testbed.Distribution)
	proxy := startHostile(t, reg.Host)
	dir := t.TempDir()
	sbom := writeFile(t, dir, "sbom.spdx.json", spdxSBOM)

	for _, tc := range []struct {
		name   string
		repo   string
		sig    syscall.Signal
		args   func(img string) []string
		verify func(img string) []string
	}{{
		name: "sign --recursive, SIGINT",
		repo: "interrupt/sign",
		sig:  syscall.SIGINT,
		args: func(img string) []string {
			// cosign v2 checks the legacy tags with a key alone.
			return append([]string{"sign", "--recursive", "--format", "legacy"}, sealKeyed(keys, proxy.Host, img)...)
		},
		verify: func(img string) []string {
			return []string{"verify", "--recursive", "--key", keys.pub, "--insecure-registry", proxy.Host, img}
		},
	}, {
		name: "attest, SIGTERM",
		repo: "interrupt/attest",
		sig:  syscall.SIGTERM,
		args: func(img string) []string {
			return append([]string{"attest", "--sign", "--recursive", "--provenance", "--predicate", sbom}, sealKeyed(keys, proxy.Host, img)...)
		},
		verify: func(img string) []string {
			return []string{"verify", "--recursive", "--key", keys.pub, "--attestation", "slsaprovenance1", "--attestation", "spdx", "--insecure-registry", proxy.Host, img}
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			idx, children := pushIndex(t, reg.Host, tc.repo, 8)
			idx = strings.Replace(idx, reg.Host, proxy.Host, 1)
			// Every upload and manifest write waits 400ms before the registry
			// sees it: the first platforms are done when the signal comes,
			// the others under way.
			proxy.set(func(w http.ResponseWriter, r *http.Request) bool {
				if pathKind(r.URL.Path) == "upload" || (r.Method == http.MethodPut && pathKind(r.URL.Path) != "blob") {
					select {
					case <-r.Context().Done():
						return true
					case <-time.After(400 * time.Millisecond):
					}
				}
				return false
			})
			cmd := exec.Command(sealBin, tc.args(idx)...)
			cmd.Env = append(cleanEnv(), keys.env()...)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			time.Sleep(3 * time.Second)
			sent := time.Now()
			if err := cmd.Process.Signal(tc.sig); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				cmd.Process.Kill()
				<-done
				t.Fatalf("still running 10s after %v\nstderr:\n%s", tc.sig, stderr.String())
			}
			stopped := time.Since(sent)
			t.Logf("stopped %v after %v; stderr:\n%s", stopped.Round(time.Millisecond), tc.sig, stderr.String())
			if stopped > 2*time.Second {
				t.Errorf("stopped %v after the signal, want within 2s", stopped)
			}
			if code := cmd.ProcessState.ExitCode(); code != 1 {
				t.Errorf("exit %d after %v, want 1", code, tc.sig)
			}
			if !strings.Contains(stderr.String(), "seal: error: interrupted: ") {
				t.Errorf("stderr does not say it was interrupted:\n%s", stderr.String())
			}
			if !strings.Contains(stderr.String(), "\nwrote ") && !strings.HasPrefix(stderr.String(), "wrote ") {
				t.Errorf("stderr does not list what was written before the signal:\n%s", stderr.String())
			}
			// Not finished: the image does not verify yet.
			proxy.set(nil)
			if out, err := run(t, nil, sealBin, tc.verify(idx)...); err == nil {
				t.Fatalf("the interrupted run verifies already: the test interrupted nothing\n%s", out)
			}
			// A re-run completes it.
			mustRun(t, keys.env(), sealBin, tc.args(idx)...)
			mustRun(t, nil, sealBin, tc.verify(idx)...)
			if tc.repo == "interrupt/sign" {
				for _, c := range append(children, strings.Replace(idx, proxy.Host, reg.Host, 1)) {
					mustRun(t, nil, cosign, "verify", "--key", keys.pub, "--allow-http-registry", "--insecure-ignore-tlog", c)
				}
			}
		})
	}
}
