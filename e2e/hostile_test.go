package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sealsign/seal/internal/testbed"
)

// hostileRegistry is a reverse proxy in front of a real registry that
// misbehaves on the requests its rule picks, and passes the others on.
type hostileRegistry struct {
	Host string

	mu   sync.Mutex
	rule func(w http.ResponseWriter, r *http.Request) bool // true: answered
}

func startHostile(tb testing.TB, upstream string) *hostileRegistry {
	tb.Helper()
	target := &url.URL{Scheme: "http", Host: upstream}
	rp := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		r.SetURL(target)
		r.Out.Host = r.In.Host // upload Locations must lead back here
	}}
	h := &hostileRegistry{}
	// Closed at the end, so that no stalled handler outlives the test (a
	// request whose body was not read never sees its client go).
	quit, cancel := context.WithCancel(context.Background())
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, stop := context.WithCancel(r.Context())
		defer stop()
		defer context.AfterFunc(quit, stop)()
		r = r.WithContext(ctx)
		h.mu.Lock()
		rule := h.rule
		h.mu.Unlock()
		if rule != nil && rule(w, r) {
			return
		}
		rp.ServeHTTP(w, r)
	}))
	tb.Cleanup(func() {
		cancel()
		srv.Close()
	})
	h.Host = srv.Listener.Addr().String()
	return h
}

func (h *hostileRegistry) set(rule func(w http.ResponseWriter, r *http.Request) bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.rule = rule
}

// on applies do to the requests of one method and path kind (see pathKind).
func on(method, kind string, do http.HandlerFunc) func(http.ResponseWriter, *http.Request) bool {
	return func(w http.ResponseWriter, r *http.Request) bool {
		if (method != "" && r.Method != method) || (kind != "" && pathKind(r.URL.Path) != kind) {
			return false
		}
		do(w, r)
		return true
	}
}

// The misbehaviours.

// trickle sends a manifest's headers, then a byte every 100ms, never all of it.
func trickle(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
	w.Header().Set("Content-Length", "1000000")
	w.WriteHeader(http.StatusOK)
	for {
		if _, err := w.Write([]byte(" ")); err != nil {
			return
		}
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// stall accepts the request and never answers.
func stall(_ http.ResponseWriter, r *http.Request) { <-r.Context().Done() }

// redirectLoop sends the client back to the same URL.
func redirectLoop(w http.ResponseWriter, r *http.Request) {
	http.Redirect(w, r, r.URL.String(), http.StatusTemporaryRedirect)
}

// huge streams a 512 MiB "manifest" without a length.
func huge(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
	w.WriteHeader(http.StatusOK)
	chunk := bytes.Repeat([]byte(" "), 1<<20)
	for range 512 {
		if _, err := w.Write(chunk); err != nil {
			return
		}
	}
}

// malformed answers with a manifest that is not JSON.
func malformed(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
	w.Write([]byte(`{"schemaVersion": 2, "layers": [`))
}

// otherManifest answers a manifest request with another (valid) manifest.
func otherManifest(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
	w.Write([]byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[]}`))
}

// referrersPage answers a referrers listing with n entries and a link to a
// next page, forever when endless.
func referrersPage(n int, endless bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		type desc struct {
			MediaType    string `json:"mediaType"`
			Digest       string `json:"digest"`
			Size         int    `json:"size"`
			ArtifactType string `json:"artifactType"`
		}
		idx := struct {
			SchemaVersion int    `json:"schemaVersion"`
			MediaType     string `json:"mediaType"`
			Manifests     []desc `json:"manifests"`
		}{2, "application/vnd.oci.image.index.v1+json", make([]desc, n)}
		for i := range idx.Manifests {
			idx.Manifests[i] = desc{"application/vnd.oci.image.manifest.v1+json", fmt.Sprintf("sha256:%064x", i), 1000, "application/vnd.dev.sigstore.bundle.v0.3+json"}
		}
		if endless {
			page := 0
			fmt.Sscanf(r.URL.Query().Get("page"), "%d", &page)
			w.Header().Set("Link", fmt.Sprintf(`<%s?page=%d>; rel="next"`, r.URL.Path, page+1))
		}
		w.Header().Set("Content-Type", "application/vnd.oci.image.index.v1+json")
		json.NewEncoder(w).Encode(idx)
	}
}

// storm answers every request with status, and a Retry-After of after seconds.
func storm(status, after int) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Retry-After", fmt.Sprint(after))
		http.Error(w, http.StatusText(status), status)
	}
}

// hostileCase is one misbehaviour and what a tool must do about it.
type hostileCase struct {
	name string
	rule func(http.ResponseWriter, *http.Request) bool
	// verb: "verify" runs seal verify of a signed image, "sign" seal sign.
	verb string
	// timeout is seal's --timeout (and cosign's).
	timeout time.Duration
	// want is in seal's error line; wall its bound.
	want []string
	wall time.Duration
}

func hostileCases(host string) []hostileCase {
	gaveUp := func(d string) []string { return []string{"gave up after " + d + " (--timeout", host} }
	return []hostileCase{
		{name: "signature tag trickles", verb: "verify-legacy", rule: on("GET", "manifest:tag", trickle), timeout: 3 * time.Second,
			want: gaveUp("3s"), wall: 8 * time.Second},
		{name: "referrer manifest trickles", verb: "verify-bundle", rule: on("GET", "manifest@digest", trickle), timeout: 3 * time.Second,
			want: gaveUp("3s"), wall: 8 * time.Second},
		{name: "signature layer stalls", verb: "verify-legacy", rule: on("GET", "blob", stall), timeout: 3 * time.Second,
			want: gaveUp("3s"), wall: 8 * time.Second},
		{name: "upload stalls", verb: "sign", rule: on("", "upload", stall), timeout: 3 * time.Second,
			want: gaveUp("3s"), wall: 8 * time.Second},
		{name: "redirect loop", verb: "verify-legacy", rule: on("GET", "blob", redirectLoop), timeout: time.Minute,
			want: []string{"stopped after 10 redirects"}, wall: 20 * time.Second},
		{name: "huge signature manifest", verb: "verify-legacy", rule: on("GET", "manifest:tag", huge), timeout: time.Minute,
			want: []string{"response body too large (limit 4194304 bytes)", host}, wall: 20 * time.Second},
		{name: "malformed signature manifest", verb: "verify-legacy", rule: on("GET", "manifest:tag", malformed), timeout: time.Minute,
			want: []string{"parsing referrers index: unexpected end of JSON input"}, wall: 20 * time.Second},
		{name: "wrong digest", verb: "verify-bundle", rule: on("GET", "manifest@digest", otherManifest), timeout: time.Minute,
			want: []string{"registry served content with digest sha256:"}, wall: 20 * time.Second},
		{name: "endless referrers pages", verb: "verify-bundle", rule: on("GET", "referrers", referrersPage(1, true)), timeout: time.Minute,
			want: []string{"more than 50 pages"}, wall: 20 * time.Second},
		{name: "too many referrers", verb: "verify-bundle", rule: on("GET", "referrers", referrersPage(12000, false)), timeout: time.Minute,
			want: []string{"too many referrers: more than 10000"}, wall: 20 * time.Second},
		{name: "503 storm", verb: "verify-bundle", rule: on("", "", storm(http.StatusServiceUnavailable, 1)), timeout: time.Minute,
			want: []string{"503 Service Unavailable", host}, wall: 45 * time.Second},
		{name: "429 storm past the deadline", verb: "verify-bundle", rule: on("", "", storm(http.StatusTooManyRequests, 120)), timeout: 4 * time.Second,
			want: []string{"gave up after 4s (--timeout", "429 Too Many Requests"}, wall: 9 * time.Second},
	}
}

// TestHostileRegistry runs seal against a registry that trickles, stalls,
// loops, floods and lies. Each case must end within its bound, exit 1 with one
// error line naming the cause, and stay within a memory bound (the process's
// peak resident set, from the kernel). cosign's figures on the same cases are
// BenchmarkHostileRegistry's.
func TestHostileRegistry(t *testing.T) {
	bed := newHostileBed(t)
	for _, tc := range hostileCases(bed.proxy.Host) {
		t.Run(tc.name, func(t *testing.T) {
			bed.proxy.set(tc.rule)
			defer bed.proxy.set(nil)
			res := bed.runSeal(t, tc)
			t.Logf("exit %d in %v, peak RSS %d MiB: %s", res.code, res.wall.Round(time.Millisecond), res.rssMiB, res.line)
			if res.code != 1 {
				t.Errorf("exit %d, want 1\n%s", res.code, res.stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(res.line, w) {
					t.Errorf("error line does not say %q:\n%s", w, res.line)
				}
			}
			if res.wall > tc.wall {
				t.Errorf("took %v, want at most %v", res.wall, tc.wall)
			}
			if res.rssMiB > 160 {
				t.Errorf("peak RSS %d MiB, want at most 160", res.rssMiB)
			}
		})
	}
}

type hostileBed struct {
	keys  keyPair
	reg   *testbed.Registry
	proxy *hostileRegistry
	// legacy and bundle are signed in one format each, fresh not at all;
	// all three are named on the proxy's host.
	legacy, bundle, fresh string
}

func newHostileBed(tb testing.TB) *hostileBed {
	tb.Helper()
	bed := &hostileBed{keys: newKeyPair(tb), reg: testbed.StartRegistry(tb, testbed.Distribution)}
	bed.proxy = startHostile(tb, bed.reg.Host)
	onProxy := func(ref string) string { return strings.Replace(ref, bed.reg.Host, bed.proxy.Host, 1) }
	for _, f := range []struct {
		format string
		dst    *string
	}{{"legacy", &bed.legacy}, {"bundle", &bed.bundle}} {
		img := pushImage(tb, bed.reg.Host, "hostile/"+f.format)
		mustRun(tb, bed.keys.env(), sealBin, append([]string{"sign", "--format", f.format}, sealKeyed(bed.keys, bed.reg.Host, img)...)...)
		*f.dst = onProxy(img)
	}
	bed.fresh = onProxy(pushImage(tb, bed.reg.Host, "hostile/fresh"))
	return bed
}

type toolRun struct {
	code          int
	wall          time.Duration
	rssMiB        int64
	stderr, line  string
	killedAtLimit bool
}

// args are seal's for a case's verb.
func (bed *hostileBed) args(tc hostileCase) (env []string, args []string) {
	timeout := "--timeout=" + tc.timeout.String()
	switch tc.verb {
	case "sign":
		return bed.keys.env(), append([]string{"sign", timeout}, sealKeyed(bed.keys, bed.proxy.Host, bed.fresh)...)
	case "verify-legacy":
		return nil, []string{"verify", timeout, "--key", bed.keys.pub, "--insecure-registry", bed.proxy.Host, bed.legacy}
	}
	return nil, []string{"verify", timeout, "--key", bed.keys.pub, "--insecure-registry", bed.proxy.Host, bed.bundle}
}

func (bed *hostileBed) runSeal(tb testing.TB, tc hostileCase) toolRun {
	env, args := bed.args(tc)
	res := measureRun(tb, env, 2*tc.wall, sealBin, args...)
	for line := range strings.SplitSeq(res.stderr, "\n") {
		if strings.HasPrefix(line, "seal: error: ") {
			res.line = line
		}
	}
	return res
}

// measureRun runs a process to its end (killing it at limit), with its exit
// code, wall time and peak resident set.
func measureRun(tb testing.TB, env []string, limit time.Duration, bin string, args ...string) toolRun {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(cleanEnv(), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	err := cmd.Run()
	res := toolRun{wall: time.Since(start), stderr: stderr.String(), killedAtLimit: ctx.Err() != nil}
	if cmd.ProcessState == nil {
		tb.Fatalf("%s: %v", bin, err)
	}
	res.code = cmd.ProcessState.ExitCode()
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		res.rssMiB = ru.Maxrss >> 10 // kilobytes on Linux
	}
	return res
}

// BenchmarkHostileRegistry puts seal, cosign v2 and cosign v3 through
// TestHostileRegistry's cases, each with the same --timeout, and reports
// each run's exit code, wall time and peak resident set: the README's
// table. cosign reads the legacy-format image (its key-only default) in
// every verify case; the misbehaviour hits the same kind of request.
// Run: go test ./e2e -run '^$' -bench HostileRegistry -benchtime 1x
func BenchmarkHostileRegistry(b *testing.B) {
	tools := map[string]string{"cosign-v2": testbed.Bin(b, testbed.BinCosign), "cosign-v3": testbed.Bin(b, testbed.BinCosignV3)}
	bed := newHostileBed(b)
	for _, tc := range hostileCases(bed.proxy.Host) {
		for _, tool := range []string{"seal", "cosign-v2", "cosign-v3"} {
			b.Run(strings.ReplaceAll(tc.name, " ", "_")+"/"+tool, func(b *testing.B) {
				bed.proxy.set(tc.rule)
				defer bed.proxy.set(nil)
				env, args := bed.args(tc)
				bin := sealBin
				if tool != "seal" {
					bin = tools[tool]
					env, args = bed.cosignArgs(tc, tool)
				}
				var res toolRun
				for b.Loop() {
					// cosign's 3-minute retries would outlast any patience: cut
					// at the case's bound plus the timeout, and say so.
					res = measureRun(b, env, tc.timeout+tc.wall, bin, args...)
				}
				b.ReportMetric(float64(res.code), "exit")
				b.ReportMetric(res.wall.Seconds(), "wall-s")
				b.ReportMetric(float64(res.rssMiB), "rss-MiB")
				if res.killedAtLimit {
					b.ReportMetric(1, "killed")
				}
			})
		}
	}
}

// cosignArgs are cosign's for a case: the same key, registry and timeout.
func (bed *hostileBed) cosignArgs(tc hostileCase, tool string) (env []string, args []string) {
	timeout := "--timeout=" + tc.timeout.String()
	if tc.verb == "sign" {
		args = append([]string{"sign", timeout}, cosignKeyed(bed.keys)...)
		if tool == "cosign-v3" {
			args = append([]string{"sign", timeout}, cosign3Keyed(bed.keys)...)
		}
		return bed.keys.env(), append(args, bed.fresh)
	}
	args = []string{"verify", timeout, "--key", bed.keys.pub, "--allow-http-registry", "--insecure-ignore-tlog"}
	if tool == "cosign-v3" {
		args = append(args, "--new-bundle-format=false")
	}
	return nil, append(args, bed.legacy)
}
