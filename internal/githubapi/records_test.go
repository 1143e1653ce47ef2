package githubapi

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const token = "ghs_PLANTEDtoken0123456789abcdef"

var digest = "sha256:" + strings.Repeat("ab", 32)

// fakeAPI is GitHub's REST API as far as these calls go: it checks each request's method,
// path, headers and token, hands the JSON body to check, and answers with the statuses given,
// one per request (the last one repeated).
type fakeAPI struct {
	t        *testing.T
	path     string
	statuses []int
	answer   string
	bodies   []map[string]any
	calls    atomic.Int32
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := int(f.calls.Add(1))
	if r.Method != http.MethodPost || r.URL.Path != f.path {
		f.t.Errorf("request %s %s, want POST %s", r.Method, r.URL.Path, f.path)
	}
	if got := r.Header.Get("Authorization"); got != "Bearer "+token {
		f.t.Errorf("Authorization = %q, want the token as a bearer", got)
	}
	for h, want := range map[string]string{"X-GitHub-Api-Version": "2022-11-28", "Accept": "application/vnd.github+json", "Content-Type": "application/json"} {
		if got := r.Header.Get(h); got != want {
			f.t.Errorf("%s = %q, want %q", h, got, want)
		}
	}
	b, _ := io.ReadAll(r.Body)
	var body map[string]any
	if err := json.Unmarshal(b, &body); err != nil {
		f.t.Errorf("body %s: %v", b, err)
	}
	f.bodies = append(f.bodies, body)
	status := f.statuses[min(n, len(f.statuses))-1]
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	switch {
	case status/100 == 2:
		_, _ = io.WriteString(w, f.answer)
	case status == http.StatusForbidden:
		_, _ = io.WriteString(w, `{"message":"Resource not accessible by integration"}`)
	case status == http.StatusNotFound:
		_, _ = io.WriteString(w, `{"message":"Not Found"}`)
	default:
		_, _ = io.WriteString(w, `{"message":"Server Error"}`)
	}
}

func newClient(t *testing.T, f *fakeAPI) *Client {
	t.Helper()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	c, err := New(srv.URL, "acme/app", token, WithTransport(srv.Client().Transport), WithRetry(3, time.Millisecond))
	if err != nil {
		t.Fatalf("New() = %v", err)
	}
	return c
}

func TestCreateStorageRecord(t *testing.T) {
	rec, err := ImageStorageRecord("ghcr.io/acme/app@"+digest, "v1.2.0", false)
	if err != nil {
		t.Fatalf("ImageStorageRecord() = %v", err)
	}
	wantBody := map[string]any{"name": "ghcr.io/acme/app", "digest": digest, "version": "v1.2.0",
		"registry_url": "https://ghcr.io", "repository": "acme/app", "status": "active"}
	for _, tc := range []struct {
		name     string
		statuses []int
		wantIDs  []int64
		calls    int
		notPerm  bool
		errText  string
	}{
		{"created", []int{200}, []int64{987654321, 12}, 1, false, ""},
		{"5xx, then created", []int{502, 500, 201}, []int64{987654321, 12}, 3, false, ""},
		{"5xx every time", []int{503}, nil, 3, false, "3 attempts"},
		{"429 is retried", []int{429, 200}, []int64{987654321, 12}, 2, false, ""},
		{"no permission", []int{403}, nil, 1, true, "403 Resource not accessible by integration for acme (give the job `permissions: artifact-metadata: write`"},
		{"personal account", []int{404}, nil, 1, true, "404 Not Found"},
		{"invalid", []int{422}, nil, 1, false, "422"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeAPI{t: t, path: "/orgs/acme/artifacts/metadata/storage-record", statuses: tc.statuses,
				answer: `{"total_count":2,"storage_records":[{"id":987654321,"name":"ghcr.io/acme/app"},{"id":12}]}`}
			ids, err := newClient(t, f).CreateStorageRecord(context.Background(), rec)
			if got := int(f.calls.Load()); got != tc.calls {
				t.Errorf("%d requests, want %d", got, tc.calls)
			}
			for _, b := range f.bodies {
				if diff := cmp.Diff(wantBody, b); diff != "" {
					t.Errorf("body (-want +got):\n%s", diff)
				}
			}
			if tc.errText == "" {
				if err != nil || !cmp.Equal(ids, tc.wantIDs) {
					t.Fatalf("CreateStorageRecord() = %v, %v; want %v", ids, err, tc.wantIDs)
				}
				return
			}
			if err == nil || errors.Is(err, ErrNotPermitted) != tc.notPerm || !strings.Contains(err.Error(), tc.errText) {
				t.Fatalf("CreateStorageRecord() error = %v; want ErrNotPermitted %v, containing %q", err, tc.notPerm, tc.errText)
			}
			if strings.Contains(err.Error(), token) {
				t.Errorf("the error carries the token: %v", err)
			}
		})
	}
}

func TestImageStorageRecord(t *testing.T) {
	for _, tc := range []struct {
		ref      string
		insecure bool
		want     StorageRecord
	}{
		{"ghcr.io/acme/app@" + digest, false, StorageRecord{Name: "ghcr.io/acme/app", Digest: digest, RegistryURL: "https://ghcr.io", Repository: "acme/app", Status: "active"}},
		{"127.0.0.1:5000/team/svc/api@" + digest, true, StorageRecord{Name: "127.0.0.1:5000/team/svc/api", Digest: digest, RegistryURL: "http://127.0.0.1:5000", Repository: "team/svc/api", Status: "active"}},
		{"busybox@" + digest, false, StorageRecord{Name: "index.docker.io/library/busybox", Digest: digest, RegistryURL: "https://index.docker.io", Repository: "library/busybox", Status: "active"}},
	} {
		got, err := ImageStorageRecord(tc.ref, "", tc.insecure)
		if err != nil {
			t.Fatalf("ImageStorageRecord(%q) = %v", tc.ref, err)
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("ImageStorageRecord(%q) (-want +got):\n%s", tc.ref, diff)
		}
	}
	if _, err := ImageStorageRecord("ghcr.io/acme/app:v1", "", false); err == nil {
		t.Error("ImageStorageRecord(a tag) succeeded, want NAME@sha256:HEX")
	}
}

func TestCreateDeploymentRecord(t *testing.T) {
	rec := DeploymentRecord{Name: "ghcr.io/acme/app", Digest: digest, Version: "v1", Status: StatusDeployed,
		LogicalEnvironment: "production", PhysicalEnvironment: "eu-west-1", Cluster: "prod-1", DeploymentName: "web-app"}
	wantBody := map[string]any{"name": "ghcr.io/acme/app", "digest": digest, "version": "v1", "status": "deployed",
		"logical_environment": "production", "physical_environment": "eu-west-1", "cluster": "prod-1",
		"deployment_name": "web-app", "return_records": true}
	for _, tc := range []struct {
		name     string
		statuses []int
		wantIDs  []int64
		calls    int
		notPerm  bool
		errText  string
	}{
		{"created", []int{200}, []int64{77}, 1, false, ""},
		{"500, then created", []int{500, 200}, []int64{77}, 2, false, ""},
		{"500 every time", []int{500}, nil, 3, false, "Server Error"},
		{"no permission", []int{403}, nil, 1, true, "artifact-metadata: write"},
		{"no organisation", []int{404}, nil, 1, true, "404"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeAPI{t: t, path: "/orgs/acme/artifacts/metadata/deployment-record", statuses: tc.statuses,
				answer: `{"total_count":1,"deployment_records":[{"id":77,"digest":"` + digest + `"}]}`}
			ids, err := newClient(t, f).CreateDeploymentRecord(context.Background(), rec)
			if got := int(f.calls.Load()); got != tc.calls {
				t.Errorf("%d requests, want %d", got, tc.calls)
			}
			for _, b := range f.bodies {
				if diff := cmp.Diff(wantBody, b); diff != "" {
					t.Errorf("body (-want +got):\n%s", diff)
				}
			}
			if tc.errText == "" {
				if err != nil || !cmp.Equal(ids, tc.wantIDs) {
					t.Fatalf("CreateDeploymentRecord() = %v, %v; want %v", ids, err, tc.wantIDs)
				}
				return
			}
			if err == nil || errors.Is(err, ErrNotPermitted) != tc.notPerm || !strings.Contains(err.Error(), tc.errText) || strings.Contains(err.Error(), token) {
				t.Fatalf("CreateDeploymentRecord() error = %v; want ErrNotPermitted %v, containing %q, without the token", err, tc.notPerm, tc.errText)
			}
		})
	}
}

func TestCreateDeploymentRecordRefusesIncomplete(t *testing.T) {
	f := &fakeAPI{t: t, path: "/none", statuses: []int{200}}
	c := newClient(t, f)
	for _, r := range []DeploymentRecord{
		{Name: "x", Digest: digest, Status: StatusDeployed, DeploymentName: "d"},
		{Name: "x", Digest: digest, Status: StatusDeployed, LogicalEnvironment: "prod"},
		{Name: "x", Digest: digest, Status: "failed", LogicalEnvironment: "prod", DeploymentName: "d"},
	} {
		if _, err := c.CreateDeploymentRecord(context.Background(), r); err == nil {
			t.Errorf("CreateDeploymentRecord(%+v) succeeded", r)
		}
	}
	if n := f.calls.Load(); n != 0 {
		t.Errorf("%d requests for incomplete records", n)
	}
}

func TestNew(t *testing.T) {
	for _, tc := range []struct{ api, repo, token string }{
		{"", "acme/app", token}, {"https://api.github.com", "app", token}, {"https://api.github.com", "acme/app", ""},
	} {
		if _, err := New(tc.api, tc.repo, tc.token); !errors.Is(err, ErrNotPermitted) {
			t.Errorf("New(%q, %q, token %v) = %v, want ErrNotPermitted", tc.api, tc.repo, tc.token != "", err)
		}
	}
	// GHES: GITHUB_API_URL carries /api/v3.
	var path string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path = r.URL.Path
		_, _ = io.WriteString(w, `{"storage_records":[{"id":1}]}`)
	}))
	defer srv.Close()
	c, err := New(srv.URL+"/api/v3", "octo/repo", token, WithTransport(srv.Client().Transport))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateStorageRecord(context.Background(), StorageRecord{Name: "n", Digest: digest, RegistryURL: "https://r"}); err != nil {
		t.Fatal(err)
	}
	if path != "/api/v3/orgs/octo/artifacts/metadata/storage-record" {
		t.Errorf("path = %q", path)
	}
}

func TestImageName(t *testing.T) {
	for ref, want := range map[string][2]string{
		"ghcr.io/acme/app:v1":        {"ghcr.io/acme/app", "v1"},
		"ghcr.io/acme/app@" + digest: {"ghcr.io/acme/app", ""},
		"localhost:5000/app":         {"localhost:5000/app", ""},
		"localhost:5000/app:latest":  {"localhost:5000/app", "latest"},
	} {
		repo, tag, err := ImageName(ref)
		if err != nil || repo != want[0] || tag != want[1] {
			t.Errorf("ImageName(%q) = %q, %q, %v; want %q", ref, repo, tag, err, want)
		}
	}
}

// TestRetries checks what is tried again: a rate limit's 403 and a transport error are, and
// the error after the last attempt says how many were made, without the token.
func TestRetries(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			w.WriteHeader(http.StatusForbidden)
			_, _ = io.WriteString(w, `{"message":"API rate limit exceeded for installation ID 1."}`)
			return
		}
		_, _ = io.WriteString(w, `{"storage_records":[{"id":5}]}`)
	}))
	defer srv.Close()
	c, err := New(srv.URL, "acme/app", token, WithTransport(srv.Client().Transport), WithRetry(3, time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	ids, err := c.CreateStorageRecord(context.Background(), StorageRecord{Name: "n", Digest: digest, RegistryURL: "https://r"})
	if err != nil || !cmp.Equal(ids, []int64{5}) || calls.Load() != 2 {
		t.Errorf("after a rate limit: %v, %v, %d requests; want [5] in 2", ids, err, calls.Load())
	}

	failing := roundTripFunc(func(*http.Request) (*http.Response, error) { calls.Add(1); return nil, errors.New("connection reset") })
	calls.Store(0)
	c, err = New("https://api.github.com", "acme/app", token, WithTransport(failing), WithRetry(2, time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.CreateStorageRecord(context.Background(), StorageRecord{Name: "n", Digest: digest, RegistryURL: "https://r"})
	if err == nil || errors.Is(err, ErrNotPermitted) || !strings.Contains(err.Error(), "(2 attempts): connection reset") || strings.Contains(err.Error(), token) || calls.Load() != 2 {
		t.Errorf("transport errors: %v after %d requests", err, calls.Load())
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
