package testbed

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Rekor is a running Rekor transparency log on loopback: a Rekor v2 log (StartRekor) or a Rekor
// v1 log (StartRekorV1). Every instance has a new signing key, so a trusted root must come from
// the same instance (see TrustedRootWithRekor).
//
// Rekor v2 (rekor-tiles' POSIX server) keeps its tiles and checkpoints in a temporary
// directory. It answers an upload with the entry, an inclusion proof and a signed checkpoint, but
// gives no signed entry timestamp and no integrated time: signatures it logs need an RFC 3161
// timestamp to prove when they were made. It serves only the write API over HTTP; its tiles and
// checkpoint are files under Dir.
//
// Rekor v1 is the API rekor.sigstore.dev serves; see StartRekorV1.
type Rekor struct {
	// Version is the major version of the log's API, 1 or 2: what signing configs give as the
	// log's majorApiVersion and signers as their Rekor version.
	Version int
	// URL is the base URL, "http://127.0.0.1:PORT": what signers call the Rekor URL (sigstore-go
	// posts to URL+"/api/v2/log/entries", or "/api/v1/log/entries" for v1) and what the trusted
	// root's baseUrl must be.
	URL string
	// Origin is the checkpoint origin. For v2 it is the URL's host: sigstore-go takes the origin
	// from the trusted root's baseUrl when it checks a v2 checkpoint, so the two must agree. For
	// v1 it is "HOST:PORT - TREEID", the form rekor.sigstore.dev's checkpoints have, which
	// verifiers do not compare with anything.
	Origin string
	// PublicKey is the key that signs checkpoints (and, for v1, signed entry timestamps).
	PublicKey crypto.PublicKey
	// LogID is the log's identifier as entries and the trusted root carry it (logId.keyId):
	// for Ed25519 the C2SP signed-note key hash over the origin and the key, for ECDSA the
	// SHA-256 of the DER public key (always the latter for v1).
	LogID []byte
	// Dir is a v2 log's storage: the checkpoint file and the tiles. A v1 log keeps everything in
	// memory and has none.
	Dir string
	// Startup is how long the server took to answer /healthz; for v1, how long Trillian and
	// rekor-server together took to answer.
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
		Version:   2,
		URL:       "http://" + hostPort(ports[0]),
		Origin:    origin,
		PublicKey: o.key.Public(),
		LogID:     logID,
		Dir:       storage,
		Startup:   took,
	}
}

// Checkpoint returns the log's latest signed checkpoint (C2SP tlog-checkpoint): for v2 read from
// its storage, for v1 the signedTreeHead of GET /api/v1/log.
func (r *Rekor) Checkpoint() ([]byte, error) {
	if r.Version == 1 {
		info, err := rekorV1LogInfo(r.URL)
		if err != nil {
			return nil, err
		}
		return []byte(info.SignedTreeHead), nil
	}
	return os.ReadFile(filepath.Join(r.Dir, "checkpoint"))
}

// StartRekorV1 starts a Rekor v1 log (rekor-server v1.5.3) with an empty tree and stops it when
// the test ends. Rekor v1 needs a Trillian log server: StartRekorV1 first starts trillian-memory
// (.ci/trillian-memory: Trillian's log server, admin server and sequencer in one process on
// in-memory storage), then rekor-server, which creates and initialises its own tree in it.
//
// Rekor v1 answers an upload (POST /api/v1/log/entries, hashedrekord, dsse, intoto and the other
// kinds) with the entry, its logIndex, an integratedTime and a signed entry timestamp (SET,
// verificationmaterial's inclusionPromise) over them, plus an inclusion proof: the SET proves when
// the entry was logged, so verifiers need no RFC 3161 timestamp. Its quirks here:
//   - The signer is rekor-server's "memory" one, a new ECDSA P-256 key every start, served at
//     GET /api/v1/log/publicKey; LogID is the SHA-256 of its DER form, as on the public instance.
//   - No Redis: the search API (POST /api/v1/index/retrieve, which cosign uses to find an entry
//     by artifact hash when a signature carries no bundle) is off and answers 404. Entries are
//     found by UUID or index (GET /api/v1/log/entries/UUID, ?logIndex=N) and
//     POST /api/v1/log/entries/retrieve.
//   - Trillian's in-memory storage does not deduplicate: uploading the same entry twice logs it
//     twice, where the public instance answers 409 Conflict with the existing entry.
//   - Uploads wait for the sequencer, which runs every 50ms, so one takes tens of milliseconds.
//   - The binary is patched at build time to put its metrics listener on an ephemeral loopback
//     port: rekor-server binds :2112 unconditionally otherwise, the port StartTSA needs.
func StartRekorV1(t testing.TB) *Rekor {
	t.Helper()
	trillianBin := Bin(t, BinTrillian)
	rekorBin := Bin(t, BinRekorV1)
	dir := t.TempDir()
	start := time.Now()
	tports, _ := launch(t, spec{
		name:  "trillian-memory",
		bin:   trillianBin,
		dir:   dir,
		ports: 2, // gRPC (log and admin APIs) and HTTP (/healthz)
		args: func(ports []int) ([]string, error) {
			return []string{
				"--grpc-addr", hostPort(ports[0]),
				"--http-addr", hostPort(ports[1]),
				"--sequencer-interval", "50ms",
			}, nil
		},
		ready: func(ports []int) string { return "http://" + hostPort(ports[1]) + "/healthz" },
	})
	ports, _ := launch(t, spec{
		name:  "rekor-server-v1",
		bin:   rekorBin,
		dir:   dir,
		ports: 1,
		args: func(ports []int) ([]string, error) {
			// An explicit, empty config file keeps viper from reading ~/.rekor-server.yaml.
			cfg := filepath.Join(dir, "rekor-server.yaml")
			if err := os.WriteFile(cfg, nil, 0o600); err != nil {
				return nil, fmt.Errorf("writing config: %w", err)
			}
			return []string{"serve",
				"--config", cfg,
				"--rekor_server.address", "127.0.0.1", "--port", fmt.Sprint(ports[0]),
				// the checkpoint origin is "HOSTNAME - TREEID"; the default is the machine's name
				"--rekor_server.hostname", hostPort(ports[0]),
				"--rekor_server.signer", "memory",
				"--trillian_log_server.address", "127.0.0.1",
				"--trillian_log_server.port", fmt.Sprint(tports[0]),
				// No tlog_id: rekor-server creates a tree. No Redis: both switches must drop the
				// search index (the deprecated flag defaults to true on its own).
				"--enable_retrieve_api=false",
				"--enabled_api_endpoints", "getLogInfo,getPublicKey,getLogProof,createLogEntry," +
					"getLogEntryByIndex,getLogEntryByUUID,searchLogQuery",
				"--log_type", "dev",
			}, nil
		},
		// rekor-server serves only once it has created its tree in Trillian.
		ready: func(ports []int) string { return "http://" + hostPort(ports[0]) + "/api/v1/log" },
	})
	took := time.Since(start)
	url := "http://" + hostPort(ports[0])
	block, _ := pem.Decode(getPEM(t, url+"/api/v1/log/publicKey"))
	if block == nil || block.Type != "PUBLIC KEY" {
		t.Fatalf("GET %s/api/v1/log/publicKey: no PEM public key", url)
	}
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		t.Fatalf("parsing Rekor v1's public key: %v", err)
	}
	logID, err := rekorLogID("", pub)
	if err != nil {
		t.Fatalf("computing Rekor v1's log ID: %v", err)
	}
	info, err := rekorV1LogInfo(url)
	if err != nil {
		t.Fatal(err)
	}
	origin, _, _ := strings.Cut(info.SignedTreeHead, "\n")
	return &Rekor{
		Version:   1,
		URL:       url,
		Origin:    origin,
		PublicKey: pub,
		LogID:     logID,
		Startup:   took,
	}
}

// rekorV1Info is the part of GET /api/v1/log the testbed reads.
type rekorV1Info struct {
	TreeID         string `json:"treeID"`
	TreeSize       int64  `json:"treeSize"`
	SignedTreeHead string `json:"signedTreeHead"`
}

func rekorV1LogInfo(baseURL string) (*rekorV1Info, error) {
	resp, err := http.Get(baseURL + "/api/v1/log")
	if err != nil {
		return nil, fmt.Errorf("getting Rekor v1's log info: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("getting Rekor v1's log info: status %d", resp.StatusCode)
	}
	var info rekorV1Info
	if err := json.NewDecoder(resp.Body).Decode(&info); err != nil {
		return nil, fmt.Errorf("decoding Rekor v1's log info: %w", err)
	}
	return &info, nil
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
