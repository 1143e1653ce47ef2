package e2e

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// registryProxy is a reverse proxy on 127.0.0.1 in front of one registry.
// Seal and cosign are both pointed at it (image references name the
// proxy's host), so the requests it counts are comparable between the two
// tools: it sees pings, token requests and every retry, whatever client
// library made them. With faults set it also fails a share of requests, the
// way a flaky registry or load balancer does.
type registryProxy struct {
	// Host is "127.0.0.1:PORT", what image references name.
	Host string

	srv    *httptest.Server
	faults *faultPlan

	mu     sync.Mutex
	counts map[string]int // "METHOD kind", e.g. "PUT manifest:tag"
	log    []string       // one line per request while logging
	logOn  bool
}

// startProxy puts a counting proxy in front of the registry at upstream
// (host:port, plain HTTP). It stops when the test ends.
func startProxy(tb testing.TB, upstream string) *registryProxy {
	tb.Helper()
	target, err := url.Parse("http://" + upstream)
	if err != nil {
		tb.Fatal(err)
	}
	p := &registryProxy{counts: map[string]int{}}
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(target)
			// Keep the Host the client used: registries build upload
			// Location URLs from it, and those must lead back here.
			r.Out.Host = r.In.Host
		},
		Transport: &http.Transport{
			MaxIdleConns:        256,
			MaxIdleConnsPerHost: 256,
			IdleConnTimeout:     30 * time.Second,
		},
		// The proxy is part of the measurement only as a counter: keep its
		// own error pages short.
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, err error) {
			http.Error(w, "proxy: "+err.Error(), http.StatusBadGateway)
		},
	}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := r.Method + " " + pathKind(r.URL.Path)
		p.mu.Lock()
		p.counts[key]++
		if p.logOn {
			p.log = append(p.log, time.Now().Format("15:04:05.000")+" "+r.Method+" "+r.URL.Path)
		}
		p.mu.Unlock()
		p.mu.Lock()
		f := p.faults
		p.mu.Unlock()
		if f != nil && f.inject(w, r, rp) {
			return
		}
		rp.ServeHTTP(w, r)
	}))
	tb.Cleanup(p.srv.Close)
	p.Host = p.srv.Listener.Addr().String()
	return p
}

// pathKind sorts a registry API path into what it costs a client: the ping,
// a manifest by tag (the read-modify-write documents live behind tags) or
// by digest, a blob, an upload session, a referrers listing, a tag listing.
func pathKind(path string) string {
	if path == "/v2/" || path == "/v2" {
		return "ping"
	}
	if !strings.HasPrefix(path, "/v2/") {
		return "other" // token endpoints and the like
	}
	switch {
	case strings.Contains(path, "/blobs/uploads"):
		return "upload"
	case strings.Contains(path, "/blobs/"):
		return "blob"
	case strings.Contains(path, "/referrers/"):
		return "referrers"
	case strings.HasSuffix(path, "/tags/list"):
		return "tags"
	case strings.Contains(path, "/manifests/"):
		ref := path[strings.LastIndex(path, "/")+1:]
		if strings.Contains(ref, ":") {
			return "manifest@digest"
		}
		return "manifest:tag"
	}
	return "other"
}

// Reset forgets the counts (and the log).
func (p *registryProxy) Reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.counts = map[string]int{}
	p.log = nil
}

// Counts returns a copy of the counts by "METHOD kind".
func (p *registryProxy) Counts() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return maps.Clone(p.counts)
}

// Total is the number of requests since the last Reset.
func (p *registryProxy) Total() int {
	n := 0
	for _, c := range p.Counts() {
		n += c
	}
	return n
}

// Logging turns the per-request log on or off; Log returns it.
func (p *registryProxy) Logging(on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.logOn = on
}

// Log returns the requests logged since Logging(true), in arrival order.
func (p *registryProxy) Log() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.log)
}

// formatCounts renders counts as "GET manifest:tag=3 PUT blob=2 ...", sorted.
func formatCounts(c map[string]int) string {
	keys := slices.Sorted(maps.Keys(c))
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s=%d", k, c[k]))
	}
	return strings.Join(parts, " ")
}

// faultKind is one way the proxy fails a request.
type faultKind int

const (
	// Failures before the registry sees the request.
	fault500 faultKind = iota
	fault503
	fault429
	faultDrop // connection closed without an answer
	// Failures after the registry has processed the request: the client
	// does not learn that its write succeeded.
	fault502After
	faultDropAfter
	numFaults
)

func (k faultKind) String() string {
	return [...]string{"500", "503", "429", "drop", "502-after-forward", "drop-after-forward"}[k]
}

// faultPlan fails a share of requests, choosing which and how with a
// seeded RNG, so a run's fault sequence is reproducible up to the order in
// which concurrent requests arrive. Or, with a cut, it lets a number of
// writes through and then refuses everything, as a registry that goes away
// in the middle of a run (or starts denying a revoked token) does.
type faultPlan struct {
	mu       sync.Mutex
	rng      *rand.Rand
	rate     float64
	injected map[faultKind]int

	cut    int // writes let through before the registry goes away; -1: no cut
	writes int
	down   bool
	denied int
}

// withFaults makes p fail rate of the requests from now on (0 turns faults
// off).
func (p *registryProxy) withFaults(rate float64, seed uint64) *faultPlan {
	return p.setFaults(&faultPlan{rng: rand.New(rand.NewPCG(seed, seed^0x5ea1)), rate: rate, injected: map[faultKind]int{}, cut: -1})
}

// cutAfterWrites lets the next k write requests (POST, PUT, PATCH, DELETE)
// through and answers every request after them 403 DENIED, which clients
// do not retry.
func (p *registryProxy) cutAfterWrites(k int) *faultPlan {
	return p.setFaults(&faultPlan{injected: map[faultKind]int{}, cut: k})
}

// noFaults turns fault injection off.
func (p *registryProxy) noFaults() { p.setFaults(nil) }

func (p *registryProxy) setFaults(f *faultPlan) *faultPlan {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.faults = f
	return f
}

// Denied is how many requests the cut refused.
func (f *faultPlan) Denied() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.denied
}

// Injected returns how many faults of each kind were injected.
func (f *faultPlan) Injected() map[string]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]int{}
	for k, n := range f.injected {
		out[k.String()] = n
	}
	return out
}

// Total is the number of faults injected.
func (f *faultPlan) Total() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.injected {
		n += c
	}
	return n
}

// inject fails the request if the dice say so and reports whether it did.
func (f *faultPlan) inject(w http.ResponseWriter, r *http.Request, next http.Handler) bool {
	f.mu.Lock()
	if f.cut >= 0 {
		write := r.Method != http.MethodGet && r.Method != http.MethodHead
		if write && !f.down {
			if f.writes == f.cut {
				f.down = true
			} else {
				f.writes++
			}
		}
		down := f.down
		if down {
			f.denied++
		}
		f.mu.Unlock()
		if down {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusForbidden)
			fmt.Fprint(w, `{"errors":[{"code":"DENIED","message":"injected: the registry refuses requests from now on"}]}`)
		}
		return down
	}
	hit := f.rng.Float64() < f.rate
	kind := faultKind(f.rng.IntN(int(numFaults)))
	if hit {
		f.injected[kind]++
	}
	f.mu.Unlock()
	if !hit {
		return false
	}
	switch kind {
	case fault500:
		http.Error(w, `{"errors":[{"code":"UNKNOWN","message":"injected fault"}]}`, http.StatusInternalServerError)
	case fault503:
		http.Error(w, `{"errors":[{"code":"UNAVAILABLE","message":"injected fault"}]}`, http.StatusServiceUnavailable)
	case fault429:
		w.Header().Set("Retry-After", "0")
		http.Error(w, `{"errors":[{"code":"TOOMANYREQUESTS","message":"injected fault"}]}`, http.StatusTooManyRequests)
	case faultDrop:
		drop(w)
	case fault502After, faultDropAfter:
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		if kind == faultDropAfter {
			drop(w)
		} else {
			http.Error(w, "injected fault after the registry answered", http.StatusBadGateway)
		}
	}
	return true
}

// drop closes the client's connection without an answer.
func drop(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		http.Error(w, "injected fault", http.StatusInternalServerError)
		return
	}
	if conn, _, err := hj.Hijack(); err == nil {
		conn.Close()
	}
}

func TestPathKind(t *testing.T) {
	for path, want := range map[string]string{
		"/v2/":                             "ping",
		"/v2/a/b/manifests/v1":             "manifest:tag",
		"/v2/a/b/manifests/sha256-abc.sig": "manifest:tag",
		"/v2/a/b/manifests/sha256:abc":     "manifest@digest",
		"/v2/a/b/blobs/sha256:abc":         "blob",
		"/v2/a/b/blobs/uploads/":           "upload",
		"/v2/a/b/blobs/uploads/0f1e-2d3c":  "upload",
		"/v2/a/b/referrers/sha256:abc":     "referrers",
		"/v2/a/b/tags/list":                "tags",
		"/token":                           "other",
	} {
		if got := pathKind(path); got != want {
			t.Errorf("pathKind(%q) = %q, want %q", path, got, want)
		}
	}
}
