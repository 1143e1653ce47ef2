package oci

import (
	"log/slog"
	"maps"
	"net/http"
	"sync"
	"time"
)

// CountingTransport counts the requests that pass through it by HTTP method, for
// benchmarks that report registry traffic. Put it innermost (WithTransport) so it
// sees pings, token requests and retries too. It is safe for concurrent use.
type CountingTransport struct {
	// Base performs the requests; nil means http.DefaultTransport.
	Base http.RoundTripper

	mu     sync.Mutex
	counts map[string]int
}

// RoundTrip counts the request and passes it on.
func (t *CountingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	t.mu.Lock()
	if t.counts == nil {
		t.counts = map[string]int{}
	}
	t.counts[req.Method]++
	t.mu.Unlock()
	base := t.Base
	if base == nil {
		base = http.DefaultTransport
	}
	return base.RoundTrip(req)
}

// Counts returns a copy of the request counts by method.
func (t *CountingTransport) Counts() map[string]int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return maps.Clone(t.counts)
}

// Total returns the number of requests so far.
func (t *CountingTransport) Total() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for _, c := range t.counts {
		n += c
	}
	return n
}

// Reset sets all counts to zero.
func (t *CountingTransport) Reset() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.counts = nil
}

// prepTransport gives every attempt a fresh body and sets the User-Agent, on
// token requests too. The bearer transport of go-containerregistry replays a
// request after refreshing an expired token; net/http's Transport rewinds the
// body itself, but an injected transport (a recorder, a test double) may not.
type prepTransport struct {
	inner     http.RoundTripper
	userAgent string
}

func (t prepTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	r := req.Clone(req.Context())
	if req.GetBody != nil && req.Body != nil && req.Body != http.NoBody {
		body, err := req.GetBody()
		if err != nil {
			req.Body.Close()
			return nil, err
		}
		// The contract of RoundTrip is to close the request body, ours included.
		req.Body.Close()
		r.Body = body
	}
	if t.userAgent != "" {
		r.Header.Set("User-Agent", t.userAgent)
	}
	return t.inner.RoundTrip(r)
}

// logTransport logs every exchange at debug level, with the URL redacted.
type logTransport struct {
	inner http.RoundTripper
	log   *slog.Logger
}

func (t logTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	start := time.Now()
	resp, err := t.inner.RoundTrip(req)
	if err != nil {
		t.log.Debug("registry request failed", "method", req.Method, "url", redactURL(req.URL),
			"duration", time.Since(start), "error", redactError(err))
		return resp, err
	}
	t.log.Debug("registry request", "method", req.Method, "url", redactURL(req.URL),
		"status", resp.StatusCode, "duration", time.Since(start))
	return resp, nil
}
