package cli

import (
	"encoding/json"
	"io"
	"log"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// TestPromote runs seal promote on an in-process registry: the build signs and attests
// provenance with its key; a promotion whose checks fail (another key) signs nothing and
// fails; one whose checks pass publishes the summary in both formats, and with --sign the
// promotion signer's own signature, which seal verify then admits on, by the promotion
// key alone.
func TestPromote(t *testing.T) {
	clearCI(t)
	t.Setenv("COSIGN_PASSWORD", "promote-unit")
	dir := t.TempDir()
	keys := map[string]string{}
	for _, k := range []string{"build", "other", "promotion"} {
		keys[k] = filepath.Join(dir, k)
		if _, stderr, code := run(t, "generate-key-pair", "--output-key-prefix", keys[k]); code != 0 {
			t.Fatalf("generate-key-pair: exit %d: %s", code, stderr)
		}
	}
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	host := u.Host
	img, err := random.Image(256, 1)
	if err != nil {
		t.Fatal(err)
	}
	tag, err := name.ParseReference(host + "/acme/app:v1")
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(tag, img); err != nil {
		t.Fatalf("Write() = %v", err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	ref := host + "/acme/app@" + d.String()
	if _, stderr, code := run(t, "attest", "--sign", "--provenance", "--key", keys["build"]+".key", "--insecure-registry", host, ref); code != 0 {
		t.Fatalf("seal attest: exit %d: %s", code, stderr)
	}
	admitted := func(extra ...string) (string, int) {
		_, stderr, code := run(t, append(append([]string{"verify", "--key", keys["promotion"] + ".pub", "--insecure-registry", host}, extra...), ref)...)
		return stderr, code
	}
	promote := func(verifyKey string) (string, string, int) {
		return run(t, "promote", "--verify-key", keys[verifyKey]+".pub", "--attestation", "slsaprovenance", "--key", keys["promotion"]+".key",
			"--sign", "--insecure-registry", host, "--json", host+"/acme/app:v1")
	}

	stdout, stderr, code := promote("other")
	if code != 1 || !strings.Contains(stderr, "not promoted, nothing signed") {
		t.Fatalf("seal promote with failing checks: exit %d, want 1 and nothing signed:\n%s", code, stderr)
	}
	var res struct {
		Promoted bool              `json:"promoted"`
		Items    []json.RawMessage `json:"items"`
	}
	if err := json.Unmarshal([]byte(stdout), &res); err != nil || res.Promoted || len(res.Items) != 0 {
		t.Errorf("--json of a failed promotion: %v, %+v, want promoted false and no items:\n%s", err, res, stdout)
	}
	if stderr, code := admitted("--no-signature", "--attestation", "vsa"); code != 1 || !strings.Contains(stderr, "no valid") {
		t.Errorf("after a failed promotion, seal verify by the promotion key: exit %d, want a refusal:\n%s", code, stderr)
	}
	if stderr, code := admitted(); code != 1 || !strings.Contains(stderr, "no valid signature") {
		t.Errorf("after a failed promotion, the promotion key's signature: exit %d, want none:\n%s", code, stderr)
	}

	stdout, stderr, code = promote("build")
	if code != 0 {
		t.Fatalf("seal promote: exit %d:\n%s", code, stderr)
	}
	for _, want := range []string{"promoting " + ref + ", the digest verified (given " + host + "/acme/app:v1)", "wrote bundle attestation https://slsa.dev/verification_summary/v1", "wrote legacy attestation https://slsa.dev/verification_summary/v1", "wrote bundle signature", "wrote legacy signature"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("seal promote did not say %q:\n%s", want, stderr)
		}
	}
	if err := json.Unmarshal([]byte(stdout), &res); err != nil || !res.Promoted || len(res.Items) != 4 {
		t.Errorf("--json of the promotion: %v, %+v, want promoted and 4 items:\n%s", err, res, stdout)
	}
	// The key signed the provenance: Build L1.
	if stderr, code := admitted("--no-signature", "--attestation", "vsa", "--vsa-level", "SLSA_BUILD_LEVEL_1"); code != 0 {
		t.Errorf("seal verify on the promotion's summary: exit %d:\n%s", code, stderr)
	}
	if stderr, code := admitted(); code != 0 {
		t.Errorf("seal verify on the promotion's signature: exit %d:\n%s", code, stderr)
	}
}

// TestPromoteUsage: what seal promote refuses before it reads anything.
func TestPromoteUsage(t *testing.T) {
	clearCI(t)
	image := "127.0.0.1:9/acme/app@sha256:" + strings.Repeat("0", 64)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no checks", []string{"--key", "cosign.key"}, "give the checks the image must pass"},
		{"recursive signing", []string{"--github-repo", "acme/app", "--recursive=false", "--jobs", "x"}, "invalid argument"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, stderr, code := run(t, append(append([]string{"promote"}, tc.args...), image)...)
			if code != 2 || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, stderr %q: want 2 and %q", code, stderr, tc.want)
			}
		})
	}
}
