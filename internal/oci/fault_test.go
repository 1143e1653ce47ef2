package oci_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/sealsign/seal/internal/oci"
	"github.com/sealsign/seal/internal/oci/bundle"
	"github.com/sealsign/seal/internal/oci/legacy"
	"github.com/sealsign/seal/internal/oci/ocitest"
)

// faultProxy forwards to a registry and fails a share of the requests the ways
// networks and registries fail: 500, 503, 429, a connection dropped before the
// request reaches the registry, one dropped after the registry acted on it (the
// response is lost), and a response body cut off halfway.
type faultProxy struct {
	rate    float64
	enabled atomic.Bool

	mu     sync.Mutex
	rng    *rand.Rand
	faults map[string]int
	total  int
	rp     *httputil.ReverseProxy
}

var faultModes = []string{"500", "503", "429", "drop-before", "drop-after", "truncate"}

func startFaultProxy(t *testing.T, upstream string, rate float64, seed uint64) (string, *faultProxy) {
	t.Helper()
	target := &url.URL{Scheme: "http", Host: upstream}
	p := &faultProxy{rate: rate, rng: rand.New(rand.NewPCG(seed, seed)), faults: map[string]int{}}
	p.rp = &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		r.SetURL(target)
		// The registry builds Location headers from Host: keep clients on the proxy.
		r.Out.Host = r.In.Host
	}}
	p.enabled.Store(true)
	s := httptest.NewServer(p)
	t.Cleanup(s.Close)
	return s.Listener.Addr().String(), p
}

func (p *faultProxy) pick() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.total++
	if !p.enabled.Load() || p.rng.Float64() >= p.rate {
		return ""
	}
	m := faultModes[p.rng.IntN(len(faultModes))]
	p.faults[m]++
	return m
}

func (p *faultProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch p.pick() {
	case "":
		p.rp.ServeHTTP(w, r)
	case "500":
		http.Error(w, `{"errors":[{"code":"UNKNOWN","message":"injected"}]}`, http.StatusInternalServerError)
	case "503":
		w.Header().Set("Retry-After", "0")
		http.Error(w, "injected", http.StatusServiceUnavailable)
	case "429":
		w.Header().Set("Retry-After", "0")
		http.Error(w, `{"errors":[{"code":"TOOMANYREQUESTS"}]}`, http.StatusTooManyRequests)
	case "drop-before":
		drop(w)
	case "drop-after":
		rec := httptest.NewRecorder()
		p.rp.ServeHTTP(rec, r)
		drop(w)
	case "truncate":
		rec := httptest.NewRecorder()
		p.rp.ServeHTTP(rec, r)
		body := rec.Body.Bytes()
		if r.Method == http.MethodHead || len(body) < 2 {
			drop(w)
			return
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.Header().Set("Content-Length", fmt.Sprint(len(body)))
		w.WriteHeader(rec.Code)
		_, _ = w.Write(body[:len(body)/2])
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler)
	}
}

func drop(w http.ResponseWriter) {
	conn, _, err := w.(http.Hijacker).Hijack()
	if err == nil {
		conn.Close()
	}
}

// TestFaultInjection publishes through a proxy that fails 20% of requests.
// Every publish either ends complete or returns an error, and running the
// failed ones again without faults completes them, without duplicates.
func TestFaultInjection(t *testing.T) {
	for _, tc := range []struct {
		rk       ocitest.RegistryKind
		rate     float64
		attempts int
	}{
		{ocitest.RegistryKind{Name: "distribution", Start: ocitest.StartDistribution}, 0.2, 6},
		{ocitest.RegistryKind{Name: "olareg", Start: ocitest.StartOlareg}, 0.2, 6},
		// Harsher, so that some publishes fail and the re-run path runs.
		{ocitest.RegistryKind{Name: "distribution", Start: ocitest.StartDistribution}, 0.5, 2},
	} {
		t.Run(fmt.Sprintf("%s/%v", tc.rk.Name, tc.rate), func(t *testing.T) {
			ctx := ocitest.Context(t)
			upstream := tc.rk.Start(t)
			proxy, fp := startFaultProxy(t, upstream, tc.rate, 42)
			direct := ocitest.Client(t, upstream)
			c := ocitest.Client(t, proxy, oci.WithRetry(tc.attempts, time.Millisecond), oci.WithSettleDelay(5*time.Millisecond))

			type op struct {
				name string
				run  func(*oci.Client) error
			}
			const images = 8
			subjects := make([]oci.Subject, images)
			var ops []op
			for i := range images {
				d := ocitest.PushImage(t, upstream, fmt.Sprintf("app%d", i))
				s, err := direct.Resolve(ctx, d.String())
				if err != nil {
					t.Fatal(err)
				}
				subjects[i] = s
				// The publisher addresses the same subject through the proxy.
				ps := s
				ps.Ref = mustDigest(t, strings.Replace(s.Ref.String(), upstream, proxy, 1))
				sig, _ := legacy.SignatureLayer([]byte(fmt.Sprintf(`{"n":%d}`, i)), []byte(fmt.Sprintf("sig-%d", i)), legacy.Material{})
				att, _ := legacy.AttestationLayer([]byte(fmt.Sprintf(`{"payload":"%d"}`, i)), "https://slsa.dev/provenance/v1", legacy.Material{})
				ops = append(ops,
					op{fmt.Sprintf("bundle %d", i), func(c *oci.Client) error {
						_, err := bundle.Put(ctx, c, ps, bundle.Artifact{Bundle: ocitest.Bundle(i), Content: bundle.ContentDSSE})
						return err
					}},
					op{fmt.Sprintf("sig %d", i), func(c *oci.Client) error {
						_, err := legacy.Append(ctx, c, ps, legacy.Signature, []legacy.Layer{sig})
						return err
					}},
					op{fmt.Sprintf("att %d", i), func(c *oci.Client) error {
						_, err := legacy.Append(ctx, c, ps, legacy.Attestation, []legacy.Layer{att})
						return err
					}},
				)
			}
			complete := func(i int, what string) error {
				s := subjects[i]
				switch what {
				case "bundle":
					bs, err := bundle.List(ctx, direct, s, bundle.Filter{})
					if err != nil || len(bs) != 1 || !bytes.Equal(bs[0].Bundle, ocitest.Bundle(i)) {
						return fmt.Errorf("bundles of image %d: %d, %v", i, len(bs), err)
					}
				case "sig", "att":
					kind := map[string]legacy.Kind{"sig": legacy.Signature, "att": legacy.Attestation}[what]
					ls, err := legacy.Read(ctx, direct, s, kind)
					if err != nil || len(ls) != 1 {
						return fmt.Errorf("%s of image %d: %d layers, %v", what, i, len(ls), err)
					}
				}
				return nil
			}

			var failed []op
			for _, o := range ops {
				err := o.run(c)
				var i int
				var what string
				fmt.Sscanf(o.name, "%s %d", &what, &i)
				if err != nil {
					if !strings.Contains(err.Error(), "127.0.0.1") {
						t.Errorf("%s: error does not say where: %v", o.name, err)
					}
					t.Logf("%s failed: %v", o.name, err)
					failed = append(failed, o)
					continue
				}
				if err := complete(i, what); err != nil {
					t.Errorf("%s succeeded but is incomplete: %v", o.name, err)
				}
			}
			fp.enabled.Store(false)
			for _, o := range failed {
				if err := o.run(c); err != nil {
					t.Errorf("%s: re-run without faults = %v", o.name, err)
				}
			}
			for i := range images {
				for _, what := range []string{"bundle", "sig", "att"} {
					if err := complete(i, what); err != nil {
						t.Errorf("after re-runs: %v", err)
					}
				}
			}
			fp.mu.Lock()
			defer fp.mu.Unlock()
			t.Logf("%d requests, faults injected: %v; %d of %d publishes failed on the first run",
				fp.total, fp.faults, len(failed), len(ops))
			if len(fp.faults) < 4 {
				t.Errorf("too few fault modes exercised: %v", fp.faults)
			}
			if tc.rate >= 0.5 && len(failed) == 0 {
				t.Errorf("no publish failed at a %v fault rate with %d attempts; the error path went untested", tc.rate, tc.attempts)
			}
		})
	}
}

func mustDigest(t *testing.T, s string) name.Digest {
	t.Helper()
	d, err := name.NewDigest(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}
