package limits_test

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sealsign/seal/internal/limits"
)

func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	small := filepath.Join(dir, "small.json")
	if err := os.WriteFile(small, []byte(`{"a":1}`), 0o644); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big.json")
	if err := os.WriteFile(big, make([]byte, 2048), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, path string
		stdin      io.Reader
		want       string // content, or "" when an error is expected
		wantErr    string
		is         error
	}{
		{name: "file", path: small, want: `{"a":1}`},
		{name: "stdin", path: "-", stdin: strings.NewReader("hello"), want: "hello"},
		{name: "regular file over the limit", path: big, wantErr: "--predicate " + big + ": input too large: 2048 bytes, more than the limit of 1 KiB", is: limits.ErrTooLarge},
		{name: "endless device", path: "/dev/zero", wantErr: "--predicate /dev/zero: input too large: more than the limit of 1 KiB", is: limits.ErrTooLarge},
		{name: "endless stdin", path: "-", stdin: zeros{}, wantErr: "--predicate standard input: input too large", is: limits.ErrTooLarge},
		{name: "missing", path: filepath.Join(dir, "nope"), wantErr: "--predicate " + filepath.Join(dir, "nope") + ": no such file or directory", is: fs.ErrNotExist},
		{name: "directory", path: dir, wantErr: "is a directory, not a file"},
		{name: "no stdin", path: "-", wantErr: "no standard input"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := limits.ReadFile("--predicate", tc.path, 1024, tc.stdin)
			if tc.wantErr == "" {
				if err != nil || string(b) != tc.want {
					t.Fatalf("ReadFile() = %q, %v; want %q", b, err, tc.want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("ReadFile() error = %v, want it to contain %q", err, tc.wantErr)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("ReadFile() error = %v, want errors.Is %v", err, tc.is)
			}
		})
	}
}

// zeros is an endless reader.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

func TestReadFileMemory(t *testing.T) {
	// An endless stream costs the limit and no more.
	allocs := testing.AllocsPerRun(3, func() {
		if _, err := limits.ReadFile("--bundle", "-", 1<<20, zeros{}); !errors.Is(err, limits.ErrTooLarge) {
			t.Fatalf("ReadFile() error = %v", err)
		}
	})
	if allocs > 64 {
		t.Errorf("ReadFile of an endless stream: %v allocations, want a bounded few", allocs)
	}
}

var fast = limits.Timeouts{Dial: time.Second, TLSHandshake: time.Second, ResponseHeader: 300 * time.Millisecond, Idle: 300 * time.Millisecond}

func TestTransportLimits(t *testing.T) {
	for _, tc := range []struct {
		name    string
		handler http.HandlerFunc
		want    string
	}{{
		name: "headers never come",
		handler: func(w http.ResponseWriter, r *http.Request) {
			<-r.Context().Done()
		},
		want: "GET http://HOST/v2/: no response headers within 300ms",
	}, {
		name: "body stalls",
		handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "100")
			w.WriteHeader(http.StatusOK)
			w.Write([]byte("{"))
			w.(http.Flusher).Flush()
			<-r.Context().Done()
		},
		want: "GET http://HOST/v2/: no data of the response within 300ms",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(tc.handler)
			defer srv.Close()
			client := &http.Client{Transport: limits.NewTransport(fast)}
			start := time.Now()
			err := get(client, srv.URL+"/v2/?token=secret")
			if elapsed := time.Since(start); elapsed > 3*time.Second {
				t.Errorf("took %v, want about the limit", elapsed)
			}
			want := strings.ReplaceAll(tc.want, "HOST", srv.Listener.Addr().String())
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("error = %v, want it to contain %q", err, want)
			}
			var te *limits.TimeoutError
			if !errors.As(err, &te) {
				t.Fatalf("error %v is no *TimeoutError", err)
			}
			// (http.Client's own *url.Error around it quotes the whole URL:
			// its callers redact that.)
			if strings.Contains(te.Error(), "secret") {
				t.Errorf("TimeoutError %q carries the query", te)
			}
		})
	}
}

// A trickle passes the idle limit; the caller's deadline ends it, in the
// caller's words.
func TestTransportTrickleEndsAtDeadline(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100000")
		for {
			if _, err := w.Write([]byte(" ")); err != nil {
				return
			}
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	start := time.Now()
	resp, err := (&http.Client{Transport: limits.NewTransport(fast)}).Do(req)
	if err == nil {
		_, err = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error = %v, want the context's deadline", err)
	}
	if elapsed := time.Since(start); elapsed > 3*time.Second {
		t.Errorf("took %v after a 1s deadline", elapsed)
	}
}

// A pooled connection that idled past the idle limit still serves the next
// request: the limit applies while a body is read, not between requests.
func TestTransportIdleConnectionReused(t *testing.T) {
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	client := &http.Client{Transport: limits.NewTransport(limits.Timeouts{Idle: 2 * time.Second})}
	for i := range 3 {
		if err := get(client, srv.URL); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("%d connections for 3 requests, want 1 reused", n)
	}
	lim := limits.Timeouts{Idle: 200 * time.Millisecond}
	client = &http.Client{Transport: limits.NewTransport(lim)}
	for i := range 2 {
		if err := get(client, srv.URL); err != nil {
			t.Fatalf("request %d after idling %v: %v", i, 2*lim.Idle, err)
		}
		time.Sleep(2 * lim.Idle)
	}
}

func get(c *http.Client, u string) error {
	resp, err := c.Get(u)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, err = io.ReadAll(resp.Body)
	return err
}

func TestSize(t *testing.T) {
	for n, want := range map[int64]string{64 << 20: "64 MiB", 512 << 10: "512 KiB", 100: "100 bytes", 1<<20 + 1: "1048577 bytes"} {
		if got := limits.Size(n); got != want {
			t.Errorf("Size(%d) = %q, want %q", n, got, want)
		}
	}
}
