package verify

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/sealsign/seal/internal/oci"
	"github.com/sealsign/seal/internal/oci/bundle"
	"github.com/sealsign/seal/internal/oci/legacy"
	"github.com/sealsign/seal/internal/predicate"
)

// TestMalformedEntriesAreRejected: a referrer or a legacy layer that cannot
// be read is one rejected entry, named with its reason; the other entries of
// the image are still verified, and the policy they satisfy passes.
func TestMalformedEntriesAreRejected(t *testing.T) {
	for _, referrers := range []bool{true, false} {
		t.Run(fmt.Sprintf("referrers API %v", referrers), func(t *testing.T) {
			ctx := context.Background()
			srv := httptest.NewServer(registry.New(registry.WithReferrersSupport(referrers), registry.Logger(log.New(io.Discard, "", 0))))
			t.Cleanup(srv.Close)
			host := strings.TrimPrefix(srv.URL, "http://")
			ref, err := name.ParseReference(host+"/app:v1", name.Insecure)
			if err != nil {
				t.Fatal(err)
			}
			img, err := random.Image(64, 1)
			if err != nil {
				t.Fatal(err)
			}
			if err := remote.Write(ref, img); err != nil {
				t.Fatal(err)
			}
			writer, err := oci.New(oci.WithInsecureHosts(host), oci.WithWriteAccess())
			if err != nil {
				t.Fatal(err)
			}
			s, err := writer.Resolve(ctx, ref.String())
			if err != nil {
				t.Fatal(err)
			}
			signer, kp := keyedSigner(t)
			attach := func(pt string) (bundleBlob, envelopeBlob string) {
				res, err := signer.SignDSSE(ctx, predicate.InTotoPayloadType, statementAbout(s.Descriptor.Digest.String(), pt))
				if err != nil {
					t.Fatal(err)
				}
				if _, err := bundle.Put(ctx, writer, s, bundle.Artifact{Bundle: res.JSON, Content: bundle.ContentDSSE, PredicateType: pt}); err != nil {
					t.Fatal(err)
				}
				l, err := legacy.AttestationLayer(res.Envelope, pt, legacy.Material{})
				if err != nil {
					t.Fatal(err)
				}
				if _, err := legacy.Append(ctx, writer, s, legacy.Attestation, []legacy.Layer{l}); err != nil {
					t.Fatal(err)
				}
				return fmt.Sprintf("sha256:%x", sha256.Sum256(res.JSON)), fmt.Sprintf("sha256:%x", sha256.Sum256(res.Envelope))
			}
			const good, broken = "https://example.com/good/v1", "https://example.com/broken/v1"
			attach(good)
			// The broken entries' blobs are gone: the referrer manifest and
			// the legacy layer point at nothing.
			for _, blob := range func() []string { a, b := attach(broken); return []string{a, b} }() {
				req, _ := http.NewRequest(http.MethodDelete, srv.URL+"/v2/app/blobs/"+blob, nil)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode/100 != 2 {
					t.Fatalf("DELETE blob %s: %s", blob, resp.Status)
				}
			}

			// And the signature tag holds no manifest cosign could read.
			sigTag, err := legacy.Tag(s, legacy.Signature)
			if err != nil {
				t.Fatal(err)
			}
			req, _ := http.NewRequest(http.MethodPut, srv.URL+"/v2/app/manifests/"+sigTag, strings.NewReader(`{"schemaVersion":1,"layers":"x"}`))
			req.Header.Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode/100 != 2 {
				t.Fatalf("PUT %s: %s", sigTag, resp.Status)
			}

			reader, err := oci.New(oci.WithInsecureHosts(host), oci.WithRetry(1, 0))
			if err != nil {
				t.Fatal(err)
			}
			p := Policy{Key: kp.GetPublicKey(), Attestations: []string{good}, Exhaustive: true}
			rep, err := New(reader).Verify(ctx, s.String(), p, false)
			if err != nil {
				t.Fatalf("Verify() = %v, want the readable entries to satisfy the policy", err)
			}
			formats := map[oci.Format]bool{}
			for _, f := range rep.Findings {
				formats[f.Format] = true
			}
			if !formats[oci.Bundle] || !formats[oci.Legacy] {
				t.Errorf("findings %+v: want the good attestation in both formats", rep.Findings)
			}
			var bundleRejected, layerRejected, tagRejected bool
			for _, r := range rep.Rejected {
				bundleRejected = bundleRejected || strings.HasPrefix(r, "bundle ") && strings.Contains(r, "unreadable referrer")
				layerRejected = layerRejected || strings.HasPrefix(r, "legacy attestation sha256:") && strings.Contains(r, "unreadable layer")
				tagRejected = tagRejected || strings.HasPrefix(r, "legacy signature tag: unreadable tag: ") && strings.Contains(r, "parsing signature manifest")
			}
			if !bundleRejected || !layerRejected || !tagRejected {
				t.Errorf("rejected %q: want the unreadable referrer, legacy layer and signature tag, each with its reason", rep.Rejected)
			}
			t.Logf("rejected: %q", rep.Rejected)
		})
	}
}
