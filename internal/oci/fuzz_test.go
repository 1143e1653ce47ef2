package oci

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

func FuzzParseChallenges(f *testing.F) {
	for _, s := range []string{
		`Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:a/b:pull"`,
		`Basic realm="Registry Realm"`,
		`Bearer realm="x", Basic realm="y"`,
		`bearer realm=unquoted,error="insufficient_scope"`,
		`Bearer realm="a\"b"`, `=`, `,,,`, `"`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		cs := parseChallenges([]string{h})
		for _, c := range cs {
			if c.scheme == "" || c.scheme != strings.ToLower(c.scheme) {
				t.Errorf("scheme %q", c.scheme)
			}
		}
		if c, ok := pickChallenge(cs); ok && c.scheme != "bearer" && c.scheme != "basic" {
			t.Errorf("picked %q", c.scheme)
		}
	})
}

func TestParseChallenges(t *testing.T) {
	cs := parseChallenges([]string{`Bearer realm="https://auth.example/token",service="reg",scope="repository:a/b:pull,push", Basic realm="x"`})
	if len(cs) != 2 || cs[0].scheme != "bearer" || cs[0].params["realm"] != "https://auth.example/token" ||
		cs[0].params["service"] != "reg" || cs[0].params["scope"] != "repository:a/b:pull,push" || cs[1].scheme != "basic" {
		t.Errorf("parseChallenges() = %+v", cs)
	}
	if c, _ := pickChallenge(parseChallenges([]string{`Basic realm="x"`, `Bearer realm="y"`})); c.scheme != "bearer" {
		t.Errorf("pickChallenge() = %v, want bearer", c)
	}
}

// fuzzTagMerge checks a format's merge on arbitrary registry content: no
// panic, and whatever parses ends up holding our entries, idempotently.
func fuzzTagMerge(t *testing.T, format tagFormat, doc []byte, ours []v1.Descriptor) {
	cur := &fetched{body: doc}
	have, rest, err := format.parse(cur)
	if err != nil {
		return
	}
	merged, _ := mergeEntries(format, have, ours, have)
	if len(merged) > maxLegacyLayers {
		return
	}
	plan, err := format.render(merged, rest)
	if err != nil {
		t.Fatalf("render() = %v", err)
	}
	again, rest2, err := format.parse(&fetched{body: plan.body})
	if err != nil {
		t.Fatalf("parse(render()) = %v\n%s", err, plan.body)
	}
	if _, changed := mergeEntries(format, again, ours, nil); changed {
		t.Fatalf("merge is not idempotent:\n%s", plan.body)
	}
	if _, err := format.render(again, rest2); err != nil {
		t.Fatal(err)
	}
}

func FuzzLegacyMerge(f *testing.F) {
	l, _ := SignatureLayer([]byte(`{"critical":{}}`), []byte("s"), LegacyMaterial{})
	d, _ := l.descriptor()
	existing, _ := mergePlan(legacyFormat{}, nil, []v1.Descriptor{d})
	f.Add(existing.body)
	f.Add([]byte(`{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{"mediaType":"application/vnd.docker.container.image.v1+json","size":1,"digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"},"layers":[]}`))
	f.Add([]byte(`{"schemaVersion":2,"layers":[{"digest":"sha256:x"}]}`))
	f.Add([]byte(`{}`))
	ours, _ := SignatureLayer([]byte(`{"critical":{"x":1}}`), []byte("t"), LegacyMaterial{})
	od, _ := ours.descriptor()
	f.Fuzz(func(t *testing.T, doc []byte) {
		fuzzTagMerge(t, legacyFormat{}, doc, []v1.Descriptor{od})
	})
}

func FuzzFallbackMerge(f *testing.F) {
	f.Add([]byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","size":10,"digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","artifactType":"application/vnd.oci.empty.v1+json"}]}`))
	f.Add([]byte(`{"schemaVersion":2,"manifests":[],"annotations":{"a":"b"}}`))
	f.Add([]byte(`{"schemaVersion":2,"manifests":[{"digest":"sha256:zz"}]}`))
	ours := v1.Descriptor{MediaType: types.OCIManifestSchema1, Size: 10, Digest: emptyDigest, ArtifactType: BundleMediaType,
		Annotations: map[string]string{AnnotationBundleContent: ContentDSSE}}
	f.Fuzz(func(t *testing.T, doc []byte) {
		fuzzTagMerge(t, fallbackFormat{}, doc, []v1.Descriptor{ours})
		if _, err := parseFallbackIndex(doc); err == nil {
			d := v1.Descriptor{MediaType: types.OCIManifestSchema1}
			_ = maybeBundle(d, BundleFilter{})
		}
	})
}

func FuzzNextLink(f *testing.F) {
	f.Add(`</v2/a/referrers/sha256:x?n=1&last=y>; rel="next"`)
	f.Add(`<https://other.example/v2/x>; rel="next"`)
	f.Add(`<:bad>; rel="next", <x>; rel=prev`)
	base, _ := url.Parse("https://reg.example/v2/a/referrers/sha256:x")
	f.Fuzz(func(t *testing.T, link string) {
		h := http.Header{}
		h.Set("Link", link)
		next, err := nextLink(&response{header: h, url: base})
		if err != nil || next == "" {
			return
		}
		u, err := url.Parse(next)
		if err != nil || u.Host != base.Host {
			t.Errorf("nextLink(%q) = %q leaves the registry", link, next)
		}
	})
}
