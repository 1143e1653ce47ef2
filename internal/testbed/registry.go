package testbed

import (
	"fmt"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"
)

// RegistryKind names an OCI registry implementation the testbed can start.
type RegistryKind string

const (
	// Distribution is CNCF distribution v3.1.2 (the `registry` binary). It has no OCI referrers
	// API: GET /v2/<name>/referrers/<digest> answers 404, so clients must fall back to the
	// Referrers Tag Schema (sha256-<hex> tags).
	Distribution RegistryKind = "distribution"
	// Olareg is olareg v0.1.2. It serves the OCI referrers API, including the artifactType filter,
	// and indexes any manifest with a subject field.
	Olareg RegistryKind = "olareg"
	// InProcess is go-containerregistry's pkg/registry behind httptest, with its referrers API
	// enabled. It starts in about a millisecond, so it suits fast unit tests. Its referrers API
	// ignores the artifactType filter and answers 404 for a repository it has never seen.
	InProcess RegistryKind = "inprocess"
)

// RegistryKinds lists every kind, for table tests that must pass against all of them.
func RegistryKinds() []RegistryKind { return []RegistryKind{InProcess, Distribution, Olareg} }

// Referrers reports whether registries of this kind serve the OCI referrers API.
func (k RegistryKind) Referrers() bool { return k != Distribution }

// Registry is a running OCI registry on loopback, speaking plain HTTP.
type Registry struct {
	Kind RegistryKind
	// Host is "127.0.0.1:PORT"; go-containerregistry and cosign use plain HTTP for it.
	Host string
	// Startup is how long the registry took to answer GET /v2/.
	Startup time.Duration
}

// Repo returns the reference of repository name on this registry, like "127.0.0.1:5000/name".
func (r *Registry) Repo(name string) string { return r.Host + "/" + name }

// StartRegistry starts a registry of the given kind with empty storage in t.TempDir() and stops
// it when the test ends.
func StartRegistry(t testing.TB, kind RegistryKind) *Registry {
	t.Helper()
	switch kind {
	case InProcess:
		return startInProcess(t)
	case Distribution:
		return startDistribution(t)
	case Olareg:
		return startOlareg(t)
	default:
		t.Fatalf("unknown registry kind %q", kind)
		return nil
	}
}

func startInProcess(t testing.TB) *Registry {
	start := time.Now()
	dir := t.TempDir()
	logPath := filepath.Join(dir, "inprocess.log")
	f, err := os.Create(logPath)
	if err != nil {
		t.Fatalf("creating registry log: %v", err)
	}
	// httptest binds 127.0.0.1:0.
	srv := httptest.NewServer(registry.New(
		registry.Logger(log.New(f, "", log.LstdFlags|log.Lmicroseconds)),
		registry.WithReferrersSupport(true),
	))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("in-process registry log, last lines:\n%s", tail(logPath, 40))
		}
	})
	t.Cleanup(func() {
		srv.Close()
		f.Close()
	})
	return &Registry{Kind: InProcess, Host: srv.Listener.Addr().String(), Startup: time.Since(start)}
}

func startDistribution(t testing.TB) *Registry {
	bin := Bin(t, BinRegistry)
	dir := t.TempDir()
	ports, took := launch(t, spec{
		name:  "distribution",
		bin:   bin,
		dir:   dir,
		ports: 1,
		args: func(ports []int) ([]string, error) {
			cfg := filepath.Join(dir, "config.yml")
			if err := os.WriteFile(cfg, []byte(distributionConfig(dir, ports[0])), 0o600); err != nil {
				return nil, fmt.Errorf("writing config: %w", err)
			}
			return []string{"serve", cfg}, nil
		},
		// Distribution v3 traces every request through OpenTelemetry and would otherwise try to
		// export spans to an OTLP collector on localhost:4318.
		env:   []string{"OTEL_TRACES_EXPORTER=none", "OTEL_METRICS_EXPORTER=none", "OTEL_LOGS_EXPORTER=none", "OTEL_SDK_DISABLED=true"},
		ready: func(ports []int) string { return "http://" + hostPort(ports[0]) + "/v2/" },
	})
	return &Registry{Kind: Distribution, Host: hostPort(ports[0]), Startup: took}
}

func distributionConfig(dir string, port int) string {
	return fmt.Sprintf(`version: 0.1
log:
  level: info
  formatter: text
storage:
  filesystem:
    rootdirectory: %q
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:%d
  secret: seal-testbed
  headers:
    X-Content-Type-Options: [nosniff]
`, filepath.Join(dir, "storage"), port)
}

func startOlareg(t testing.TB) *Registry {
	bin := Bin(t, BinOlareg)
	dir := t.TempDir()
	ports, took := launch(t, spec{
		name:  "olareg",
		bin:   bin,
		dir:   dir,
		ports: 1,
		args: func(ports []int) ([]string, error) {
			return []string{"serve",
				"--addr", "127.0.0.1", "--port", fmt.Sprint(ports[0]),
				"--dir", filepath.Join(dir, "storage"),
				"--api-delete",
				// No garbage collection: tests look at what they pushed, dangling or not.
				"--gc-frequency=-1s",
				"-v", "info",
			}, nil
		},
		ready: func(ports []int) string { return "http://" + hostPort(ports[0]) + "/v2/" },
	})
	return &Registry{Kind: Olareg, Host: hostPort(ports[0]), Startup: took}
}
