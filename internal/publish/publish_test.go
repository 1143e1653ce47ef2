package publish

import (
	"context"
	"io"
	"log"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/sigstore/sigstore-go/pkg/sign"

	"github.com/sealsign/seal/internal/oci"
	"github.com/sealsign/seal/internal/signing"
)

func setup(t *testing.T) (*signing.Signer, *oci.Client, string) {
	t.Helper()
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	img, err := random.Image(128, 1)
	if err != nil {
		t.Fatal(err)
	}
	ref, _ := name.ParseReference(host+"/app:v1", name.Insecure)
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	kp, err := sign.NewEphemeralKeypair(nil)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := signing.NewKeyed(kp)
	if err != nil {
		t.Fatal(err)
	}
	reg, err := oci.New(oci.WithInsecureHosts(host), oci.WithWriteAccess())
	if err != nil {
		t.Fatal(err)
	}
	return signer, reg, ref.String()
}

func TestPublishBothFormatsThenRerun(t *testing.T) {
	signer, reg, ref := setup(t)
	p, err := New(signer, reg)
	if err != nil {
		t.Fatal(err)
	}
	sbom := Predicate{Type: "https://spdx.dev/Document", JSON: []byte(`{"spdxVersion":"SPDX-2.3","SPDXID":"SPDXRef-DOCUMENT"}`)}
	req := Request{Ref: ref, Sign: true, Attestations: []Attestation{sbom}}
	rep, err := p.Publish(context.Background(), req)
	if err != nil {
		t.Fatalf("Publish() = %v", err)
	}
	if rep.Image.Tag != "v1" {
		t.Errorf("Image.Tag = %q, want v1 (resolved from the tag)", rep.Image.Tag)
	}
	got := map[string]int{}
	for _, it := range rep.Items {
		if it.Existed {
			t.Errorf("first run: %s %s reported as existing", it.Format, it.Kind)
		}
		if it.Ref == "" {
			t.Errorf("%s %s has no ref", it.Format, it.Kind)
		}
		got[it.Format.String()+" "+it.Kind]++
	}
	for _, k := range []string{"bundle signature", "legacy signature", "bundle attestation", "legacy attestation"} {
		if got[k] != 1 {
			t.Errorf("%s: %d items, want 1 (all: %v)", k, got[k], got)
		}
	}
	rep2, err := p.Publish(context.Background(), req)
	if err != nil {
		t.Fatalf("second Publish() = %v", err)
	}
	for _, it := range rep2.Items {
		if !it.Existed {
			t.Errorf("re-run published %s %s again", it.Format, it.Kind)
		}
	}
	if len(rep2.Items) != 4 {
		t.Errorf("re-run reported %d items, want 4", len(rep2.Items))
	}
}

func TestPublishErrors(t *testing.T) {
	signer, reg, ref := setup(t)
	p, _ := New(signer, reg, WithFormat(oci.Bundle))
	if _, err := p.Publish(context.Background(), Request{Ref: ref}); err == nil || !strings.Contains(err.Error(), "nothing to publish") {
		t.Errorf("Publish(nothing) = %v", err)
	}
	if _, err := p.Publish(context.Background(), Request{Ref: strings.Replace(ref, ":v1", ":missing", 1), Sign: true}); err == nil {
		t.Error("Publish(missing tag) succeeded")
	}
	bad := Predicate{Type: "https://example.com/x", JSON: []byte(`{not json`)}
	if _, err := p.Publish(context.Background(), Request{Ref: ref, Attestations: []Attestation{bad}}); err == nil || !strings.Contains(err.Error(), "is not a JSON object") {
		t.Errorf("Publish(bad predicate) = %v", err)
	}
	if _, err := New(signer, reg, WithJobs(0)); err == nil {
		t.Error("WithJobs(0) accepted")
	}
}
