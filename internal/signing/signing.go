package signing

import (
	"context"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	"github.com/sigstore/sigstore-go/pkg/sign"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/sealsign/seal/internal/limits"
	"github.com/sealsign/seal/internal/oidc"
)

// Services names the Sigstore instance to use. Empty URLs are not used.
type Services struct {
	FulcioURL    string
	RekorURL     string
	RekorVersion uint32 // 1 (default) or 2
	TSAURL       string // full URL, e.g. https://timestamp.sigstore.dev/api/v1/timestamp
}

type options struct {
	services  Services
	transport http.RoundTripper
	timeout   time.Duration
	now       func() time.Time
}

// Option configures a Signer.
type Option func(*options) error

// WithServices selects the Fulcio, Rekor and timestamp authority.
func WithServices(s Services) Option {
	return func(o *options) error {
		for _, u := range []string{s.FulcioURL, s.RekorURL, s.TSAURL} {
			if u != "" && !strings.HasPrefix(u, "https://") && !strings.HasPrefix(u, "http://") {
				return fmt.Errorf("service URL %q must start with https://", u)
			}
		}
		if s.RekorVersion > 2 {
			return fmt.Errorf("unsupported Rekor API version %d", s.RekorVersion)
		}
		o.services = s
		return nil
	}
}

// WithTransport sets the HTTP transport for Fulcio and the TSA.
func WithTransport(t http.RoundTripper) Option {
	return func(o *options) error { o.transport = t; return nil }
}

// WithTimeout bounds each service request (default 30s).
func WithTimeout(d time.Duration) Option {
	return func(o *options) error { o.timeout = d; return nil }
}

func makeOptions(opts []Option) (*options, error) {
	o := &options{transport: limits.Default(), timeout: 30 * time.Second, now: time.Now}
	for _, opt := range opts {
		if err := opt(o); err != nil {
			return nil, err
		}
	}
	return o, nil
}

// Signer signs payloads with one key and, keyless, one certificate.
type Signer struct {
	keypair  sign.Keypair
	pending  *pendingKey // a key still loading (NewKeyedAsync); nil once known
	certs    *cachedCert // nil for keyed signers
	tsa      *sign.TimestampAuthority
	tlog     sign.Transparency
	services Services
}

// ErrNoFulcio is returned for keyless signing without a Fulcio URL.
var ErrNoFulcio = errors.New("keyless signing needs a Fulcio URL")

// NewKeyless makes a signer that proves the CI identity in tok with a
// Fulcio certificate for an ephemeral key. The certificate is requested
// on first use, once.
func NewKeyless(tok *oidc.Token, opts ...Option) (*Signer, error) {
	o, err := makeOptions(opts)
	if err != nil {
		return nil, err
	}
	if o.services.FulcioURL == "" {
		return nil, ErrNoFulcio
	}
	if tok == nil {
		return nil, fmt.Errorf("keyless signing needs an identity token: %w", oidc.ErrNoToken)
	}
	kp, err := sign.NewEphemeralKeypair(nil)
	if err != nil {
		return nil, fmt.Errorf("generating ephemeral key: %w", err)
	}
	s := newSigner(kp, o)
	s.certs = &cachedCert{
		fulcio:  sign.NewFulcio(&sign.FulcioOptions{BaseURL: o.services.FulcioURL, Timeout: o.timeout, Retries: 2, Transport: o.transport}),
		idToken: tok.Raw,
		issuer:  tok.Claims.Issuer(),
	}
	return s, nil
}

// NewKeyed makes a signer for a long-lived key (package keys). Its bundles
// carry a public-key hint instead of a certificate.
func NewKeyed(kp sign.Keypair, opts ...Option) (*Signer, error) {
	if kp == nil {
		return nil, errors.New("keyed signing needs a key")
	}
	o, err := makeOptions(opts)
	if err != nil {
		return nil, err
	}
	return newSigner(kp, o), nil
}

// NewKeyedAsync is NewKeyed for a key that takes time to load: decrypting a
// cosign key runs scrypt, a CPU-bound fraction of a second. load starts at
// once in the background, and the first operation that needs the key waits
// for it, so that the work before the first signature (registry reads,
// provenance) overlaps it. A load error is returned by that operation.
func NewKeyedAsync(load func() (sign.Keypair, error), opts ...Option) (*Signer, error) {
	o, err := makeOptions(opts)
	if err != nil {
		return nil, err
	}
	s := newSigner(nil, o)
	s.pending = &pendingKey{done: make(chan struct{})}
	go func() {
		defer close(s.pending.done)
		kp, err := load()
		if err == nil && kp == nil {
			err = errors.New("keyed signing needs a key")
		}
		s.pending.kp, s.pending.err = kp, err
	}()
	return s, nil
}

// pendingKey is a key being loaded in the background.
type pendingKey struct {
	done chan struct{}
	kp   sign.Keypair
	err  error
}

// key returns the signing key, waiting for it if it is still loading.
func (s *Signer) key() (sign.Keypair, error) {
	if s.pending == nil {
		return s.keypair, nil
	}
	<-s.pending.done
	return s.pending.kp, s.pending.err
}

func newSigner(kp sign.Keypair, o *options) *Signer {
	s := &Signer{keypair: kp, services: o.services}
	if o.services.TSAURL != "" {
		s.tsa = sign.NewTimestampAuthority(&sign.TimestampAuthorityOptions{URL: o.services.TSAURL, Timeout: o.timeout, Retries: 2, Transport: o.transport})
	}
	if o.services.RekorURL != "" {
		v := o.services.RekorVersion
		if v == 0 {
			v = 1
		}
		s.tlog = sign.NewRekor(&sign.RekorOptions{BaseURL: o.services.RekorURL, Timeout: o.timeout, Retries: 2, Version: v})
	}
	return s
}

// Keyless reports whether signatures carry a Fulcio certificate.
func (s *Signer) Keyless() bool { return s.certs != nil }

// Services returns the services the signer uses.
func (s *Signer) Services() Services { return s.services }

// Result is one signature and the bundle that carries it.
type Result struct {
	Bundle *protobundle.Bundle
	// JSON is the bundle in its canonical JSON form.
	JSON []byte
	// Signature is the raw signature.
	Signature []byte
	// Envelope is the DSSE envelope as JSON (DSSE results only): what
	// cosign's legacy .att layers hold.
	Envelope []byte
}

// TlogEntry says where a signature was logged.
type TlogEntry struct {
	LogIndex int64  `json:"logIndex"`
	LogID    string `json:"logId"` // hex
	// IntegratedTime is when the log took the entry (Unix seconds); Rekor
	// v2 records none.
	IntegratedTime int64 `json:"integratedTime,omitempty"`
}

// Tlog returns the transparency-log entry of r's signature, or nil when it
// was not logged.
func (r *Result) Tlog() *TlogEntry {
	if r == nil {
		return nil
	}
	es := r.Bundle.GetVerificationMaterial().GetTlogEntries()
	if len(es) == 0 {
		return nil
	}
	return &TlogEntry{LogIndex: es[0].GetLogIndex(), LogID: hex.EncodeToString(es[0].GetLogId().GetKeyId()), IntegratedTime: es[0].GetIntegratedTime()}
}

// SignDSSE signs payload as a DSSE envelope of payloadType.
func (s *Signer) SignDSSE(ctx context.Context, payloadType string, payload []byte) (*Result, error) {
	r, err := s.bundle(ctx, &sign.DSSEData{Data: payload, PayloadType: payloadType})
	if err != nil {
		return nil, err
	}
	env := r.Bundle.GetDsseEnvelope()
	if env == nil || len(env.GetSignatures()) == 0 {
		return nil, errors.New("signing produced no DSSE envelope")
	}
	r.Signature = env.GetSignatures()[0].GetSig()
	// The legacy .att layer must be these exact bytes: a Rekor v1 dsse
	// entry hashes the envelope as sigstore-go submitted it (encoding/json
	// of this struct), and cosign v2 checks that hash against the layer.
	if r.Envelope, err = json.Marshal(env); err != nil {
		return nil, fmt.Errorf("encoding DSSE envelope: %w", err)
	}
	return r, nil
}

// SignMessage signs payload as a plain message (cosign's simple-signing
// signatures); the bundle holds only the payload's digest.
func (s *Signer) SignMessage(ctx context.Context, payload []byte) (*Result, error) {
	r, err := s.bundle(ctx, &sign.PlainData{Data: payload})
	if err != nil {
		return nil, err
	}
	r.Signature = r.Bundle.GetMessageSignature().GetSignature()
	return r, nil
}

func (s *Signer) bundle(ctx context.Context, content sign.Content) (*Result, error) {
	opts := sign.BundleOptions{Context: ctx}
	if s.certs != nil {
		opts.CertificateProvider = s.certs
		opts.CertificateProviderOptions = &sign.CertificateProviderOptions{IDToken: s.certs.idToken}
	}
	if s.tsa != nil {
		opts.TimestampAuthorities = []*sign.TimestampAuthority{s.tsa}
	}
	if s.tlog != nil {
		opts.TransparencyLogs = []sign.Transparency{s.tlog}
	}
	kp, err := s.key()
	if err != nil {
		return nil, err
	}
	b, err := sign.Bundle(content, kp, opts)
	if err != nil {
		return nil, s.explain(err)
	}
	j, err := protojson.Marshal(b)
	if err != nil {
		return nil, fmt.Errorf("encoding bundle: %w", err)
	}
	return &Result{Bundle: b, JSON: j}, nil
}

// explain turns service errors into actionable ones, never echoing the token.
func (s *Signer) explain(err error) error {
	msg := err.Error()
	if s.certs != nil {
		msg = oidc.Redact(msg, s.certs.idToken)
	}
	switch {
	case s.certs != nil && strings.Contains(msg, "fulcio"), s.certs != nil && s.certs.failed():
		return fmt.Errorf("getting a signing certificate from Fulcio at %s for issuer %s: %s", s.services.FulcioURL, s.certs.issuer, msg)
	}
	return fmt.Errorf("signing: %s", msg)
}

// Timestamp asks the timestamp authority to timestamp data; cosign's
// legacy attestations timestamp the whole envelope, not the signature.
func (s *Signer) Timestamp(ctx context.Context, data []byte) ([]byte, error) {
	if s.tsa == nil {
		return nil, nil
	}
	ts, err := s.tsa.GetTimestamp(ctx, data)
	if err != nil {
		return nil, fmt.Errorf("getting a timestamp from %s: %w", s.services.TSAURL, err)
	}
	return ts, nil
}

// CertificatePEM returns the keyless signer's certificate, or nil for keys.
// It is only known after the first signature.
func (s *Signer) CertificatePEM() []byte {
	if s.certs == nil {
		return nil
	}
	der := s.certs.der()
	if der == nil {
		return nil
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// Certificate returns the parsed keyless certificate, after the first signature.
func (s *Signer) Certificate() *x509.Certificate {
	if s.certs == nil || s.certs.der() == nil {
		return nil
	}
	c, err := x509.ParseCertificate(s.certs.der())
	if err != nil {
		return nil
	}
	return c
}

// PublicKeyPEM returns the signing key's public half.
func (s *Signer) PublicKeyPEM() (string, error) {
	kp, err := s.key()
	if err != nil {
		return "", err
	}
	return kp.GetPublicKeyPem()
}

// cachedCert asks Fulcio once and hands the same certificate to every
// signature of this process, so N attestations cost one Fulcio round trip.
type cachedCert struct {
	fulcio  *sign.Fulcio
	idToken string
	issuer  string

	mu    sync.Mutex
	cert  []byte
	err   error
	tried bool
}

// GetCertificate implements sign.CertificateProvider.
func (c *cachedCert) GetCertificate(ctx context.Context, kp sign.Keypair, opts *sign.CertificateProviderOptions) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cert != nil {
		return c.cert, nil
	}
	cert, err := c.fulcio.GetCertificate(ctx, kp, opts)
	c.tried = true
	if err != nil {
		c.err = err
		return nil, err
	}
	c.cert, c.err = cert, nil
	return cert, nil
}

func (c *cachedCert) der() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cert
}

func (c *cachedCert) failed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.tried && c.err != nil
}
