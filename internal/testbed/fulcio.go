package testbed

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Fulcio is a running Fulcio CA (`fulcio serve --ca ephemeralca`) on loopback. Its CA key lives in
// memory, so every instance has a new root. It has no CT log: its certificates carry no SCT, so
// signers must not require one (sigstore-go's Fulcio client does not check; cosign needs
// --insecure-skip-verify-sct or a trusted root without ctlogs) and verifiers must not either.
type Fulcio struct {
	// URL is the base URL of the HTTP API, "http://127.0.0.1:PORT" (what signers call the
	// Fulcio URL; sigstore-go posts to URL+"/api/v2/signingCert").
	URL string
	// Startup is how long Fulcio took to serve its root certificate.
	Startup time.Duration

	t testing.TB
}

// StartFulcio starts Fulcio trusting issuer's GitHub and GitLab URLs as the github-workflow and
// gitlab-pipeline CI providers, with the claim-to-extension templates of the public Fulcio
// instance, and stops it when the test ends. Tokens need aud "sigstore".
func StartFulcio(t testing.TB, issuer *Issuer) *Fulcio {
	t.Helper()
	bin := Bin(t, BinFulcio)
	dir := t.TempDir()
	ports, took := launch(t, spec{
		name: "fulcio",
		bin:  bin,
		dir:  dir,
		// HTTP, gRPC (they must differ, or Fulcio switches to a duplex mode) and metrics, which
		// defaults to 2112 and would collide with the timestamp authority's fixed metrics port.
		ports: 3,
		args: func(ports []int) ([]string, error) {
			cfg := filepath.Join(dir, "fulcio.yaml")
			if err := os.WriteFile(cfg, []byte(fulcioConfig(issuer)), 0o600); err != nil {
				return nil, fmt.Errorf("writing config: %w", err)
			}
			return []string{"serve",
				"--ca", "ephemeralca",
				"--config-path", cfg,
				"--host", "127.0.0.1", "--port", fmt.Sprint(ports[0]),
				"--grpc-host", "127.0.0.1", "--grpc-port", fmt.Sprint(ports[1]),
				// Binds every interface (":PORT"); no flag narrows it.
				"--metrics-port", fmt.Sprint(ports[2]),
				// The default is a fixed abstract Unix socket, which a second Fulcio on the
				// machine could not bind.
				"--legacy-unix-domain-socket", fmt.Sprintf("@seal-fulcio-%d", ports[0]),
				// An empty URL turns off CT log submission.
				"--ct-log-url", "",
				"--log_type", "dev",
			}, nil
		},
		ready: func(ports []int) string { return "http://" + hostPort(ports[0]) + "/api/v1/rootCert" },
	})
	return &Fulcio{URL: "http://" + hostPort(ports[0]), Startup: took, t: t}
}

// RootPEM returns Fulcio's CA certificate chain in PEM, as GET /api/v1/rootCert serves it
// (for ephemeralca, a single self-signed root).
func (f *Fulcio) RootPEM() []byte {
	f.t.Helper()
	return getPEM(f.t, f.URL+"/api/v1/rootCert")
}

// RootCerts returns RootPEM parsed, leaf-most first.
func (f *Fulcio) RootCerts() []*x509.Certificate {
	f.t.Helper()
	return parseCerts(f.t, f.RootPEM())
}

func getPEM(t testing.TB, url string) []byte {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading %s: %v", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: status %d: %s", url, resp.StatusCode, bytes.TrimSpace(b))
	}
	return b
}

func parseCerts(t testing.TB, pemBytes []byte) []*x509.Certificate {
	t.Helper()
	var certs []*x509.Certificate
	for rest := pemBytes; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			t.Fatalf("parsing certificate: %v", err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		t.Fatalf("no certificates in %q", pemBytes)
	}
	return certs
}

// fulcioConfig maps the issuer's URLs to CI providers. The ci-issuer-metadata section is copied
// from the public instance's config/identity/config.yaml so that certificates carry the same
// extensions as those issued to real GitHub and GitLab jobs.
func fulcioConfig(issuer *Issuer) string {
	return fmt.Sprintf(`oidc-issuers:
  %[1]q:
    issuer-url: %[1]q
    client-id: sigstore
    type: ci-provider
    ci-provider: github-workflow
    description: "seal testbed: GitHub Actions tokens"
  %[2]q:
    issuer-url: %[2]q
    client-id: sigstore
    type: ci-provider
    ci-provider: gitlab-pipeline
    description: "seal testbed: GitLab tokens"
`, issuer.GitHub, issuer.GitLab) + fulcioCIIssuerMetadata
}

const fulcioCIIssuerMetadata = `ci-issuer-metadata:
  github-workflow:
    default-template-values:
      url: "https://github.com"
      environment: ""
    extension-templates:
      github-workflow-trigger: "event_name"
      github-workflow-sha: "sha"
      github-workflow-name: "workflow"
      github-workflow-repository: "repository"
      github-workflow-ref: "ref"
      build-signer-uri: "{{ .url }}/{{ .job_workflow_ref }}"
      build-signer-digest: "job_workflow_sha"
      runner-environment: "runner_environment"
      source-repository-uri: "{{ .url }}/{{ .repository }}"
      source-repository-digest: "sha"
      source-repository-ref: "ref"
      source-repository-identifier: "repository_id"
      source-repository-owner-uri: "{{ .url }}/{{ .repository_owner }}"
      source-repository-owner-identifier: "repository_owner_id"
      build-config-uri: "{{ .url }}/{{ .workflow_ref }}"
      build-config-digest: "workflow_sha"
      build-trigger: "event_name"
      run-invocation-uri: "{{ .url }}/{{ .repository }}/actions/runs/{{ .run_id }}/attempts/{{ .run_attempt }}"
      source-repository-visibility-at-signing: "repository_visibility"
      deployment-environment: "environment"
    subject-alternative-name-template: "{{ .url }}/{{ .job_workflow_ref }}"
  gitlab-pipeline:
    default-template-values:
      url: "https://gitlab.com"
      environment: ""
    extension-templates:
      build-signer-uri: "https://{{ .ci_config_ref_uri }}"
      build-signer-digest: "ci_config_sha"
      runner-environment: "runner_environment"
      source-repository-uri: "{{ .url }}/{{ .project_path }}"
      source-repository-digest: "sha"
      source-repository-ref: refs/{{if eq .ref_type "branch"}}heads/{{ else }}tags/{{end}}{{ .ref }}
      source-repository-identifier: "project_id"
      source-repository-owner-uri: "{{ .url }}/{{ .namespace_path }}"
      source-repository-owner-identifier: "namespace_id"
      build-config-uri: "https://{{ .ci_config_ref_uri }}"
      build-config-digest: "ci_config_sha"
      build-trigger: "pipeline_source"
      run-invocation-uri: "{{ .url }}/{{ .project_path }}/-/jobs/{{ .job_id }}"
      source-repository-visibility-at-signing: "project_visibility"
      deployment-environment: "environment"
    subject-alternative-name-template: "https://{{ .ci_config_ref_uri }}"
`
