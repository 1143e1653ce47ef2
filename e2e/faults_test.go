package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sealsign/seal/internal/testbed"
)

// TestFlakyRegistry runs `seal attest --sign --provenance` through a proxy
// that fails a fifth of the requests (500, 503, 429, dropped connections,
// and 502s or drops after the registry has already processed the request),
// each run with its own seeded fault sequence, in turn with --format legacy
// and bundle (so that cosign v2 can check each: given both, it reads only
// the bundles).
// Every run must end in one of two ways: fully published (seal verify and
// cosign accept both formats), or one clear error line and a registry in
// which nothing half-written trips a verifier — no tag pointing at a
// missing manifest, no referrer whose manifest or blob is missing, and
// whatever is there verifies. A re-run must then complete.
func TestFlakyRegistry(t *testing.T) {
	const (
		runs = 20
		rate = 0.2
	)
	reg := testbed.StartRegistry(t, testbed.Distribution)
	proxy := startProxy(t, reg.Host)
	cosign := testbed.Bin(t, testbed.BinCosign)
	k := newKeyPair(t)
	emptyRoot := writeFile(t, t.TempDir(), "empty_root.json", `{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1"}`)
	legacy := []string{"--key", k.pub, "--allow-http-registry", "--insecure-ignore-tlog"}
	cosignArgs := map[string][]string{"legacy": legacy, "bundle": append([]string{"--new-bundle-format", "--trusted-root", emptyRoot}, legacy...)}

	var firstTime, failed, rerunOK, retries, faults int
	images := map[string][]string{}
	start := time.Now()
	for i := range runs {
		format := [...]string{"legacy", "bundle"}[i%2]
		attest := func(host, ref string) []string {
			return append([]string{"-v", "attest", "--sign", "--provenance", "--format", format}, sealKeyed(k, host, ref)...)
		}
		img := pushImage(t, reg.Host, fmt.Sprintf("flaky/run%02d", i))
		images[format] = append(images[format], img)
		repo, digest, _ := strings.Cut(strings.TrimPrefix(img, reg.Host+"/"), "@")
		plan := proxy.withFaults(rate, uint64(i+1))
		runStart := time.Now()
		_, stderr, code := runSplit(t, k.env(), sealBin, attest(proxy.Host, strings.Replace(img, reg.Host, proxy.Host, 1))...)
		proxy.noFaults()
		t.Logf("run %d (%s): exit %d after %v, %d faults injected", i, format, code, time.Since(runStart).Round(time.Millisecond), plan.Total())
		retries += strings.Count(stderr, "retrying registry request")
		faults += plan.Total()

		// Whatever the outcome, the registry holds nothing half-written.
		problems := integrity(t, reg.Host, repo, digest)
		for _, p := range problems {
			t.Errorf("run %d (exit %d): %s", i, code, p)
		}
		if code == 0 {
			firstTime++
			verifyPublished(t, k, reg.Host, img, format)
			continue
		}
		failed++
		line := oneErrorLine(t, stderr)
		t.Logf("run %d failed after %d injected faults (%v): %s", i, plan.Total(), plan.Injected(), line)
		// What a failed run left must verify, or be absent.
		verifyPartial(t, k, cosign, cosignArgs[format], reg.Host, repo, digest, img)
		// A re-run, on a registry that behaves again, completes.
		if out, err := run(t, k.env(), sealBin, attest(reg.Host, img)...); err != nil {
			t.Errorf("re-run %d: %v\n%s", i, err, out)
			continue
		}
		rerunOK++
		verifyPublished(t, k, reg.Host, img, format)
		for _, p := range integrity(t, reg.Host, repo, digest) {
			t.Errorf("after re-run %d: %s", i, p)
		}
	}
	// Everything published verifies with cosign v2.
	for format, imgs := range images {
		mustRun(t, nil, cosign, append(append([]string{"verify"}, cosignArgs[format]...), imgs...)...)
		mustRun(t, nil, cosign, append(append([]string{"verify-attestation", "--type", "slsaprovenance1"}, cosignArgs[format]...), imgs...)...)
	}
	t.Logf("%d runs at %.0f%% injected failures in %v: %d published on the first try, %d failed cleanly, %d of those re-ran to completion; %d faults injected, %d registry retries logged by seal",
		runs, rate*100, time.Since(start).Round(time.Millisecond), firstTime, failed, rerunOK, faults, retries)
	if firstTime+rerunOK != runs {
		t.Errorf("%d of %d images did not end up published", runs-firstTime-rerunOK, runs)
	}
}

// TestRegistryGoesAwayMidRun: the registry lets the first k writes of a
// run through and then refuses everything (403, which is not retried), for
// every k from 0 to the number of writes a clean run makes, so the run
// stops at each step of its write sequence in turn. Each must fail with one
// clear line, leave nothing a verifier trips on, and be completed by a
// re-run.
func TestRegistryGoesAwayMidRun(t *testing.T) {
	reg := testbed.StartRegistry(t, testbed.Distribution)
	proxy := startProxy(t, reg.Host)
	cosign := testbed.Bin(t, testbed.BinCosign)
	k := newKeyPair(t)
	emptyRoot := writeFile(t, t.TempDir(), "empty_root.json", `{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1"}`)
	legacy := []string{"--key", k.pub, "--allow-http-registry", "--insecure-ignore-tlog"}
	cosignArgs := map[string][]string{"legacy": legacy, "bundle": append([]string{"--new-bundle-format", "--trusted-root", emptyRoot}, legacy...)}
	for _, format := range []string{"legacy", "bundle"} {
		t.Run(format, func(t *testing.T) {
			attest := func(host, ref string) []string {
				return append([]string{"attest", "--sign", "--provenance", "--format", format}, sealKeyed(k, host, ref)...)
			}
			via := func(img string) string { return strings.Replace(img, reg.Host, proxy.Host, 1) }
			// How many writes does a clean run make?
			proxy.Reset()
			mustRun(t, k.env(), sealBin, attest(proxy.Host, via(pushImage(t, reg.Host, "cut/"+format+"-clean")))...)
			writes := 0
			for key, n := range proxy.Counts() {
				if !strings.HasPrefix(key, "GET ") && !strings.HasPrefix(key, "HEAD ") {
					writes += n
				}
			}
			for cut := range writes {
				img := pushImage(t, reg.Host, fmt.Sprintf("cut/%s-%02d", format, cut))
				repo, digest, _ := strings.Cut(strings.TrimPrefix(img, reg.Host+"/"), "@")
				proxy.cutAfterWrites(cut)
				_, stderr, code := runSplit(t, k.env(), sealBin, attest(proxy.Host, via(img))...)
				proxy.noFaults()
				if code == 0 {
					t.Errorf("cut after %d of %d writes: seal exited 0", cut, writes)
					continue
				}
				line := oneErrorLine(t, stderr)
				for _, p := range integrity(t, reg.Host, repo, digest) {
					t.Errorf("cut after %d writes: %s", cut, p)
				}
				left := describeLeft(t, reg.Host, repo, digest)
				verifyPartial(t, k, cosign, cosignArgs[format], reg.Host, repo, digest, img)
				if out, err := run(t, k.env(), sealBin, attest(reg.Host, img)...); err != nil {
					t.Errorf("re-run after cut %d: %v\n%s", cut, err, out)
					continue
				}
				verifyPublished(t, k, reg.Host, img, format)
				t.Logf("registry gone after %2d/%d writes: left %s; %s", cut, writes, left, strings.TrimPrefix(line, "seal: error: "))
			}
		})
	}
}

// describeLeft says what a run left for a digest: signatures and
// attestations in the cosign tags, referrers in the fallback index.
func describeLeft(t *testing.T, host, repo, digest string) string {
	tag := strings.Replace(digest, ":", "-", 1)
	layers := func(ref string) int {
		if b := getManifest(t, host, repo, ref); b != nil {
			return len(parseManifest(t, b).Layers)
		}
		return 0
	}
	return fmt.Sprintf(".sig=%d .att=%d referrers=%d", layers(tag+".sig"), layers(tag+".att"), fallbackReferrers(t, host, repo, digest))
}

// verifyPublished checks that img carries this key's signature and
// provenance in both formats, reading straight from the registry.
func verifyPublished(t *testing.T, k keyPair, host, img, format string) {
	t.Helper()
	out := mustRun(t, nil, sealBin, "verify", "--key", k.pub, "--attestation", "slsaprovenance1", "--insecure-registry", host, "--json", img)
	if !strings.Contains(out, `"verified": true`) {
		t.Errorf("seal verify %s:\n%s", img, out)
	}
	repo, digest, _ := strings.Cut(strings.TrimPrefix(img, host+"/"), "@")
	tag := strings.Replace(digest, ":", "-", 1)
	switch format {
	case "legacy":
		if n := legacySignatures(t, host, repo, digest); n != 1 {
			t.Errorf("%s: %d legacy signatures, want 1", img, n)
		}
		if att := getManifest(t, host, repo, tag+".att"); att == nil || len(parseManifest(t, att).Layers) != 1 {
			t.Errorf("%s: want one provenance layer in the .att tag", img)
		}
	case "bundle":
		if n := fallbackReferrers(t, host, repo, digest); n != 2 {
			t.Errorf("%s: %d referrers, want 2 (signature and provenance)", img, n)
		}
	}
}

// verifyPartial checks what a failed run left behind: each piece that is
// there verifies with seal and with cosign.
func verifyPartial(t *testing.T, k keyPair, cosign string, cosignArgs []string, host, repo, digest, img string) {
	t.Helper()
	out, err := run(t, nil, sealBin, "verify", "--key", k.pub, "--no-signature", "--attestation", "slsaprovenance1", "--insecure-registry", host, "--json", img)
	if err != nil && strings.Contains(out, `"rejected"`) {
		t.Errorf("seal verify rejects what a failed run left:\n%s", out)
	}
	tag := strings.Replace(digest, ":", "-", 1)
	if getManifest(t, host, repo, tag+".sig") != nil {
		mustRun(t, nil, cosign, append(append([]string{"verify"}, cosignArgs...), img)...)
	}
	if getManifest(t, host, repo, tag+".att") != nil {
		mustRun(t, nil, cosign, append(append([]string{"verify-attestation", "--type", "slsaprovenance1"}, cosignArgs...), img)...)
	}
	if idx := getManifest(t, host, repo, tag); idx != nil {
		bundle := cosignArgs
		types := map[string]bool{}
		for _, m := range parseManifest(t, idx).Manifests {
			if rb := getManifest(t, host, repo, m.Digest); rb != nil {
				types[bundlePredicateType(t, rb)] = true
			}
		}
		if types["https://sigstore.dev/cosign/sign/v1"] {
			mustRun(t, nil, cosign, append(append([]string{"verify"}, bundle...), img)...)
		}
		if types["https://slsa.dev/provenance/v1"] {
			mustRun(t, nil, cosign, append(append([]string{"verify-attestation", "--type", "slsaprovenance1"}, bundle...), img)...)
		}
	}
}

func bundlePredicateType(t *testing.T, manifest []byte) string {
	var m struct {
		Annotations map[string]string `json:"annotations"`
	}
	parseJSON(t, manifest, &m)
	return m.Annotations["dev.sigstore.bundle.predicateType"]
}

// integrity walks a repository the way a verifier would and lists what is
// broken: a tag pointing at a missing manifest, a manifest whose config or
// layer blob is missing, a fallback index entry whose referrer is missing
// or is about another subject.
func integrity(t *testing.T, host, repo, digest string) []string {
	t.Helper()
	var problems []string
	checkBlobs := func(what string, m manifestDoc) {
		if m.Config != nil && m.Config.Digest != "" && !blobExists(t, host, repo, m.Config.Digest) {
			problems = append(problems, fmt.Sprintf("%s: config blob %s is missing", what, m.Config.Digest))
		}
		for _, l := range m.Layers {
			if !blobExists(t, host, repo, l.Digest) {
				problems = append(problems, fmt.Sprintf("%s: layer blob %s is missing", what, l.Digest))
			}
		}
	}
	fallback := strings.Replace(digest, ":", "-", 1)
	for _, tag := range tagsOf(t, host, repo) {
		b := getManifest(t, host, repo, tag)
		if b == nil {
			problems = append(problems, fmt.Sprintf("tag %s points at a missing manifest", tag))
			continue
		}
		m := parseManifest(t, b)
		checkBlobs("tag "+tag, m)
		if tag != fallback {
			continue
		}
		for _, e := range m.Manifests {
			rb := getManifest(t, host, repo, e.Digest)
			if rb == nil {
				problems = append(problems, fmt.Sprintf("fallback index lists referrer %s, which is missing", e.Digest))
				continue
			}
			r := parseManifest(t, rb)
			if r.Subject == nil || r.Subject.Digest != digest {
				problems = append(problems, fmt.Sprintf("referrer %s is not about %s", e.Digest, digest))
			}
			checkBlobs("referrer "+e.Digest, r)
		}
	}
	return problems
}

func blobExists(t *testing.T, host, repo, digest string) bool {
	t.Helper()
	resp, err := http.Head(fmt.Sprintf("http://%s/v2/%s/blobs/%s", host, repo, digest))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}
