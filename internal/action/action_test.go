package action

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sealsign/seal/internal/oci"
	"github.com/sealsign/seal/internal/publish"
	"github.com/sealsign/seal/internal/signing"
)

func inputs(m map[string]string) Inputs {
	return NewInputs(func(k string) string { return m[k] })
}

func TestInputs(t *testing.T) {
	in := inputs(map[string]string{
		"INPUT_PUSH-TO-REGISTRY":  "false", // the runner's spelling for Docker and JavaScript actions
		"INPUT_INSECURE_REGISTRY": " a:5000,\n b:5000 ,, ",
		"INPUT_SUBJECT_PATH":      "dist/*.tar.gz\n\n  sbom/a,b.json  ",
		"INPUT_RECURSIVE":         "TRUE",
		"INPUT_SIGN":              "yes",
		"INPUT_FORMAT":            "legacy",
	})
	if got := in.String("push-to-registry"); got != "false" {
		t.Errorf(`String("push-to-registry") = %q`, got)
	}
	if diff := cmp.Diff([]string{"a:5000", "b:5000"}, in.List("insecure-registry")); diff != "" {
		t.Errorf("List() (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"dist/*.tar.gz", "sbom/a,b.json"}, in.Lines("subject-path")); diff != "" {
		t.Errorf("Lines() (-want +got):\n%s", diff)
	}
	if b, err := in.Bool("recursive", false); err != nil || !b {
		t.Errorf(`Bool("recursive") = %v, %v`, b, err)
	}
	if b, err := in.Bool("summary", true); err != nil || !b {
		t.Errorf(`Bool("summary") default = %v, %v`, b, err)
	}
	if _, err := in.Bool("sign", false); err == nil || !strings.Contains(err.Error(), "input sign") {
		t.Errorf(`Bool("sign") with "yes" = %v, want an error naming the input`, err)
	}
	if got, err := in.Choice("format", "both", "both", "bundle", "legacy"); err != nil || got != "legacy" {
		t.Errorf("Choice() = %q, %v", got, err)
	}
	if _, err := in.Choice("tlog", "maybe", "auto", "true", "false"); err == nil {
		t.Error("Choice() accepted a default outside the options")
	}
}

func TestImage(t *testing.T) {
	dig := "sha256:" + strings.Repeat("4c", 32)
	for _, tc := range []struct {
		image, digest, want, err string
	}{
		{image: "ghcr.io/acme/app:1.0", want: "ghcr.io/acme/app:1.0"},
		{image: "ghcr.io/acme/app:1.0", digest: dig, want: "ghcr.io/acme/app@" + dig},
		{image: "localhost:5000/app", digest: dig, want: "localhost:5000/app@" + dig},
		{image: "localhost:5000/app@sha256:" + strings.Repeat("00", 32), digest: dig, want: "localhost:5000/app@" + dig},
		{image: "ghcr.io/acme/app", digest: "sha256:abc", err: "input digest"},
		{digest: dig, err: "image is not"},
		{image: "ghcr.io/acme/app:1.0\nghcr.io/acme/app:latest", err: "not one image reference"},
	} {
		got, err := inputs(map[string]string{"INPUT_IMAGE": tc.image, "INPUT_DIGEST": tc.digest}).Image()
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("Image(%q, %q) = %q, %v; want an error with %q", tc.image, tc.digest, got, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("Image(%q, %q) = %q, %v; want %q", tc.image, tc.digest, got, err, tc.want)
		}
	}
	for ref, want := range map[string]bool{
		"ghcr.io/acme/app@" + dig:             true,
		"ghcr.io/acme/app:1.0":                false,
		"ghcr.io/acme/app@sha256:4C9B":        false,
		"@" + dig:                             false,
		"ghcr.io/acme/app@sha512:" + dig[7:]:  false,
		"localhost:5000/a/b@" + dig:           true,
		"ghcr.io/acme/app@" + dig + "trailer": false,
	} {
		if got := PinnedByDigest(ref); got != want {
			t.Errorf("PinnedByDigest(%q) = %v, want %v", ref, got, want)
		}
	}
}

func TestOutputs(t *testing.T) {
	dig := "sha256:" + strings.Repeat("ab", 32)
	img := "ghcr.io/acme/app@" + dig
	r := &Result{
		Verb:  "all",
		Image: img,
		Items: []publish.Item{
			{Subject: img, Kind: "signature", Format: oci.Bundle, Ref: "ghcr.io/acme/app@sha256:01", BundlePath: "/o/sig.json"},
			{Subject: img, Kind: "signature", Format: oci.Legacy, Ref: "ghcr.io/acme/app:sha256-ab.sig"},
			{Subject: img, Kind: "attestation", PredicateType: "https://spdx.dev/Document", Format: oci.Bundle, Ref: "ghcr.io/acme/app@sha256:02", BundlePath: "/o/spdx.json"},
			{Subject: img, Kind: "attestation", PredicateType: "https://slsa.dev/provenance/v1", Format: oci.Bundle, Ref: "ghcr.io/acme/app@sha256:03", BundlePath: "/o/prov.json"},
		},
		Identity: &Identity{Subject: "https://github.com/acme/app/.github/workflows/release.yml@refs/tags/v1", Issuer: "https://token.actions.githubusercontent.com", SCT: true},
		Tlog:     true,
		Stored: []Stored{
			{PredicateType: "https://spdx.dev/Document", ID: "1", URL: "https://github.com/acme/app/attestations/1"},
			{PredicateType: "https://slsa.dev/provenance/v1", ID: "2", URL: "https://github.com/acme/app/attestations/2"},
		},
	}
	want := []Output{
		{"digest", dig},
		{"image", img},
		{"bundle-path", "/o/prov.json"},
		{"bundle-paths", "/o/prov.json\n/o/sig.json\n/o/spdx.json"},
		{"attestation-id", "2"},
		{"attestation-url", "https://github.com/acme/app/attestations/2"},
		{"verify-command", "seal verify " + img + " --certificate-identity https://github.com/acme/app/.github/workflows/release.yml@refs/tags/v1 --certificate-oidc-issuer https://token.actions.githubusercontent.com --attestation spdxjson --attestation slsaprovenance1"},
	}
	if diff := cmp.Diff(want, r.Outputs()); diff != "" {
		t.Errorf("Outputs() (-want +got):\n%s", diff)
	}
	c := r.VerifyCommands()
	wantCosign := []string{
		"cosign verify " + img + " --certificate-identity https://github.com/acme/app/.github/workflows/release.yml@refs/tags/v1 --certificate-oidc-issuer https://token.actions.githubusercontent.com",
		"cosign verify-attestation --type spdxjson " + img + " --certificate-identity https://github.com/acme/app/.github/workflows/release.yml@refs/tags/v1 --certificate-oidc-issuer https://token.actions.githubusercontent.com",
		"cosign verify-attestation --type slsaprovenance1 " + img + " --certificate-identity https://github.com/acme/app/.github/workflows/release.yml@refs/tags/v1 --certificate-oidc-issuer https://token.actions.githubusercontent.com",
	}
	if diff := cmp.Diff(wantCosign, c.Cosign); diff != "" {
		t.Errorf("VerifyCommands().Cosign (-want +got):\n%s", diff)
	}
	s := r.Summary()
	for _, want := range []string{"## Seal: signed and attested `" + img + "`", "bundle: `ghcr.io/acme/app@sha256:01`<br>legacy: `ghcr.io/acme/app:sha256-ab.sig`", "[https://slsa.dev/provenance/v1](https://github.com/acme/app/attestations/2)"} {
		if !strings.Contains(s, want) {
			t.Errorf("Summary() lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "transparency log") {
		t.Errorf("Summary() says the signatures are not in a transparency log, but they are:\n%s", s)
	}
}

// TestMetadataRecords checks the outputs and summary lines of GitHub artifact metadata
// records: the ids comma-separated, as actions/attest's storage-record-ids.
func TestMetadataRecords(t *testing.T) {
	img := "ghcr.io/acme/app@sha256:" + strings.Repeat("ab", 32)
	plat := "ghcr.io/acme/app@sha256:" + strings.Repeat("cd", 32)
	r := &Result{Verb: "sign", Image: img, Key: "cosign.key",
		Items:          []publish.Item{{Subject: img, Kind: "signature", Format: oci.Bundle, Ref: "ghcr.io/acme/app@sha256:01"}},
		StorageRecords: []Record{{Image: img, IDs: []int64{101, 102}}, {Image: plat, IDs: []int64{103}}},
	}
	outs := map[string]string{}
	for _, o := range r.Outputs() {
		outs[o.Name] = o.Value
	}
	if got := outs["storage-record-ids"]; got != "101,102,103" {
		t.Errorf("storage-record-ids = %q, want 101,102,103", got)
	}
	if _, ok := outs["deployment-record-ids"]; ok {
		t.Errorf("a signing step outputs deployment-record-ids")
	}
	if s := r.Summary(); !strings.Contains(s, "Recorded in GitHub's artifact metadata (storage record `101`, `102`): `"+img+"`") ||
		!strings.Contains(s, "(storage record `103`): `"+plat+"`") {
		t.Errorf("Summary() does not list the storage records:\n%s", s)
	}

	v := &Result{Verb: "verify", Image: img, DeploymentRecords: []Record{{Image: img, IDs: []int64{7}, Environment: "production"}}}
	outs = map[string]string{}
	for _, o := range v.Outputs() {
		outs[o.Name] = o.Value
	}
	if outs["deployment-record-ids"] != "7" || outs["storage-record-ids"] != "" {
		t.Errorf("verify outputs %v, want deployment-record-ids 7 only", outs)
	}
	if s := v.Summary(); !strings.Contains(s, "as deployed to `production`: `"+img+"` (deployment record `7`)") {
		t.Errorf("verify Summary() does not show the deployment record:\n%s", s)
	}
}

func TestShellJoin(t *testing.T) {
	got := shellJoin([]string{"cosign", "verify", "--certificate-identity-regexp", `^https://github.com/acme/.*$`, "it's", ""})
	want := `cosign verify --certificate-identity-regexp '^https://github.com/acme/.*$' 'it'\''s' ''`
	if got != want {
		t.Errorf("shellJoin() = %s, want %s", got, want)
	}
}

func TestWriteDotenv(t *testing.T) {
	path := filepath.Join(t.TempDir(), "seal.env")
	if err := os.WriteFile(path, []byte("BUILD=1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteDotenv(path, []Output{{"digest", "sha256:ab"}, {"bundle-paths", "seal/a.json\nseal/c.json\n"}, {"verify-command", "seal verify x"}}); err != nil {
		t.Fatalf("WriteDotenv() = %v", err)
	}
	b, _ := os.ReadFile(path)
	if diff := cmp.Diff("BUILD=1\nSEAL_DIGEST=sha256:ab\nSEAL_BUNDLE_PATHS=seal/a.json,seal/c.json\n", string(b)); diff != "" {
		t.Errorf("dotenv (-want +got):\n%s", diff)
	}
}

func TestGitHubStore(t *testing.T) {
	const token = "ghs_PLANTEDtoken0123456789"
	bundle := []byte(`{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json"}`)
	for _, tc := range []struct {
		name    string
		status  int
		body    string
		wantID  string
		wantErr error
		errText string
		calls   int
	}{
		{"created", http.StatusCreated, `{"id": 123456789012}`, "123456789012", nil, "", 1},
		{"no permission", http.StatusForbidden, `{"message":"Resource not accessible by integration"}`, "", ErrNotPermitted, "attestations: write", 1},
		{"not found", http.StatusNotFound, `{"message":"Not Found"}`, "", ErrNotPermitted, "Not Found", 1},
		{"server error, retried", http.StatusInternalServerError, `oops`, "", nil, "(3 attempts): 500 oops", 3},
		{"server error, then created", 0, `{"id": 7}`, "7", nil, "", 2},
		{"no id", http.StatusCreated, `{}`, "", nil, "no id", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			calls := 0
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				calls++
				if r.Method != http.MethodPost || r.URL.Path != "/repos/acme/app/attestations" {
					t.Errorf("request %s %s", r.Method, r.URL.Path)
				}
				if r.Header.Get("Authorization") != "Bearer "+token || r.Header.Get("X-GitHub-Api-Version") == "" {
					t.Errorf("headers %v", r.Header)
				}
				b, _ := io.ReadAll(r.Body)
				if want := `{"bundle":` + string(bundle) + `}`; string(b) != want {
					t.Errorf("body %s, want %s", b, want)
				}
				status := tc.status
				if status == 0 { // 502 first, then created
					status = http.StatusCreated
					if calls == 1 {
						status = http.StatusBadGateway
					}
				}
				w.WriteHeader(status)
				_, _ = io.WriteString(w, tc.body)
			}))
			defer srv.Close()
			s := GitHubStore{APIURL: srv.URL + "/", ServerURL: "https://github.com", Repository: "acme/app", Token: token, Transport: srv.Client().Transport,
				Attempts: 3, Backoff: time.Millisecond}
			id, url, err := s.Store(context.Background(), bundle)
			if calls != tc.calls {
				t.Errorf("%d requests, want %d", calls, tc.calls)
			}
			if tc.wantID != "" {
				if err != nil || id != tc.wantID || url != "https://github.com/acme/app/attestations/"+tc.wantID {
					t.Errorf("Store() = %q, %q, %v", id, url, err)
				}
				return
			}
			if err == nil || (tc.wantErr != nil && !errors.Is(err, tc.wantErr)) || !strings.Contains(err.Error(), tc.errText) {
				t.Errorf("Store() error = %v, want %v containing %q", err, tc.wantErr, tc.errText)
			}
			if err != nil && strings.Contains(err.Error(), token) {
				t.Errorf("Store() error carries the token: %v", err)
			}
		})
	}
}

// TestActionVerifyCommandsPinSource checks that the printed commands pin the repository the job
// ran for, not only the certificate's subject, which a reusable workflow (or a CI
// configuration file run by another project) shares with every caller.
func TestActionVerifyCommandsPinSource(t *testing.T) {
	img := "ghcr.io/acme/app@sha256:" + strings.Repeat("ab", 32)
	const gh = "https://token.actions.githubusercontent.com"
	for _, tc := range []struct {
		name    string
		id      Identity
		seal    string // seal verify's flags after the image
		cosign  string // cosign verify's flags after the image
		caveat  bool   // the summary says cosign cannot pin the repository
		summary []string
	}{{
		name: "GitHub, a workflow of the repository",
		id: Identity{Subject: "https://github.com/acme/app/.github/workflows/release.yml@refs/tags/v1", Issuer: gh,
			Repository: "https://github.com/acme/app", SourceRef: "refs/tags/v1", GitHubWorkflowRepository: "acme/app", GitHubWorkflowRef: "refs/tags/v1"},
		seal:   "--github-repo acme/app --github-workflow release.yml --ref refs/tags/v1",
		cosign: "--certificate-identity https://github.com/acme/app/.github/workflows/release.yml@refs/tags/v1 --certificate-oidc-issuer " + gh + " --certificate-github-workflow-repository acme/app --certificate-github-workflow-ref refs/tags/v1",
	}, {
		name: "GitHub, a reusable workflow of another repository",
		id: Identity{Subject: "https://github.com/sealsign/seal/.github/workflows/attest-image.yml@refs/tags/v1.2.3", Issuer: gh,
			Repository: "https://github.com/acme/app", SourceRef: "refs/heads/main", GitHubWorkflowRepository: "acme/app", GitHubWorkflowRef: "refs/heads/main"},
		seal:   "--github-repo acme/app --github-workflow sealsign/seal/.github/workflows/attest-image.yml@refs/tags/v1.2.3 --ref refs/heads/main",
		cosign: "--certificate-identity https://github.com/sealsign/seal/.github/workflows/attest-image.yml@refs/tags/v1.2.3 --certificate-oidc-issuer " + gh + " --certificate-github-workflow-repository acme/app --certificate-github-workflow-ref refs/heads/main",
	}, {
		name: "GitHub Enterprise Server, a test issuer",
		id: Identity{Subject: "https://ghe.example.com/acme/app/.github/workflows/r.yml@refs/heads/main", Issuer: "https://ghe.example.com/_services/token",
			Repository: "https://ghe.example.com/acme/app", GitHubWorkflowRepository: "acme/app", GitHubWorkflowRef: "refs/heads/main"},
		seal:   "--github-repo acme/app --github-host ghe.example.com --github-workflow r.yml --ref refs/heads/main",
		cosign: "--certificate-identity https://ghe.example.com/acme/app/.github/workflows/r.yml@refs/heads/main --certificate-oidc-issuer https://ghe.example.com/_services/token --certificate-github-workflow-repository acme/app --certificate-github-workflow-ref refs/heads/main",
	}, {
		name: "GitHub, another issuer",
		id: Identity{Subject: "https://github.com/acme/app/.github/workflows/r.yml@refs/heads/main", Issuer: "http://127.0.0.1:1/github",
			Repository: "https://github.com/acme/app", GitHubWorkflowRepository: "acme/app", GitHubWorkflowRef: "refs/heads/main"},
		seal:   "--github-repo acme/app --github-workflow r.yml --ref refs/heads/main --certificate-oidc-issuer http://127.0.0.1:1/github",
		cosign: "--certificate-identity https://github.com/acme/app/.github/workflows/r.yml@refs/heads/main --certificate-oidc-issuer http://127.0.0.1:1/github --certificate-github-workflow-repository acme/app --certificate-github-workflow-ref refs/heads/main",
	}, {
		name: "GitLab",
		id: Identity{Subject: "https://gitlab.com/g/app//.gitlab-ci.yml@refs/heads/main", Issuer: "https://gitlab.com",
			Repository: "https://gitlab.com/g/app", SourceRef: "refs/heads/main"},
		seal:    "--gitlab-project g/app --ref refs/heads/main",
		cosign:  "--certificate-identity https://gitlab.com/g/app//.gitlab-ci.yml@refs/heads/main --certificate-oidc-issuer https://gitlab.com",
		caveat:  true,
		summary: []string{"`https://gitlab.com/g/app//.gitlab-ci.yml@refs/heads/main`", "`https://gitlab.com/g/app`"},
	}, {
		name: "self-managed GitLab, a configuration file of another project",
		id: Identity{Subject: "https://gitlab.example.com/g/ci-templates//build.yml@refs/heads/main", Issuer: "https://gitlab.example.com",
			Repository: "https://gitlab.example.com/g/app", SourceRef: "refs/heads/main"},
		seal:   "--certificate-identity https://gitlab.example.com/g/ci-templates//build.yml@refs/heads/main --certificate-oidc-issuer https://gitlab.example.com",
		cosign: "--certificate-identity https://gitlab.example.com/g/ci-templates//build.yml@refs/heads/main --certificate-oidc-issuer https://gitlab.example.com",
		caveat: true,
	}, {
		name:   "not a CI job",
		id:     Identity{Subject: "dev@example.com", Issuer: "https://accounts.example.com"},
		seal:   "--certificate-identity dev@example.com --certificate-oidc-issuer https://accounts.example.com",
		cosign: "--certificate-identity dev@example.com --certificate-oidc-issuer https://accounts.example.com",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			id := tc.id
			id.SCT = true
			r := &Result{Verb: "all", Image: img, Tlog: true, Identity: &id, Items: []publish.Item{
				{Subject: img, Kind: "signature", Format: oci.Bundle, BundlePath: "/o/sig.json"},
				{Subject: img, Kind: "attestation", PredicateType: "https://slsa.dev/provenance/v1", Format: oci.Bundle, BundlePath: "/o/prov.json"},
			}}
			c := r.VerifyCommands()
			want := Commands{
				Seal: []string{"seal verify " + img + " " + tc.seal + " --attestation slsaprovenance1"},
				Cosign: []string{
					"cosign verify " + img + " " + tc.cosign,
					"cosign verify-attestation --type slsaprovenance1 " + img + " " + tc.cosign,
				},
			}
			if diff := cmp.Diff(want, c); diff != "" {
				t.Errorf("VerifyCommands() (-want +got):\n%s", diff)
			}
			var vc string
			for _, o := range r.Outputs() {
				if o.Name == "verify-command" {
					vc = o.Value
				}
			}
			if vc != want.Seal[0] {
				t.Errorf("output verify-command = %q, want %q", vc, want.Seal[0])
			}
			s := r.Summary()
			if got := strings.Contains(s, "cosign's check pins only the certificate's identity"); got != tc.caveat {
				t.Errorf("summary says cosign cannot pin the repository: %v, want %v:\n%s", got, tc.caveat, s)
			}
			for _, w := range append(tc.summary, want.Seal[0], want.Cosign[0]) {
				if !strings.Contains(s, w) {
					t.Errorf("summary lacks %q:\n%s", w, s)
				}
			}
		})
	}
}

// TestActionSummaryKeyFromInput checks that a key given as the input's value is named, never shown.
func TestActionSummaryKeyFromInput(t *testing.T) {
	img := "ghcr.io/acme/app@sha256:" + strings.Repeat("ab", 32)
	r := &Result{Verb: "sign", Image: img, Key: "env://INPUT_KEY", KeyFromInput: true,
		Items: []publish.Item{{Subject: img, Kind: "signature", Format: oci.Legacy, Ref: "ghcr.io/acme/app:sha256-ab.sig"}}}
	s := r.Summary()
	for _, want := range []string{"Signed with the key given in the `key` input.", "cosign verify " + img + " --key cosign.pub"} {
		if !strings.Contains(s, want) {
			t.Errorf("summary lacks %q:\n%s", want, s)
		}
	}
}

// TestReadSigner checks where the summary's transparency log fact comes from when no bundle
// can be read: from what the run logged, not from the repository's visibility again.
func TestReadSigner(t *testing.T) {
	logged := &signing.TlogEntry{LogIndex: 7}
	for _, tc := range []struct {
		name  string
		items []publish.Item
		want  bool
	}{
		{"nothing published", nil, false},
		{"published, not logged", []publish.Item{{Kind: "signature"}, {Kind: "attestation"}}, false},
		{"one item logged", []publish.Item{{Kind: "signature"}, {Kind: "attestation", Tlog: logged}}, true},
	} {
		missing := filepath.Join(t.TempDir(), "missing.sigstore.json")
		r := &Result{Items: tc.items, Files: []FileBundle{{Subject: "a.tar.gz", Bundle: missing}}}
		errs := r.ReadSigner()
		if len(errs) != 1 || !strings.Contains(errs[0].Error(), missing) {
			t.Errorf("%s: ReadSigner() errors = %v, want one naming %s", tc.name, errs, missing)
		}
		if r.Tlog != tc.want || r.Identity != nil {
			t.Errorf("%s: Tlog = %v, Identity = %v; want %v, nil", tc.name, r.Tlog, r.Identity, tc.want)
		}
	}
}

// TestAttestations checks which bundles are stored in GitHub's attestations: attestations
// saved as files, not signatures nor attestations without a file.
func TestAttestations(t *testing.T) {
	r := &Result{
		Items: []publish.Item{
			{Subject: "app@sha256:1", Kind: "signature", BundlePath: "sig.json"},
			{Subject: "app@sha256:1", Kind: "attestation", PredicateType: "p1", BundlePath: "att.json"},
			{Subject: "app@sha256:1", Kind: "attestation", PredicateType: "p1", Format: oci.Legacy},
		},
		Files: []FileBundle{{Subject: "a.tar.gz", PredicateType: "p2", Bundle: "a.json"}},
	}
	want := []FileBundle{{Subject: "app@sha256:1", PredicateType: "p1", Bundle: "att.json"}, {Subject: "a.tar.gz", PredicateType: "p2", Bundle: "a.json"}}
	if diff := cmp.Diff(want, r.Attestations()); diff != "" {
		t.Errorf("Attestations() (-want +got):\n%s", diff)
	}
}
