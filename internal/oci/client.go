package oci

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/sealsign/seal/internal/limits"
)

// Option configures a Client.
type Option func(*options) error

type options struct {
	transport   http.RoundTripper
	keychain    authn.Keychain
	creds       staticKeychain
	insecure    map[string]bool
	attempts    int
	backoff     time.Duration
	maxBackoff  time.Duration
	log         *slog.Logger
	userAgent   string
	jobs        int
	writeAccess bool
	settleDelay time.Duration
	tagRounds   int
	deferCheck  bool
}

// WithTransport sets the transport every request goes through, pings and token
// requests included. The default is limits.NewTransport: the standard library's
// transport with dial, TLS, response-header and idle-read timeouts.
func WithTransport(rt http.RoundTripper) Option {
	return func(o *options) error {
		if rt == nil {
			return errors.New("nil transport")
		}
		o.transport = rt
		return nil
	}
}

// WithKeychain replaces the Docker configuration keychain (authn.DefaultKeychain)
// as the source of credentials. Credentials from WithCredentials still come first.
func WithKeychain(k authn.Keychain) Option {
	return func(o *options) error {
		if k == nil {
			return errors.New("nil keychain")
		}
		o.keychain = k
		return nil
	}
}

// WithCredentials gives the client a user name and password (or token) for one
// registry host, as CI systems hand them out: GitLab's CI_REGISTRY_USER and
// CI_REGISTRY_PASSWORD for CI_REGISTRY, a GitHub token for ghcr.io. They take
// precedence over the Docker configuration. "docker.io" means Docker Hub.
func WithCredentials(host, user, password string) Option {
	return func(o *options) error {
		if user == "" || password == "" {
			return fmt.Errorf("credentials for %q: empty user name or password", host)
		}
		reg, err := name.NewRegistry(host)
		if err != nil {
			return fmt.Errorf("credentials for %q: %w", host, err)
		}
		if o.creds == nil {
			o.creds = staticKeychain{}
		}
		o.creds[reg.RegistryStr()] = authn.AuthConfig{Username: user, Password: password}
		return nil
	}
}

// WithInsecureHosts allows plain HTTP for exactly these hosts (host or host:port,
// as written in image references). Every other host, loopback included, is
// spoken to over HTTPS only.
func WithInsecureHosts(hosts ...string) Option {
	return func(o *options) error {
		for _, h := range hosts {
			reg, err := name.NewRegistry(h)
			if err != nil {
				return fmt.Errorf("insecure host %q: %w", h, err)
			}
			o.insecure[reg.RegistryStr()] = true
		}
		return nil
	}
}

// WithRetry sets how often a request is tried (at least 1) and the first backoff,
// which doubles per attempt up to 30 times the first. Retried are connection
// failures, 408, 429 and 5xx responses; a 429's Retry-After is honoured up to
// the largest backoff. The default is 5 attempts starting at 250ms.
func WithRetry(attempts int, backoff time.Duration) Option {
	return func(o *options) error {
		if attempts < 1 || backoff < 0 {
			return fmt.Errorf("retry: %d attempts with backoff %v", attempts, backoff)
		}
		o.attempts = attempts
		o.backoff = backoff
		o.maxBackoff = 30 * backoff
		return nil
	}
}

// WithLogger receives a debug line per request (redacted) and warnings about
// repaired tag updates.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) error {
		if l == nil {
			return errors.New("nil logger")
		}
		o.log = l
		return nil
	}
}

// WithUserAgent sets the User-Agent header of every request.
func WithUserAgent(ua string) Option {
	return func(o *options) error {
		o.userAgent = ua
		return nil
	}
}

// WithJobs bounds how many blobs one operation transfers at the same time
// (default 4).
func WithJobs(n int) Option {
	return func(o *options) error {
		if n < 1 {
			return fmt.Errorf("jobs: %d < 1", n)
		}
		o.jobs = n
		return nil
	}
}

// WithWriteAccess makes the client ask for push access from its first request
// to a repository on, so that a run that resolves and then publishes needs one
// token per repository instead of two.
func WithWriteAccess() Option {
	return func(o *options) error {
		o.writeAccess = true
		return nil
	}
}

// WithDeferredCheck makes tag updates return right after their write,
// without waiting to read the tag back; the caller promises to call Settle
// once at the end of the run, which waits once and then checks (and
// repairs) every tag the run wrote. A run that updates many tags then pays
// one wait instead of one per tag.
func WithDeferredCheck() Option {
	return func(o *options) error {
		o.deferCheck = true
		return nil
	}
}

// WithSettleDelay sets the least time a tag update waits before reading the tag
// back to check that no concurrent writer dropped its entries (default 15ms,
// for a neighbour's scheduling between its check and its write; the wait adds
// two or three times the update's own window, from its check that the tag had
// not moved to the end of its write, which estimates a neighbour's: see
// settleWindows).
func WithSettleDelay(d time.Duration) Option {
	return func(o *options) error {
		if d < 0 {
			return fmt.Errorf("settle delay %v < 0", d)
		}
		o.settleDelay = d
		return nil
	}
}

// Client talks to OCI registries. It caches pings, tokens and what it learned
// about each registry, so use one Client for a whole run. It is safe for
// concurrent use.
type Client struct {
	o         options
	keychain  authn.Keychain
	plain     *http.Client      // unauthenticated, for pings
	authInner http.RoundTripper // below the authenticating transports

	mu    sync.Mutex
	regs  map[string]*registryState
	repos map[string]*repoState

	journalMu sync.Mutex
	journal   map[string]*journalEntry
	maxWindow time.Duration // longest deferred update window, for Settle

	// lastRead holds, for a client that writes, the latest read of each
	// shared tag (nil: it was missing), so that an update right after a
	// read (a publisher first looks for what it already published) starts
	// from it instead of reading again. The update's check before writing
	// catches a tag that moved since.
	lastReadMu sync.Mutex
	lastRead   map[string]*Manifest
}

// noteRead remembers what a read of a shared tag found (f nil: missing).
func (c *Client) noteRead(repo name.Repository, tag string, f *Manifest) {
	if !c.o.writeAccess {
		return
	}
	c.lastReadMu.Lock()
	defer c.lastReadMu.Unlock()
	if c.lastRead == nil {
		c.lastRead = map[string]*Manifest{}
	}
	c.lastRead[repo.Name()+":"+tag] = f
}

// takeRead returns and forgets the remembered read of a shared tag.
func (c *Client) takeRead(repo name.Repository, tag string) (*Manifest, bool) {
	c.lastReadMu.Lock()
	defer c.lastReadMu.Unlock()
	key := repo.Name() + ":" + tag
	f, ok := c.lastRead[key]
	delete(c.lastRead, key)
	return f, ok
}

// registryState is what a client learned about one registry host.
type registryState struct {
	mu     sync.Mutex // held while pinging
	ch     *transport.Challenge
	scheme string

	referrersAPI atomic.Int32 // tri-state: unknown, yes, no
	monolithic   atomic.Int32 // does POST ?digest= upload in one request
}

const (
	unknown int32 = iota
	yes
	no
)

// repoState holds a repository's authenticated clients.
type repoState struct {
	mu         sync.Mutex
	pull, push *repoClient

	emptyMu   sync.Mutex
	emptyDone bool // the empty config blob is known to be present
}

// repoClient talks to one repository with one access level.
type repoClient struct {
	repo  name.Repository
	reg   *registryState
	state *repoState
	http  *http.Client
	base  string // scheme://host/v2/<repository>
}

// New returns a Client.
func New(opts ...Option) (*Client, error) {
	o := options{
		insecure:    map[string]bool{},
		attempts:    5,
		backoff:     250 * time.Millisecond,
		maxBackoff:  8 * time.Second,
		jobs:        4,
		settleDelay: 15 * time.Millisecond,
		tagRounds:   30,
	}
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, fmt.Errorf("configuring registry client: %w", err)
		}
	}
	if o.transport == nil {
		// net/http keeps two idle connections per host by default, so each
		// burst of parallel uploads (up to WithJobs, and several lanes per
		// subject) would close most of the connections the previous burst
		// opened and open, and TLS-handshake, new ones. Keep them all.
		o.transport = limits.NewTransport(limits.DefaultTimeouts, limits.WithMaxIdleConnsPerHost(max(64, 4*o.jobs)))
	}
	if o.log == nil {
		o.log = slog.New(slog.DiscardHandler)
	}
	if o.keychain == nil {
		o.keychain = authn.DefaultKeychain
	}
	kc := o.keychain
	if len(o.creds) > 0 {
		kc = authn.NewMultiKeychain(o.creds, o.keychain)
	}
	inner := prepTransport{inner: logTransport{inner: o.transport, log: o.log}, userAgent: o.userAgent}
	return &Client{
		o:         o,
		keychain:  kc,
		plain:     &http.Client{Transport: inner, CheckRedirect: noDowngradeRedirects},
		authInner: inner,
		regs:      map[string]*registryState{},
		repos:     map[string]*repoState{},
		journal:   map[string]*journalEntry{},
	}, nil
}

// noDowngradeRedirects refuses redirects from HTTPS to plain HTTP. Other hosts
// are allowed: registries send blob downloads to object storage. Credentials do
// not follow: the authenticating transports only add them for the registry host.
func noDowngradeRedirects(req *http.Request, via []*http.Request) error {
	if len(via) >= 10 {
		return errors.New("stopped after 10 redirects")
	}
	if via[0].URL.Scheme == "https" && req.URL.Scheme != "https" {
		return fmt.Errorf("refusing redirect from https to %s", req.URL.Scheme)
	}
	return nil
}

// registry returns the state of a registry host, pinging it on first use.
func (c *Client) registry(ctx context.Context, reg name.Registry) (*registryState, error) {
	host := reg.RegistryStr()
	c.mu.Lock()
	rs := c.regs[host]
	if rs == nil {
		rs = &registryState{scheme: "https"}
		if c.o.insecure[host] {
			rs.scheme = "http"
		}
		c.regs[host] = rs
	}
	c.mu.Unlock()

	rs.mu.Lock()
	defer rs.mu.Unlock()
	if rs.ch == nil {
		ch, err := c.ping(ctx, reg, rs.scheme)
		if err != nil {
			return nil, err
		}
		rs.ch = ch
	}
	return rs, nil
}

// repo returns an authenticated client for a repository. A read uses the push
// client when one exists already, since push tokens include pull.
func (c *Client) repo(ctx context.Context, repo name.Repository, push bool) (*repoClient, error) {
	push = push || c.o.writeAccess
	key := repo.Name()
	c.mu.Lock()
	st := c.repos[key]
	if st == nil {
		st = &repoState{}
		c.repos[key] = st
	}
	c.mu.Unlock()

	st.mu.Lock()
	defer st.mu.Unlock()
	if st.push != nil {
		return st.push, nil
	}
	if !push && st.pull != nil {
		return st.pull, nil
	}
	rs, err := c.registry(ctx, repo.Registry)
	if err != nil {
		return nil, err
	}
	scope := repo.Scope(transport.PullScope)
	if push {
		scope = repo.Scope(transport.PushScope)
	}
	rt, err := c.authTransport(ctx, repo, rs.ch, []string{scope})
	if err != nil {
		return nil, err
	}
	rc := &repoClient{
		repo:  repo,
		reg:   rs,
		state: st,
		http:  &http.Client{Transport: rt, CheckRedirect: noDowngradeRedirects},
		base:  rs.scheme + "://" + repo.RegistryStr() + "/v2/" + repo.RepositoryStr(),
	}
	if push {
		st.push = rc
	} else {
		st.pull = rc
	}
	return rc, nil
}

// response is a fully read registry response.
type response struct {
	status int
	header http.Header
	body   []byte
	url    *url.URL // of the request, for resolving Location
}

// errTooLarge is returned when a response body exceeds its limit.
var errTooLarge = errors.New("response body too large")

// call performs the request mk builds, retrying transient failures (a fresh
// request per attempt), and reads at most limit bytes of the body. A status not
// in ok is a *RegistryError.
func (c *Client) call(ctx context.Context, hc *http.Client, mk func() (*http.Request, error), limit int64, ok ...int) (*response, error) {
	var out *response
	err := c.retry(ctx, func() (bool, error) {
		req, err := mk()
		if err != nil {
			return false, err
		}
		resp, err := hc.Do(req)
		if err != nil {
			return retryableError(ctx, err), redactError(err)
		}
		defer resp.Body.Close()
		if !slices.Contains(ok, resp.StatusCode) {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
			rerr := newRegistryError(req, resp, body)
			return retryableStatus(resp.StatusCode), &retryAfterError{RegistryError: rerr, after: retryAfter(resp)}
		}
		var body []byte
		if req.Method != http.MethodHead {
			body, err = io.ReadAll(io.LimitReader(resp.Body, limit+1))
			if err != nil {
				return retryableError(ctx, err), fmt.Errorf("reading response of %s %s: %w", req.Method, redactURL(req.URL), redactError(err))
			}
			if int64(len(body)) > limit {
				return false, fmt.Errorf("%s %s: %w (limit %d bytes)", req.Method, redactURL(req.URL), errTooLarge, limit)
			}
		}
		out = &response{status: resp.StatusCode, header: resp.Header, body: body, url: req.URL}
		return false, nil
	})
	var ra *retryAfterError
	if errors.As(err, &ra) {
		return nil, ra.RegistryError
	}
	return out, err
}

// retryAfterError carries a 429's Retry-After to the backoff loop.
type retryAfterError struct {
	*RegistryError
	after time.Duration
}

func (e *retryAfterError) Unwrap() error { return e.RegistryError }

func retryAfter(resp *http.Response) time.Duration {
	v := resp.Header.Get("Retry-After")
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return time.Until(t)
	}
	return 0
}

// retry runs f until it succeeds, says not to retry, or the attempts run out,
// sleeping with jittered exponential backoff in between. It is not
// go-containerregistry's transport.NewRetry, which would cost no more
// requests but replays the same *http.Request (an upload body already read),
// leaves the bodies of the responses it retries open, and ignores a 429's
// Retry-After.
func (c *Client) retry(ctx context.Context, f func() (again bool, err error)) error {
	delay := c.o.backoff
	for attempt := 1; ; attempt++ {
		again, err := f()
		if err == nil {
			return nil
		}
		if !again || attempt >= c.o.attempts || ctx.Err() != nil {
			return err
		}
		wait := delay/2 + rand.N(delay/2+1)
		var ra *retryAfterError
		if errors.As(err, &ra) && ra.after > wait {
			wait = min(ra.after, c.o.maxBackoff)
		}
		c.o.log.Debug("retrying registry request", "attempt", attempt, "wait", wait, "error", err)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		delay = min(delay*2, c.o.maxBackoff)
	}
}

func retryableStatus(code int) bool {
	switch code {
	case http.StatusRequestTimeout, http.StatusTooManyRequests,
		http.StatusInternalServerError, http.StatusBadGateway,
		http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// retryableError reports whether a failed exchange is worth repeating: network
// failures are, certificate problems and cancellations are not.
func retryableError(ctx context.Context, err error) bool {
	if ctx.Err() != nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var te *transport.Error
	if errors.As(err, &te) {
		return retryableStatus(te.StatusCode)
	}
	var (
		unknownAuthority x509.UnknownAuthorityError
		hostname         x509.HostnameError
		invalid          x509.CertificateInvalidError
		record           tls.RecordHeaderError
		verify           *tls.CertificateVerificationError
	)
	if errors.As(err, &unknownAuthority) || errors.As(err, &hostname) || errors.As(err, &invalid) ||
		errors.As(err, &record) || errors.As(err, &verify) {
		return false
	}
	// Go's transport reports a plain HTTP answer to a TLS handshake only as text.
	if strings.Contains(err.Error(), "server gave HTTP response to HTTPS client") {
		return false
	}
	var ue *url.Error
	return errors.As(err, &ue) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)
}
