package demo

import (
	"context"
	"fmt"
	"io"
	stdlog "log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/sigstore/sigstore-go/pkg/sign"

	"github.com/sealsign/seal/internal/ci"
	"github.com/sealsign/seal/internal/oci"
	"github.com/sealsign/seal/internal/predicate"
	"github.com/sealsign/seal/internal/provenance"
	"github.com/sealsign/seal/internal/publish"
	"github.com/sealsign/seal/internal/signing"
	"github.com/sealsign/seal/internal/verify"
)

// SBOMType is the predicate type of the demo's SPDX SBOM.
const SBOMType = predicate.SPDX

// Result is what the demo did.
type Result struct {
	Registry  string // host:port
	Single    *publish.Report
	Index     *publish.Report
	Verified  []*verify.Report
	PublicKey string // PEM
	KeyPath   string // where the public key was written, when a directory was given
	// EmptyRootPath is a trusted_root.json with no authorities: what cosign
	// needs to verify keyed bundles offline.
	EmptyRootPath string
	Elapsed       time.Duration
	Provenance    []byte // the single image's provenance statement
}

// Demo owns the in-process registry.
type Demo struct {
	srv  *http.Server
	host string
	log  *slog.Logger
}

// Start serves an in-memory registry (with the OCI referrers API off, so
// the demo also exercises the Referrers Tag Schema fallback cosign v2
// and older registries need) on 127.0.0.1.
func Start(log *slog.Logger) (*Demo, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("starting the demo registry: %w", err)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	d := &Demo{
		srv:  &http.Server{Handler: registry.New(registry.Logger(stdlog.New(io.Discard, "", 0))), ReadHeaderTimeout: 10 * time.Second},
		host: ln.Addr().String(),
		log:  log,
	}
	go func() { _ = d.srv.Serve(ln) }()
	return d, nil
}

// Host is the registry's host:port.
func (d *Demo) Host() string { return d.host }

// Close stops the registry.
func (d *Demo) Close() error { return d.srv.Close() }

// Run pushes the demo images, signs and attests them, and verifies. With
// dir set, the public key is written there for cosign.
func (d *Demo) Run(ctx context.Context, dir string) (*Result, error) {
	start := time.Now()
	res := &Result{Registry: d.host}
	single, index, err := d.push(ctx)
	if err != nil {
		return nil, err
	}

	// An ephemeral key stands in for the CI identity: nothing to install,
	// nothing to log in to.
	kp, err := sign.NewEphemeralKeypair(nil)
	if err != nil {
		return nil, fmt.Errorf("generating demo key: %w", err)
	}
	if res.PublicKey, err = kp.GetPublicKeyPem(); err != nil {
		return nil, err
	}
	if dir != "" {
		res.KeyPath = filepath.Join(dir, "demo.pub")
		if err := os.WriteFile(res.KeyPath, []byte(res.PublicKey), 0o644); err != nil {
			return nil, fmt.Errorf("writing demo public key: %w", err)
		}
		res.EmptyRootPath = filepath.Join(dir, "empty_trusted_root.json")
		if err := os.WriteFile(res.EmptyRootPath, []byte(`{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1"}`+"\n"), 0o644); err != nil {
			return nil, fmt.Errorf("writing demo trusted root: %w", err)
		}
	}
	signer, err := signing.NewKeyed(kp)
	if err != nil {
		return nil, err
	}
	reg, err := oci.New(oci.WithInsecureHosts(d.host), oci.WithWriteAccess(), oci.WithDeferredCheck())
	if err != nil {
		return nil, err
	}
	pub, err := publish.New(signer, reg, publish.WithFormat(oci.Both))
	if err != nil {
		return nil, err
	}
	local, err := ci.NewLocal()
	if err != nil {
		return nil, err
	}
	md, err := local.Metadata(ctx, nil)
	if err != nil {
		return nil, err
	}
	prov := publish.Provenance{Metadata: md, Version: provenance.V1, FinishedOn: time.Now()}
	sbom := publish.Predicate{Type: SBOMType, JSON: demoSBOM}
	attest := []publish.Attestation{prov, sbom}

	if res.Single, err = pub.Publish(ctx, publish.Request{Ref: single, Sign: true, Attestations: attest}); err != nil {
		return nil, fmt.Errorf("publishing for %s: %w", single, err)
	}
	if res.Index, err = pub.Publish(ctx, publish.Request{Ref: index, Sign: true, Recursive: true, Attestations: attest}); err != nil {
		return nil, fmt.Errorf("publishing for %s: %w", index, err)
	}
	if st, err := prov.Statement(subjectOf(res.Single.Image)); err == nil {
		res.Provenance = st
	}

	v := verify.New(reg)
	// Exhaustive: the demo shows that both formats verify.
	policy := verify.Policy{Key: kp.GetPublicKey(), RequireSignature: true, Attestations: []string{predicate.SLSAProvenanceV1, SBOMType}, Exhaustive: true}
	for _, ref := range []string{res.Single.Image.String(), res.Index.Image.String()} {
		r, err := v.Verify(ctx, ref, policy, true)
		if err != nil {
			return nil, fmt.Errorf("verifying %s: %w", ref, err)
		}
		res.Verified = append(res.Verified, r)
	}
	res.Elapsed = time.Since(start)
	return res, nil
}

// push writes demo/app:v1 (one platform) and demo/app:multi (two).
func (d *Demo) push(ctx context.Context) (single, index string, err error) {
	img, err := random.Image(512, 2)
	if err != nil {
		return "", "", err
	}
	opts := []remote.Option{remote.WithContext(ctx)}
	ref, err := name.ParseReference(d.host+"/demo/app:v1", name.Insecure)
	if err != nil {
		return "", "", err
	}
	if err := remote.Write(ref, img, opts...); err != nil {
		return "", "", fmt.Errorf("pushing demo image: %w", err)
	}
	var idx v1.ImageIndex = empty.Index
	for _, arch := range []string{"amd64", "arm64"} {
		pimg, err := random.Image(256, 1)
		if err != nil {
			return "", "", err
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: pimg, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: arch}}})
	}
	iref, err := name.ParseReference(d.host+"/demo/app:multi", name.Insecure)
	if err != nil {
		return "", "", err
	}
	if err := remote.WriteIndex(iref, idx, opts...); err != nil {
		return "", "", fmt.Errorf("pushing demo index: %w", err)
	}
	return ref.String(), iref.String(), nil
}
