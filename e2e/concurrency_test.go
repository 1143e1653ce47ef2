package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sealsign/seal/internal/testbed"
)

// TestConcurrentSigners: 16 CI jobs with 16 different keys sign the same
// digest at the same time, as the jobs of a build matrix or several
// release pipelines of one image do. The cosign tag and the referrers
// fallback index are read-modify-write documents with no locking in the
// registry protocol, so a naive writer loses its neighbours' signatures
// (cosign#2432). Seal must keep all 16; cosign v2's figure is logged, not
// asserted, for comparison.
//
// The keys differ because Seal does not sign twice for one signer: a job
// that finds this key's signature already there reports it as existing
// (idempotent re-runs), so 16 jobs with one key rightly leave fewer than 16
// signatures.
func TestConcurrentSigners(t *testing.T) {
	const n = 16
	reg := testbed.StartRegistry(t, testbed.Distribution)
	cosign := testbed.Bin(t, testbed.BinCosign)
	keys := make([]keyPair, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { keys[i] = newKeyPair(t) })
	}
	wg.Wait()
	for _, tc := range []struct {
		name   string
		format string // "" for cosign
	}{
		{"seal/legacy", "legacy"},
		{"seal/bundle", "bundle"},
		{"cosign/legacy", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			img := pushImage(t, reg.Host, "race/"+strings.ReplaceAll(tc.name, "/", "-"))
			cmd := func(k keyPair) (string, []string) {
				if tc.format == "" {
					return cosign, append(append([]string{"sign"}, cosignKeyed(k)...), img)
				}
				return sealBin, append([]string{"sign", "--format", tc.format}, sealKeyed(k, reg.Host, img)...)
			}
			outs, errs := make([]string, n), make([]error, n)
			start := time.Now()
			var wg sync.WaitGroup
			for i := range n {
				bin, args := cmd(keys[i])
				wg.Go(func() { outs[i], errs[i] = run(t, keys[i].env(), bin, args...) })
			}
			wg.Wait()
			took := time.Since(start)
			failed := 0
			for i, err := range errs {
				if err != nil {
					failed++
					t.Logf("process %d failed: %v\n%s", i, err, outs[i])
				}
			}
			repo, digest, _ := strings.Cut(strings.TrimPrefix(img, reg.Host+"/"), "@")
			var kept int
			if tc.format == "bundle" {
				kept = fallbackReferrers(t, reg.Host, repo, digest)
			} else {
				kept = legacySignatures(t, reg.Host, repo, digest)
			}
			t.Logf("%s: %d parallel processes in %v: %d exited non-zero, %d/%d signatures survive", tc.name, n, took.Round(time.Millisecond), failed, kept, n)
			if tc.format == "" {
				return // cosign's number is reported, not asserted
			}
			if failed > 0 || kept != n {
				t.Errorf("seal kept %d/%d signatures (%d processes failed)", kept, n, failed)
			}
			// Each signer's signature verifies: the merge kept whole entries.
			for _, k := range keys {
				mustRun(t, nil, sealBin, "verify", "--key", k.pub, "--insecure-registry", reg.Host, img)
			}
		})
	}
}

// getManifest fetches repo's manifest ref straight from the registry,
// bypassing every client under test. A missing manifest is nil.
func getManifest(t testing.TB, host, repo, ref string) []byte {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, "http://"+host+"/v2/"+repo+"/manifests/"+ref, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s manifest %s: %v", repo, ref, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	switch resp.StatusCode {
	case http.StatusOK:
		return body
	case http.StatusNotFound:
		return nil
	}
	t.Fatalf("GET %s manifest %s: %s", repo, ref, resp.Status)
	return nil
}

// manifestDoc is the part of a manifest or index the checks read.
type manifestDoc struct {
	MediaType string `json:"mediaType"`
	Config    *struct {
		Digest string `json:"digest"`
	} `json:"config"`
	Layers []struct {
		Digest      string            `json:"digest"`
		Annotations map[string]string `json:"annotations"`
	} `json:"layers"`
	Manifests []struct {
		Digest       string `json:"digest"`
		ArtifactType string `json:"artifactType"`
	} `json:"manifests"`
	Subject *struct {
		Digest string `json:"digest"`
	} `json:"subject"`
}

func parseManifest(t testing.TB, b []byte) manifestDoc {
	t.Helper()
	var m manifestDoc
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("parsing manifest: %v\n%s", err, b)
	}
	return m
}

// legacySignatures counts the distinct signatures in the digest's .sig tag.
func legacySignatures(t testing.TB, host, repo, digest string) int {
	b := getManifest(t, host, repo, strings.Replace(digest, ":", "-", 1)+".sig")
	if b == nil {
		return 0
	}
	sigs := map[string]bool{}
	for _, l := range parseManifest(t, b).Layers {
		sigs[l.Annotations["dev.cosignproject.cosign/signature"]] = true
	}
	return len(sigs)
}

// fallbackReferrers counts the distinct referrers in the digest's
// Referrers Tag Schema index.
func fallbackReferrers(t testing.TB, host, repo, digest string) int {
	b := getManifest(t, host, repo, strings.Replace(digest, ":", "-", 1))
	if b == nil {
		return 0
	}
	seen := map[string]bool{}
	for _, m := range parseManifest(t, b).Manifests {
		seen[m.Digest] = true
	}
	return len(seen)
}

// tagsOf lists a repository's tags straight from the registry.
func tagsOf(t testing.TB, host, repo string) []string {
	t.Helper()
	resp, err := http.Get(fmt.Sprintf("http://%s/v2/%s/tags/list", host, repo))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return nil
	}
	var l struct {
		Tags []string `json:"tags"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&l); err != nil {
		t.Fatalf("listing tags of %s: %v", repo, err)
	}
	return l.Tags
}
