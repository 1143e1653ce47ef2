package limits

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Timeouts bound each connection and exchange of a transport. Zero means no
// limit for that step.
type Timeouts struct {
	// Dial bounds opening a TCP connection.
	Dial time.Duration
	// TLSHandshake bounds the TLS handshake.
	TLSHandshake time.Duration
	// ResponseHeader bounds the wait for a response's headers once the
	// request is written (a registry that verifies a large upload answers
	// after reading it).
	ResponseHeader time.Duration
	// Idle bounds each wait for data: while a response body is read, and
	// while a request body is written.
	Idle time.Duration
}

// DefaultTimeouts are the limits of every client of Seal. The dial and TLS
// limits are the standard library's default transport's.
var DefaultTimeouts = Timeouts{
	Dial:           30 * time.Second,
	TLSHandshake:   10 * time.Second,
	ResponseHeader: 60 * time.Second,
	Idle:           30 * time.Second,
}

// Option configures a transport.
type Option func(*http.Transport)

// WithMaxIdleConnsPerHost keeps up to n idle connections per host (the
// standard library keeps 2), for clients that send bursts of parallel
// requests to one host.
func WithMaxIdleConnsPerHost(n int) Option {
	return func(t *http.Transport) { t.MaxIdleConnsPerHost = n }
}

// WithTLSConfig sets the TLS configuration (a private CA, a client certificate).
func WithTLSConfig(c *tls.Config) Option {
	return func(t *http.Transport) { t.TLSClientConfig = c }
}

// NewTransport returns the standard library's default transport (proxy from
// the environment, HTTP/2, keep-alives) with the timeouts lim. Its errors
// name the host, the request and the limit that ended it.
func NewTransport(lim Timeouts, opts ...Option) http.RoundTripper {
	base := http.DefaultTransport.(*http.Transport).Clone()
	d := &net.Dialer{Timeout: lim.Dial, KeepAlive: 30 * time.Second}
	base.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &conn{Conn: c, idle: lim.Idle}, nil
	}
	base.TLSHandshakeTimeout = lim.TLSHandshake
	base.ResponseHeaderTimeout = lim.ResponseHeader
	if lim.Idle > 0 {
		// A pooled connection is closed before it has idled for as long as
		// a read may wait, so that no request is sent on a connection the
		// server is about to drop.
		base.IdleConnTimeout = min(base.IdleConnTimeout, lim.Idle)
	}
	for _, o := range opts {
		o(base)
	}
	return &transport{base: base, lim: lim}
}

type transport struct {
	base *http.Transport
	lim  Timeouts
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	var got atomic.Pointer[conn]
	ctx := httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
		GotConn: func(info httptrace.GotConnInfo) {
			c := info.Conn
			if tc, ok := c.(*tls.Conn); ok {
				c = tc.NetConn()
			}
			if lc, ok := c.(*conn); ok {
				got.Store(lc)
			}
		},
	})
	resp, err := t.base.RoundTrip(req.WithContext(ctx))
	if err != nil {
		return nil, t.explain(req, err)
	}
	if c := got.Load(); c != nil && c.idle > 0 && resp.Body != nil && resp.Body != http.NoBody {
		c.begin()
		resp.Body = &body{ReadCloser: resp.Body, conn: c, req: req}
	}
	return resp, nil
}

// CloseIdleConnections closes the pooled connections (http.Client calls it).
func (t *transport) CloseIdleConnections() { t.base.CloseIdleConnections() }

// TimeoutError is a request ended by one of the transport's limits.
type TimeoutError struct {
	// What did not happen in time, e.g. "no response headers".
	What string
	// Method and URL are the request's (the URL without query or user).
	Method, URL string
	// Limit is the limit that was reached.
	Limit time.Duration
	Err   error
}

func (e *TimeoutError) Error() string {
	return fmt.Sprintf("%s %s: %s within %v", e.Method, e.URL, e.What, e.Limit)
}

func (e *TimeoutError) Unwrap() error { return e.Err }

// Timeout reports true, as net.Error's of timeouts do.
func (e *TimeoutError) Timeout() bool { return true }

// explain names the limit behind a transport error, if one was.
func (t *transport) explain(req *http.Request, err error) error {
	if req.Context().Err() != nil {
		return err // the caller's deadline or cancellation: its own words
	}
	te := &TimeoutError{Method: req.Method, URL: Redact(req.URL), Err: err}
	var oe *net.OpError
	msg := err.Error()
	switch {
	case strings.Contains(msg, "timeout awaiting response headers"):
		te.What, te.Limit = "no response headers", t.lim.ResponseHeader
	case strings.Contains(msg, "TLS handshake timeout"):
		te.What, te.Limit = "no TLS handshake with "+req.URL.Host, t.lim.TLSHandshake
	case errors.As(err, &oe) && oe.Op == "dial" && oe.Timeout():
		te.What, te.Limit = "no connection to "+req.URL.Host, t.lim.Dial
	case errors.Is(err, os.ErrDeadlineExceeded):
		te.What, te.Limit = "no progress sending the request or reading its answer", t.lim.Idle
	default:
		return err
	}
	return te
}

// Redact returns u without its query (upload state, signed storage URLs)
// and user information, for errors and logs.
func Redact(u *url.URL) string {
	if u == nil {
		return ""
	}
	r := url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}
	return r.String()
}

// conn puts the idle limit on a connection: each write, and each read while a
// response body is being read, must make progress within idle. Between
// responses a pooled connection waits without a deadline (the transport's
// IdleConnTimeout closes it), so that the limit never ends a healthy idle
// connection.
type conn struct {
	net.Conn
	idle   time.Duration
	active atomic.Int32 // bodies being read on this connection (HTTP/2: several)
}

func (c *conn) Read(p []byte) (int, error) {
	if c.idle > 0 && c.active.Load() > 0 {
		_ = c.Conn.SetReadDeadline(time.Now().Add(c.idle))
	}
	return c.Conn.Read(p)
}

func (c *conn) Write(p []byte) (int, error) {
	if c.idle > 0 {
		_ = c.Conn.SetWriteDeadline(time.Now().Add(c.idle))
	}
	return c.Conn.Write(p)
}

// begin starts the idle limit for a body; it also applies to a read already
// waiting.
func (c *conn) begin() {
	c.active.Add(1)
	_ = c.Conn.SetReadDeadline(time.Now().Add(c.idle))
}

func (c *conn) end() {
	if c.active.Add(-1) == 0 {
		_ = c.Conn.SetReadDeadline(time.Time{})
	}
}

// body ends its connection's idle limit when it is read to the end or closed,
// and names the limit when it ended the read.
type body struct {
	io.ReadCloser
	conn *conn
	req  *http.Request
	once sync.Once
}

func (b *body) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil {
		b.once.Do(b.conn.end)
		if errors.Is(err, os.ErrDeadlineExceeded) && b.req.Context().Err() == nil {
			err = &TimeoutError{What: "no data of the response", Method: b.req.Method, URL: Redact(b.req.URL), Limit: b.conn.idle, Err: err}
		}
	}
	return n, err
}

func (b *body) Close() error {
	b.once.Do(b.conn.end)
	return b.ReadCloser.Close()
}

// Default is the process's shared transport with DefaultTimeouts, the
// default of every HTTP client of Seal that is given none.
var Default = sync.OnceValue(func() http.RoundTripper { return NewTransport(DefaultTimeouts) })
