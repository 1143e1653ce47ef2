package testbed

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Rekor is a running Rekor v2 transparency log (rekor-tiles' POSIX server) on loopback, keeping
// its tiles and checkpoints in a temporary directory. Every instance has a new signing key, so a
// trusted root must come from the same instance (see TrustedRootWithRekor).
//
// Rekor v2 answers an upload with the entry, an inclusion proof and a signed checkpoint, but
// gives no signed entry timestamp and no integrated time: signatures it logs need an RFC 3161
// timestamp to prove when they were made. It serves only the write API over HTTP; its tiles
// and checkpoint are files under Dir.
type Rekor struct {
	// URL is the base URL, "http://127.0.0.1:PORT": what signers call the Rekor URL (sigstore-go
	// posts to URL+"/api/v2/log/entries") and what the trusted root's baseUrl must be.
	URL string
	// Origin is the checkpoint origin, the URL's host. sigstore-go takes the origin from the
	// trusted root's baseUrl when it checks a v2 checkpoint, so the two must agree.
	Origin string
	// PublicKey is the key that signs checkpoints.
	PublicKey crypto.PublicKey
	// LogID is the log's identifier as entries and the trusted root carry it (logId.keyId):
	// for Ed25519 the C2SP signed-note key hash over the origin and the key, for ECDSA the
	// SHA-256 of the DER public key.
	LogID []byte
	// Dir is the log's storage: the checkpoint file and the tiles.
	Dir string
	// Startup is how long the server took to answer /healthz.
	Startup time.Duration
}

type rekorOptions struct {
	key crypto.Signer
}

// RekorOption configures StartRekor.
type RekorOption func(*rekorOptions)

// WithRekorKey makes the log sign checkpoints with key (Ed25519 or ECDSA; the default is a new
// Ed25519 key, as the public Rekor v2 instances use).
func WithRekorKey(key crypto.Signer) RekorOption {
	return func(o *rekorOptions) { o.key = key }
}

// StartRekor starts a Rekor v2 log with empty storage and stops it when the test ends. It
// accepts entries signed with ECDSA, Ed25519 and RSA keys.
func StartRekor(t testing.TB, opts ...RekorOption) *Rekor {
	t.Helper()
	o := &rekorOptions{}
	for _, opt := range opts {
		opt(o)
	}
	bin := Bin(t, BinRekorV2)
	if o.key == nil {
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatalf("generating the log's key: %v", err)
		}
		o.key = priv
	}
	const origin = "127.0.0.1"
	logID, err := rekorLogID(origin, o.key.Public())
	if err != nil {
		t.Fatalf("computing the log ID: %v", err)
	}
	dir := t.TempDir()
	keyPath := filepath.Join(dir, "signer.pem")
	der, err := x509.MarshalPKCS8PrivateKey(o.key)
	if err != nil {
		t.Fatalf("encoding the log's key: %v", err)
	}
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatalf("writing the log's key: %v", err)
	}
	storage := filepath.Join(dir, "log")
	ports, took := launch(t, spec{
		name: "rekor-server",
		bin:  bin,
		dir:  dir,
		// HTTP, gRPC (the HTTP API is a gateway in front of it) and metrics, which defaults to
		// 2112 and would collide with the timestamp authority's fixed metrics port.
		ports: 3,
		args: func(ports []int) ([]string, error) {
			// Tessera keeps state in the directory, so a retried start needs a fresh one.
			if err := os.RemoveAll(storage); err != nil {
				return nil, err
			}
			return []string{"serve",
				"--storage-dir", storage,
				"--signer-filepath", keyPath,
				"--hostname", origin,
				"--http-address", "127.0.0.1", "--http-port", fmt.Sprint(ports[0]),
				"--grpc-address", "127.0.0.1", "--grpc-port", fmt.Sprint(ports[1]),
				"--http-metrics-port", fmt.Sprint(ports[2]),
				// An upload returns once a checkpoint covers the entry, and the server looks for
				// one every second; the default 10s interval would make each signature take
				// up to 11s.
				"--checkpoint-interval", "200ms",
				"--batch-max-age", "20ms",
			}, nil
		},
		ready: func(ports []int) string { return "http://" + hostPort(ports[0]) + "/healthz" },
	})
	return &Rekor{
		URL:       "http://" + hostPort(ports[0]),
		Origin:    origin,
		PublicKey: o.key.Public(),
		LogID:     logID,
		Dir:       storage,
		Startup:   took,
	}
}

// Checkpoint returns the log's latest signed checkpoint (C2SP tlog-checkpoint), read from its
// storage.
func (r *Rekor) Checkpoint() ([]byte, error) {
	return os.ReadFile(filepath.Join(r.Dir, "checkpoint"))
}

// rekorLogID computes the log ID the way rekor-tiles does (pkg/note.KeyHash): Ed25519 keys get
// the C2SP signed-note key hash, SHA-256(origin || "\n" || 0x01 || key); ECDSA keys, whose
// note signatures are not standardised, the SHA-256 of the DER public key, like Rekor v1.
func rekorLogID(origin string, pub crypto.PublicKey) ([]byte, error) {
	switch k := pub.(type) {
	case ed25519.PublicKey:
		h := sha256.New()
		h.Write([]byte(origin + "\n"))
		h.Write([]byte{0x01}) // the signed-note signature type of Ed25519
		h.Write(k)
		return h.Sum(nil), nil
	case *ecdsa.PublicKey:
		der, err := x509.MarshalPKIXPublicKey(k)
		if err != nil {
			return nil, err
		}
		h := sha256.Sum256(der)
		return h[:], nil
	default:
		return nil, fmt.Errorf("unsupported log key type %T", pub)
	}
}
