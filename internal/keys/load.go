package keys

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
)

// Option configures Load and LoadPublic.
type Option func(*options) error

type options struct {
	password  func() ([]byte, error)
	lookupEnv func(string) (string, bool)
	transport http.RoundTripper
}

func makeOptions(opts []Option) (*options, error) {
	o := &options{lookupEnv: os.LookupEnv}
	for _, opt := range opts {
		if err := opt(o); err != nil {
			return nil, err
		}
	}
	return o, nil
}

// WithPassword sets how the password of an encrypted cosign key is obtained
// (the CLI reads COSIGN_PASSWORD or prompts). It is called at most once per
// Load, and only for encrypted keys. Without it, encrypted keys are tried
// with the empty password, which cosign allows.
func WithPassword(f func() ([]byte, error)) Option {
	return func(o *options) error {
		if f == nil {
			return errors.New("keys.WithPassword: nil password function")
		}
		o.password = f
		return nil
	}
}

// WithLookupEnv replaces os.LookupEnv for env:// references, for the
// VAULT_ADDR, VAULT_TOKEN (or BAO_ADDR, BAO_TOKEN) and
// TRANSIT_SECRET_ENGINE_PATH settings of hashivault:// keys, and for the AWS_*
// settings (and HOME, for ~/.aws) of awskms:// keys.
func WithLookupEnv(f func(string) (string, bool)) Option {
	return func(o *options) error {
		if f == nil {
			return errors.New("keys.WithLookupEnv: nil lookup function")
		}
		o.lookupEnv = f
		return nil
	}
}

// WithTransport sets the HTTP transport of KMS clients that accept one
// (awskms://: every call, to KMS and to the credential sources). sigstore's
// Vault client builds its own and ignores it. The transport owns TLS: both
// AWS client refuses it while AWS_CA_BUNDLE is set.
func WithTransport(rt http.RoundTripper) Option {
	return func(o *options) error {
		if rt == nil {
			return errors.New("keys.WithTransport: nil transport")
		}
		o.transport = rt
		return nil
	}
}

// maxKeyFile bounds how much of a key file is read; cosign keys are under
// 1 KiB, so anything near this is not a key.
const maxKeyFile = 1 << 20

// Load loads a signing key from ref:
//
//   - a path to a PEM file: cosign.key (encrypted, see WithPassword), or a
//     plain PKCS#8, EC or RSA private key;
//   - env://NAME: the PEM (or base64 of the PEM) in environment variable NAME;
//   - hashivault://KEY or openbao://KEY: a Vault transit key;
//   - awskms://[ENDPOINT]/ID|ALIAS|ARN: an AWS KMS key.
//
// Decryption happens once; the Keypair is reusable and safe for concurrent
// use.
func Load(ctx context.Context, ref string, opts ...Option) (*Keypair, error) {
	o, err := makeOptions(opts)
	if err != nil {
		return nil, err
	}
	kp, err := load(ctx, ref, o)
	if err != nil {
		return nil, fmt.Errorf("loading signing key %s: %w", describeRef(ref), err)
	}
	return kp, nil
}

func load(ctx context.Context, ref string, o *options) (*Keypair, error) {
	r, err := parseRef(ref)
	if err != nil {
		return nil, err
	}
	if r.kms {
		sv, pub, err := openKMS(ctx, r.scheme, ref, o)
		if err != nil {
			return nil, err
		}
		return newKeypair(kmsBackend{sv: sv}, pub)
	}
	data, err := r.read(o)
	if err != nil {
		return nil, err
	}
	defer clear(data)
	return parsePrivateKey(data, o)
}

// LoadPublic loads a verification key from ref: a PEM public key file such
// as cosign.pub, env://NAME, or a KMS URI as accepted by Load.
func LoadPublic(ctx context.Context, ref string, opts ...Option) (*PublicKey, error) {
	o, err := makeOptions(opts)
	if err != nil {
		return nil, err
	}
	pub, err := loadPublic(ctx, ref, o)
	if err != nil {
		return nil, fmt.Errorf("loading public key %s: %w", describeRef(ref), err)
	}
	return pub, nil
}

func loadPublic(ctx context.Context, ref string, o *options) (*PublicKey, error) {
	r, err := parseRef(ref)
	if err != nil {
		return nil, err
	}
	if r.kms {
		_, pub, err := openKMS(ctx, r.scheme, ref, o)
		if err != nil {
			return nil, err
		}
		return newPublicKey(pub)
	}
	data, err := r.read(o)
	if err != nil {
		return nil, err
	}
	return ParsePublicKey(data)
}

// CheckRef checks what can be checked of a key reference without a
// network call or a password: its syntax, and for a key file that it can
// be opened and is small enough to be a key. A command calls it before it
// touches the network, so that a typo fails in milliseconds.
func CheckRef(ref string) error {
	r, err := parseRef(ref)
	if err != nil {
		return err
	}
	if r.scheme != "" {
		return nil
	}
	f, err := os.Open(r.path)
	if err != nil {
		return fmt.Errorf("reading key file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("reading key file: %w", err)
	}
	if fi.IsDir() {
		return fmt.Errorf("reading key file: %s is a directory", r.path)
	}
	if fi.Size() > maxKeyFile {
		return fmt.Errorf("reading key file: larger than %d bytes, not a key", maxKeyFile)
	}
	return nil
}

// keyRef is a parsed key reference.
type keyRef struct {
	scheme string // "" for a file
	path   string // file path, or variable name for env://
	kms    bool
}

var (
	schemeRE  = regexp.MustCompile(`^([a-z][a-z0-9+.-]*)://`)
	envNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

func parseRef(s string) (keyRef, error) {
	if s == "" {
		return keyRef{}, errors.New("no key given")
	}
	if looksLikeKeyMaterial(s) {
		return keyRef{}, errors.New("the key reference looks like key material, not a path or URI; to read a key from a variable use env://NAME")
	}
	m := schemeRE.FindStringSubmatch(s)
	if m == nil {
		if strings.HasPrefix(s, "pkcs11:") {
			return keyRef{}, errors.New("PKCS#11 keys are not supported")
		}
		return keyRef{path: s}, nil
	}
	scheme, rest := m[1], s[len(m[0]):]
	switch scheme {
	case "env":
		if !envNameRE.MatchString(rest) {
			return keyRef{}, fmt.Errorf("env://%s: not a valid environment variable name", rest)
		}
		return keyRef{scheme: scheme, path: rest}, nil
	case "hashivault", "openbao", "awskms":
		return keyRef{scheme: scheme, kms: true}, nil
	case "gcpkms", "azurekms":
		return keyRef{}, fmt.Errorf("%s:// keys are not supported; use hashivault://, awskms://, env:// or a key file", scheme)
	case "k8s", "gitlab":
		return keyRef{}, fmt.Errorf("cosign's %s:// key references are not supported; expose the key as a CI variable and use env://NAME", scheme)
	default:
		return keyRef{}, fmt.Errorf("unknown key reference scheme %s://", scheme)
	}
}

func (r keyRef) read(o *options) ([]byte, error) {
	if r.scheme == "env" {
		return readEnv(r.path, o)
	}
	f, err := os.Open(r.path)
	if err != nil {
		return nil, fmt.Errorf("reading key file: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFile+1))
	if err != nil {
		return nil, fmt.Errorf("reading key file: %w", err)
	}
	if len(data) > maxKeyFile {
		return nil, fmt.Errorf("reading key file: larger than %d bytes, not a key", maxKeyFile)
	}
	return data, nil
}

// readEnv reads a PEM key from an environment variable. CI systems that mask
// secrets (GitLab) need them on one line, so people store the PEM base64
// encoded; both forms are accepted.
func readEnv(name string, o *options) ([]byte, error) {
	v, ok := o.lookupEnv(name)
	if !ok {
		return nil, fmt.Errorf("environment variable %s is not set", name)
	}
	v = strings.TrimSpace(v)
	if v == "" {
		return nil, fmt.Errorf("environment variable %s is empty", name)
	}
	if strings.Contains(v, "-----BEGIN") {
		return []byte(v), nil
	}
	dec, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(v), ""))
	if err != nil || !bytes.Contains(dec, []byte("-----BEGIN")) {
		// Neither the value nor the decoding error goes into the message:
		// both could reveal part of a secret.
		return nil, fmt.Errorf("environment variable %s holds neither a PEM key nor a base64-encoded one", name)
	}
	return dec, nil
}

// looksLikeKeyMaterial catches a key pasted where a path belongs (for
// example --key "$COSIGN_PRIVATE_KEY"), so that it is never echoed in an
// error message.
func looksLikeKeyMaterial(s string) bool {
	return len(s) > 1024 ||
		strings.ContainsAny(s, "\n\r") ||
		strings.Contains(s, "-----BEGIN") ||
		strings.Contains(s, "LS0tLS1CRUdJT") // base64 of "-----BEGIN"
}

// describeRef names ref for an error message, never echoing something that
// might be a secret.
func describeRef(s string) string {
	if looksLikeKeyMaterial(s) {
		return "(redacted)"
	}
	return fmt.Sprintf("%q", s)
}
