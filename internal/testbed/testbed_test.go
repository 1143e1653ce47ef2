package testbed_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/fulcio/certificate"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/sign"
	"github.com/sigstore/sigstore-go/pkg/verify"

	"github.com/sealsign/seal/internal/testbed"
)

const artifactType = "application/vnd.sealsign.test+json"

// TestRegistries pushes an image and an artifact referring to it to every kind of registry and
// records which kinds answer the OCI referrers API, which the RegistryKind docs promise.
func TestRegistries(t *testing.T) {
	for _, kind := range testbed.RegistryKinds() {
		t.Run(string(kind), func(t *testing.T) {
			reg := testbed.StartRegistry(t, kind)
			t.Logf("%s started in %s on %s", kind, reg.Startup, reg.Host)
			if !strings.HasPrefix(reg.Host, "127.0.0.1:") {
				t.Errorf("Host = %q, want 127.0.0.1:PORT", reg.Host)
			}

			img, err := random.Image(256, 1)
			if err != nil {
				t.Fatalf("random.Image() = %v", err)
			}
			ref, err := name.ParseReference(reg.Repo("demo/app:v1"))
			if err != nil {
				t.Fatalf("ParseReference() = %v", err)
			}
			if err := remote.Write(ref, img); err != nil {
				t.Fatalf("remote.Write(image) = %v", err)
			}
			got, err := remote.Image(ref)
			if err != nil {
				t.Fatalf("remote.Image() = %v", err)
			}
			wantDigest, _ := img.Digest()
			if d, _ := got.Digest(); d != wantDigest {
				t.Fatalf("pulled digest %v, pushed %v", d, wantDigest)
			}

			// An artifact with a subject: ggcr asks the registry for its referrers API and
			// falls back to the sha256-<hex> tag when it has none.
			desc, err := remote.Head(ref)
			if err != nil {
				t.Fatalf("remote.Head() = %v", err)
			}
			art := artifact(t, *desc)
			artDigest, _ := art.Digest()
			artRef := ref.Context().Digest(artDigest.String())
			if err := remote.Write(artRef, art); err != nil {
				t.Fatalf("remote.Write(artifact) = %v", err)
			}

			status, idx := getReferrers(t, reg, "demo/app", wantDigest, "")
			// Distribution answers 404, which is what clients take as "no referrers API".
			if got, want := status == http.StatusOK, kind.Referrers(); got != want || (!got && status != http.StatusNotFound) {
				t.Fatalf("GET referrers: status %d; %s.Referrers() = %v", status, kind, want)
			}
			if kind.Referrers() {
				if len(idx.Manifests) != 1 || idx.Manifests[0].Digest != artDigest || string(idx.Manifests[0].ArtifactType) != artifactType {
					t.Errorf("referrers = %+v, want one %s with artifactType %s", idx.Manifests, artDigest, artifactType)
				}
				// olareg applies the artifactType filter; ggcr's registry ignores it, so clients
				// must filter themselves (remote.Referrers does).
				_, filtered := getReferrers(t, reg, "demo/app", wantDigest, "application/vnd.other")
				if got, want := len(filtered.Manifests), map[testbed.RegistryKind]int{testbed.Olareg: 0, testbed.InProcess: 1}[kind]; got != want {
					t.Errorf("referrers filtered by another artifactType: %d entries, want %d", got, want)
				}
			} else {
				fallback := ref.Context().Tag(strings.Replace(wantDigest.String(), ":", "-", 1))
				fi, err := remote.Index(fallback)
				if err != nil {
					t.Fatalf("remote.Index(%s) = %v; ggcr should have written the fallback tag", fallback, err)
				}
				m, err := fi.IndexManifest()
				if err != nil {
					t.Fatalf("IndexManifest() = %v", err)
				}
				if len(m.Manifests) != 1 || m.Manifests[0].Digest != artDigest {
					t.Errorf("fallback index = %+v, want the artifact %s", m.Manifests, artDigest)
				}
			}

			// remote.Referrers hides the difference.
			rs, err := remote.Referrers(ref.Context().Digest(wantDigest.String()))
			if err != nil {
				t.Fatalf("remote.Referrers() = %v", err)
			}
			rm, _ := rs.IndexManifest()
			if len(rm.Manifests) != 1 {
				t.Errorf("remote.Referrers() has %d manifests, want 1", len(rm.Manifests))
			}
		})
	}
}

func artifact(t *testing.T, subject v1.Descriptor) v1.Image {
	t.Helper()
	img, err := mutate.AppendLayers(empty.Image, static.NewLayer([]byte(`{"hello":"seal"}`), "application/json"))
	if err != nil {
		t.Fatalf("AppendLayers() = %v", err)
	}
	img = mutate.MediaType(img, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, artifactType)
	return mutate.Subject(img, subject).(v1.Image)
}

func getReferrers(t *testing.T, reg *testbed.Registry, repo string, d v1.Hash, filter string) (int, v1.IndexManifest) {
	t.Helper()
	u := fmt.Sprintf("http://%s/v2/%s/referrers/%s", reg.Host, repo, d)
	if filter != "" {
		u += "?artifactType=" + filter
	}
	resp, err := http.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	var idx v1.IndexManifest
	if resp.StatusCode == http.StatusOK {
		if err := json.NewDecoder(resp.Body).Decode(&idx); err != nil {
			t.Fatalf("decoding referrers: %v", err)
		}
		t.Logf("%s: GET referrers%s: 200, OCI-Filters-Applied=%q", reg.Kind, map[bool]string{true: " (filtered)"}[filter != ""], resp.Header.Get("OCI-Filters-Applied"))
	}
	return resp.StatusCode, idx
}

// TestIssuerTokenVerifiesAgainstJWKS checks the discovery document and JWKS a relying party
// (Fulcio, via go-oidc) uses to verify minted tokens.
func TestIssuerTokenVerifiesAgainstJWKS(t *testing.T) {
	iss := testbed.StartIssuer(t)
	for _, tc := range []struct {
		name   string
		issuer string
		claims map[string]any
	}{
		{"github", iss.GitHub, testbed.GitHubClaims("sealsign/demo")},
		{"gitlab", iss.GitLab, testbed.GitLabClaims("sealsign/tools/demo")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var disc struct {
				Issuer  string `json:"issuer"`
				JWKSURI string `json:"jwks_uri"`
			}
			getJSON(t, tc.issuer+"/.well-known/openid-configuration", &disc)
			if disc.Issuer != tc.issuer {
				t.Errorf("discovery issuer = %q, want %q", disc.Issuer, tc.issuer)
			}
			var jwks jose.JSONWebKeySet
			getJSON(t, disc.JWKSURI, &jwks)

			tok := iss.Mint(tc.issuer, tc.claims)
			jws, err := jose.ParseSigned(tok, []jose.SignatureAlgorithm{jose.RS256})
			if err != nil {
				t.Fatalf("ParseSigned() = %v", err)
			}
			keys := jwks.Key(jws.Signatures[0].Header.KeyID)
			if len(keys) != 1 {
				t.Fatalf("JWKS has %d keys for kid %q", len(keys), jws.Signatures[0].Header.KeyID)
			}
			payload, err := jws.Verify(keys[0].Key)
			if err != nil {
				t.Fatalf("Verify() = %v", err)
			}
			var got map[string]any
			if err := json.Unmarshal(payload, &got); err != nil {
				t.Fatalf("decoding payload: %v", err)
			}
			if got["iss"] != tc.issuer || got["aud"] != "sigstore" || got["sub"] != tc.claims["sub"] {
				t.Errorf("iss, aud, sub = %v, %v, %v", got["iss"], got["aud"], got["sub"])
			}
			exp, _ := got["exp"].(float64)
			if d := time.Until(time.Unix(int64(exp), 0)); d < 5*time.Minute {
				t.Errorf("token expires in %s, want about 10m", d)
			}
		})
	}
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("decoding %s: %v", url, err)
	}
}

// TestKeyless is the end-to-end proof that the peers fit together: a token minted by the test
// issuer buys a Fulcio certificate carrying the CI claims as extensions, the TSA timestamps the
// signature, and sigstore-go verifies the bundle against the testbed's trusted root. Packages
// that sign keylessly can copy it.
func TestKeyless(t *testing.T) {
	ctx := context.Background()
	iss := testbed.StartIssuer(t)
	fulcio := testbed.StartFulcio(t, iss)
	tsa := testbed.StartTSA(t)
	t.Logf("fulcio started in %s, timestamp-server in %s", fulcio.Startup, tsa.Startup)
	if chain := tsa.Chain(); len(chain) != 3 || !chain[2].IsCA || chain[0].IsCA {
		t.Errorf("TSA chain has %d certificates, want leaf, intermediate, root", len(chain))
	}

	trPath := testbed.TrustedRoot(t, fulcio, tsa)
	tr, err := root.NewTrustedRootFromPath(trPath)
	if err != nil {
		t.Fatalf("NewTrustedRootFromPath() = %v", err)
	}
	checkJSONL(t, testbed.TrustedRootJSONL(t, fulcio, tsa))

	// Sign through the signing config, as a client configured only by it would.
	sc, err := root.NewSigningConfigFromPath(testbed.SigningConfig(t, fulcio, tsa))
	if err != nil {
		t.Fatalf("NewSigningConfigFromPath() = %v", err)
	}
	caURL, err := root.SelectService(sc.FulcioCertificateAuthorityURLs(), []uint32{1}, time.Now())
	if err != nil {
		t.Fatalf("SelectService(ca) = %v", err)
	}
	tsaURLs, err := root.SelectServices(sc.TimestampAuthorityURLs(), sc.TimestampAuthorityURLsConfig(), []uint32{1}, time.Now())
	if err != nil {
		t.Fatalf("SelectServices(tsa) = %v", err)
	}
	if caURL.URL != fulcio.URL || len(tsaURLs) != 1 || tsaURLs[0].URL != tsa.TimestampURL() {
		t.Fatalf("signing config names %v and %v, want %s and %s", caURL.URL, tsaURLs, fulcio.URL, tsa.TimestampURL())
	}

	for _, tc := range []struct {
		name   string
		issuer string
		claims map[string]any
		san    string
		want   certificate.Extensions
	}{{
		name:   "github",
		issuer: iss.GitHub,
		claims: testbed.GitHubClaims("sealsign/demo"),
		san:    "https://github.com/sealsign/demo/.github/workflows/release.yml@refs/heads/main",
		want: certificate.Extensions{
			Issuer:                              iss.GitHub,
			GithubWorkflowTrigger:               "push",
			GithubWorkflowSHA:                   "4f6c5c8e3b1d9a27f0e8d1c2b3a4958677a6b5c4",
			GithubWorkflowName:                  "release",
			GithubWorkflowRepository:            "sealsign/demo",
			GithubWorkflowRef:                   "refs/heads/main",
			BuildSignerURI:                      "https://github.com/sealsign/demo/.github/workflows/release.yml@refs/heads/main",
			BuildSignerDigest:                   "4f6c5c8e3b1d9a27f0e8d1c2b3a4958677a6b5c4",
			RunnerEnvironment:                   "github-hosted",
			SourceRepositoryURI:                 "https://github.com/sealsign/demo",
			SourceRepositoryDigest:              "4f6c5c8e3b1d9a27f0e8d1c2b3a4958677a6b5c4",
			SourceRepositoryRef:                 "refs/heads/main",
			SourceRepositoryIdentifier:          "123456789",
			SourceRepositoryOwnerURI:            "https://github.com/sealsign",
			SourceRepositoryOwnerIdentifier:     "987654",
			BuildConfigURI:                      "https://github.com/sealsign/demo/.github/workflows/release.yml@refs/heads/main",
			BuildConfigDigest:                   "4f6c5c8e3b1d9a27f0e8d1c2b3a4958677a6b5c4",
			BuildTrigger:                        "push",
			RunInvocationURI:                    "https://github.com/sealsign/demo/actions/runs/11223344556/attempts/1",
			SourceRepositoryVisibilityAtSigning: "public",
		},
	}, {
		name:   "gitlab",
		issuer: iss.GitLab,
		claims: testbed.GitLabClaims("sealsign/tools/demo"),
		san:    "https://gitlab.com/sealsign/tools/demo//.gitlab-ci.yml@refs/heads/main",
		want: certificate.Extensions{
			Issuer:                              iss.GitLab,
			BuildSignerURI:                      "https://gitlab.com/sealsign/tools/demo//.gitlab-ci.yml@refs/heads/main",
			BuildSignerDigest:                   "8d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e",
			RunnerEnvironment:                   "gitlab-hosted",
			SourceRepositoryURI:                 "https://gitlab.com/sealsign/tools/demo",
			SourceRepositoryDigest:              "8d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e",
			SourceRepositoryRef:                 "refs/heads/main",
			SourceRepositoryIdentifier:          "7788990",
			SourceRepositoryOwnerURI:            "https://gitlab.com/sealsign/tools",
			SourceRepositoryOwnerIdentifier:     "4455667",
			BuildConfigURI:                      "https://gitlab.com/sealsign/tools/demo//.gitlab-ci.yml@refs/heads/main",
			BuildConfigDigest:                   "8d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e",
			BuildTrigger:                        "push",
			RunInvocationURI:                    "https://gitlab.com/sealsign/tools/demo/-/jobs/8800000001",
			SourceRepositoryVisibilityAtSigning: "public",
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			token := iss.Mint(tc.issuer, tc.claims)
			keypair, err := sign.NewEphemeralKeypair(nil)
			if err != nil {
				t.Fatalf("NewEphemeralKeypair() = %v", err)
			}
			msg := []byte("sealed with a kiss\n")
			start := time.Now()
			pb, err := sign.Bundle(&sign.PlainData{Data: msg}, keypair, sign.BundleOptions{
				Context:                    ctx,
				CertificateProvider:        sign.NewFulcio(&sign.FulcioOptions{BaseURL: caURL.URL}),
				CertificateProviderOptions: &sign.CertificateProviderOptions{IDToken: token},
				TimestampAuthorities:       []*sign.TimestampAuthority{sign.NewTimestampAuthority(&sign.TimestampAuthorityOptions{URL: tsaURLs[0].URL})},
				// Bundle then verifies the result against the trusted root, too.
				TrustedRoot: tr,
			})
			if err != nil {
				t.Fatalf("sign.Bundle() = %v", err)
			}
			t.Logf("certificate + timestamp + signature took %s", time.Since(start))

			v, err := verify.NewVerifier(tr, verify.WithSignedTimestamps(1))
			if err != nil {
				t.Fatalf("NewVerifier() = %v", err)
			}
			id, err := verify.NewShortCertificateIdentity(tc.issuer, "", tc.san, "")
			if err != nil {
				t.Fatalf("NewShortCertificateIdentity() = %v", err)
			}
			b := bundleOf(t, pb)
			res, err := v.Verify(b, verify.NewPolicy(verify.WithArtifact(bytes.NewReader(msg)), verify.WithCertificateIdentity(id)))
			if err != nil {
				t.Fatalf("Verify() = %v", err)
			}
			if res.Signature == nil || res.Signature.Certificate == nil {
				t.Fatalf("Verify() result has no certificate: %+v", res)
			}
			cert := res.Signature.Certificate
			if cert.SubjectAlternativeName != tc.san {
				t.Errorf("SAN = %q, want %q", cert.SubjectAlternativeName, tc.san)
			}
			if diff := cmp.Diff(tc.want, cert.Extensions); diff != "" {
				t.Errorf("certificate extensions (-want +got):\n%s", diff)
			}
			if len(res.VerifiedTimestamps) != 1 || res.VerifiedTimestamps[0].Type != "TimestampAuthority" {
				t.Errorf("VerifiedTimestamps = %+v, want one from the TSA", res.VerifiedTimestamps)
			}

			// The same bundle must not verify for another workflow.
			other, _ := verify.NewShortCertificateIdentity(tc.issuer, "", tc.san+"x", "")
			if _, err := v.Verify(b, verify.NewPolicy(verify.WithArtifact(bytes.NewReader(msg)), verify.WithCertificateIdentity(other))); err == nil {
				t.Errorf("Verify() with the wrong SAN succeeded")
			}
		})
	}

	t.Run("rejects unknown issuer", func(t *testing.T) {
		keypair, _ := sign.NewEphemeralKeypair(nil)
		_, err := sign.NewFulcio(&sign.FulcioOptions{BaseURL: fulcio.URL}).GetCertificate(ctx, keypair,
			&sign.CertificateProviderOptions{IDToken: iss.Mint(iss.GitHub+"x", testbed.GitHubClaims("sealsign/demo"))})
		if err == nil {
			t.Fatal("Fulcio issued a certificate for a token from an unconfigured issuer")
		}
	})
}

func checkJSONL(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(lines) != 1 {
		t.Fatalf("%s has %d lines, want 1", path, len(lines))
	}
	if _, err := root.NewTrustedRootFromJSON([]byte(lines[0])); err != nil {
		t.Fatalf("NewTrustedRootFromJSON(JSONL line) = %v", err)
	}
}

// TestTrustedRootShape checks the trusted root's contents without relying on sigstore-go, so
// tools with their own parsers (gh, cosign, policy-controller) get what they expect.
func TestTrustedRootShape(t *testing.T) {
	fulcio := testbed.StartFulcio(t, testbed.StartIssuer(t))
	b, err := os.ReadFile(testbed.TrustedRoot(t, fulcio, nil))
	if err != nil {
		t.Fatal(err)
	}
	var tr struct {
		MediaType              string            `json:"mediaType"`
		Tlogs                  []json.RawMessage `json:"tlogs"`
		Ctlogs                 []json.RawMessage `json:"ctlogs"`
		CertificateAuthorities []struct {
			URI       string `json:"uri"`
			CertChain struct {
				Certificates []struct {
					RawBytes []byte `json:"rawBytes"`
				} `json:"certificates"`
			} `json:"certChain"`
			ValidFor struct {
				Start time.Time `json:"start"`
			} `json:"validFor"`
		} `json:"certificateAuthorities"`
		TimestampAuthorities []json.RawMessage `json:"timestampAuthorities"`
	}
	if err := json.Unmarshal(b, &tr); err != nil {
		t.Fatalf("decoding trusted root: %v", err)
	}
	if tr.MediaType != "application/vnd.dev.sigstore.trustedroot+json;version=0.1" {
		t.Errorf("mediaType = %q", tr.MediaType)
	}
	if len(tr.Tlogs)+len(tr.Ctlogs)+len(tr.TimestampAuthorities) != 0 || len(tr.CertificateAuthorities) != 1 {
		t.Fatalf("trusted root has %d tlogs, %d ctlogs, %d TSAs, %d CAs; want only 1 CA",
			len(tr.Tlogs), len(tr.Ctlogs), len(tr.TimestampAuthorities), len(tr.CertificateAuthorities))
	}
	ca := tr.CertificateAuthorities[0]
	if ca.URI != fulcio.URL || !ca.ValidFor.Start.Before(time.Now().Add(-time.Hour)) {
		t.Errorf("CA uri %q valid from %s", ca.URI, ca.ValidFor.Start)
	}
	c, err := x509.ParseCertificate(ca.CertChain.Certificates[0].RawBytes)
	if err != nil {
		t.Fatalf("parsing CA certificate: %v", err)
	}
	if !c.IsCA || !bytes.Equal(c.Raw, fulcio.RootCerts()[0].Raw) {
		t.Errorf("CA certificate %s is not Fulcio's root", c.Subject)
	}
}

func bundleOf(t *testing.T, pb *protobundle.Bundle) *bundle.Bundle {
	t.Helper()
	b, err := bundle.NewBundle(pb)
	if err != nil {
		t.Fatalf("bundle.NewBundle() = %v", err)
	}
	return b
}
