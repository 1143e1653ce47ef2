package verify

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/sigstore/sigstore-go/pkg/fulcio/certificate"

	"github.com/sealsign/seal/internal/identity"
	"github.com/sealsign/seal/internal/oci"
	"github.com/sealsign/seal/internal/oci/bundle"
	"github.com/sealsign/seal/internal/oci/legacy"
	"github.com/sealsign/seal/internal/predicate"
)

var updateVSA = flag.Bool("update-vsa", false, "rewrite testdata/vsa golden files")

const vsaImage = "ghcr.io/acme/app@" + testDigest

// vsaReport is a verification of vsaImage on a GitHub-hosted runner: the
// signature and the provenance in bundle format, the provenance in legacy
// format too.
func vsaReport(runner string) *Report {
	cert := &certificate.Summary{SubjectAlternativeName: "https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main"}
	cert.RunnerEnvironment = runner
	return &Report{Image: vsaImage, Findings: []Finding{
		{Subject: vsaImage, Kind: "signature", Format: oci.Bundle, PredicateType: predicate.CosignSign, Certificate: cert,
			Entry: "ghcr.io/acme/app@sha256:" + strings.Repeat("a", 64), EntryDigest: "sha256:" + strings.Repeat("a", 64)},
		{Subject: vsaImage, Kind: "attestation", Format: oci.Bundle, PredicateType: predicate.SLSAProvenanceV1, Certificate: cert,
			Entry: "ghcr.io/acme/app@sha256:" + strings.Repeat("b", 64), EntryDigest: "sha256:" + strings.Repeat("b", 64)},
		{Subject: vsaImage, Kind: "attestation", Format: oci.Legacy, PredicateType: predicate.SLSAProvenanceV1, Certificate: cert,
			Entry: "ghcr.io/acme/app:sha256-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.att", EntryDigest: "sha256:" + strings.Repeat("c", 64)},
	}}
}

func vsaPolicy() Policy {
	id := &identity.Identity{Issuer: "https://token.actions.githubusercontent.com", SubjectRegexp: `^https://github\.com/acme/app/`}
	id.Extensions.SourceRepositoryURI = "https://github.com/acme/app"
	id.Extensions.RunnerEnvironment = "github-hosted"
	id.RefuseTriggers = []string{"workflow_run", "pull_request_target"}
	return Policy{Identity: id, RequireTlog: true, RequireSignature: true,
		Attestations: []string{predicate.SLSAProvenanceV1 + "|" + predicate.SLSAProvenanceV02},
		Provenance:   &ProvenanceCheck{SourceRef: "refs/heads/main"}}
}

// TestVSAGolden: the statement seal verify --vsa writes, passed and failed.
func TestVSAGolden(t *testing.T) {
	at := time.Date(2026, 12, 3, 8, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name   string
		passed bool
	}{{"passed", true}, {"failed", false}} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := NewVSA(vsaReport("github-hosted"), vsaPolicy(), tc.passed, VSAOptions{Time: at, Version: "v1.2.3"})
			if err != nil {
				t.Fatalf("NewVSA() = %v", err)
			}
			got, err := v.Statement()
			if err != nil {
				t.Fatalf("Statement() = %v", err)
			}
			path := filepath.Join("testdata", "vsa", tc.name+".json")
			if *updateVSA {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(string(want), string(got)); diff != "" {
				t.Errorf("statement (-want +got):\n%s", diff)
			}
			st, err := ReadVSA(got)
			if err != nil {
				t.Fatalf("ReadVSA() = %v", err)
			}
			if st.Digest != strings.TrimPrefix(testDigest, "sha256:") {
				t.Errorf("ReadVSA().Digest = %s", st.Digest)
			}
		})
	}
}

// TestVSALevels: the level is what the weakest verified subject's
// provenance shows, and never more than Build L2.
func TestVSALevels(t *testing.T) {
	noProv := vsaReport("github-hosted")
	noProv.Findings = noProv.Findings[:1]
	keyed := vsaReport("")
	for i := range keyed.Findings {
		keyed.Findings[i].Certificate = nil
	}
	child := "ghcr.io/acme/app@sha256:" + strings.Repeat("9", 64)
	index := vsaReport("github-hosted")
	index.Findings = append(index.Findings, Finding{Subject: child, Kind: "signature"})
	for _, tc := range []struct {
		name string
		rep  *Report
		want string
	}{
		{"hosted runner, keyless", vsaReport("github-hosted"), LevelBuild2},
		{"GitLab-hosted runner", vsaReport("gitlab-hosted"), LevelBuild2},
		{"self-hosted runner", vsaReport("self-hosted"), LevelBuild1},
		{"key", keyed, LevelBuild1},
		{"no provenance", noProv, LevelBuild0},
		{"a platform without provenance", index, LevelBuild0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := buildLevel(tc.rep); got != tc.want {
				t.Errorf("buildLevel() = %s, want %s", got, tc.want)
			}
		})
	}
}

// TestPolicyDocument: the digest depends on the checks, not on the order
// the flags named them in, and the URI spells them out.
func TestPolicyDocument(t *testing.T) {
	a, b := vsaPolicy(), vsaPolicy()
	b.Identity.RefuseTriggers = []string{"pull_request_target", "workflow_run"}
	if a.Document(false).Digest() != b.Document(false).Digest() {
		t.Error("the same checks in another order have another digest")
	}
	b.Provenance.SourceRef = "refs/heads/dev"
	if a.Document(false).Digest() == b.Document(false).Digest() {
		t.Error("other checks have the same digest")
	}
	uri := a.Document(false).URI()
	for _, want := range []string{"seal:verify?", "ext.runnerEnvironment=github-hosted", "provenance.sourceRef=refs%2Fheads%2Fmain", "refuseTriggers=pull_request_target&refuseTriggers=workflow_run", "requireSignature=true"} {
		if !strings.Contains(uri, want) {
			t.Errorf("URI %s does not contain %s", uri, want)
		}
	}
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if d := (Policy{Key: k.Public()}).Document(false); !strings.HasPrefix(d.Key, "sha256:") || d.Issuer != "" {
		t.Errorf("keyed policy document = %+v", d)
	}
}

// TestValidateVSA names the field that is wrong.
func TestValidateVSA(t *testing.T) {
	for _, tc := range []struct{ name, pred, want string }{
		{"empty", `{}`, "verifier.id is required"},
		{"bad result", `{"verifier":{"id":"x:y"},"timeVerified":"2026-01-01T00:00:00Z","resourceUri":"r","policy":{"uri":"p:q"},"verificationResult":"OK","verifiedLevels":["SLSA_BUILD_LEVEL_1"]}`, `verificationResult is "OK"`},
		{"two build levels", `{"verifier":{"id":"x:y"},"timeVerified":"2026-01-01T00:00:00Z","resourceUri":"r","policy":{"uri":"p:q"},"verificationResult":"PASSED","verifiedLevels":["SLSA_BUILD_LEVEL_1","SLSA_BUILD_LEVEL_2"]}`, "build track twice"},
		{"input without digest", `{"verifier":{"id":"x:y"},"timeVerified":"2026-01-01T00:00:00Z","resourceUri":"r","policy":{"uri":"p:q"},"verificationResult":"PASSED","verifiedLevels":["SLSA_BUILD_LEVEL_1"],"inputAttestations":[{"uri":"a"}]}`, "inputAttestations[0].digest is required"},
		{"bad time", `{"timeVerified":"yesterday"}`, "parsing verification summary"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ValidateVSA([]byte(tc.pred))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("ValidateVSA() = %v, want an error saying %q", err, tc.want)
			}
		})
	}
}

// vsaStatement is a VSA about digest whose resourceUri names resource.
func vsaStatement(digest, resource, result string) []byte {
	level := LevelBuild2
	if result == ResultFailed {
		level = LevelFailed
	}
	return []byte(fmt.Sprintf(`{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"app","digest":{"sha256":%q}}],"predicateType":%q,"predicate":`+
		`{"verifier":{"id":%q},"timeVerified":"2026-12-03T08:00:00Z","resourceUri":%q,"policy":{"uri":"seal:verify?requireSignature=true","digest":{"sha256":"00"}},"verificationResult":%q,"verifiedLevels":[%q],"slsaVersion":"1.0"}}`,
		strings.TrimPrefix(digest, "sha256:"), predicate.VSA, VerifierID, resource, result, level))
}

// TestVSARequirement: a required VSA is satisfied only by one that PASSED,
// from Seal's verifier, about this image; a FAILED one, another verifier's,
// or one whose resourceUri names another digest, is rejected with its
// reason. And a VSA written from the
// run that verified them names what verified, by digest.
func TestVSARequirement(t *testing.T) {
	ctx := context.Background()
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	writer, err := oci.New(oci.WithInsecureHosts(host), oci.WithWriteAccess())
	if err != nil {
		t.Fatal(err)
	}
	signer, kp := keyedSigner(t)
	push := func(repo string) oci.Subject {
		ref, err := name.ParseReference(host+"/"+repo+":v1", name.Insecure)
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
		s, err := writer.Resolve(ctx, ref.String())
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	attach := func(s oci.Subject, st []byte) {
		res, err := signer.SignDSSE(ctx, predicate.InTotoPayloadType, st)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := bundle.Put(ctx, writer, s, bundle.Artifact{Bundle: res.JSON, Content: bundle.ContentDSSE, PredicateType: predicate.VSA}); err != nil {
			t.Fatal(err)
		}
		l, err := legacy.AttestationLayer(res.Envelope, predicate.VSA, legacy.Material{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := legacy.Append(ctx, writer, s, legacy.Attestation, []legacy.Layer{l}); err != nil {
			t.Fatal(err)
		}
	}
	reader, err := oci.New(oci.WithInsecureHosts(host))
	if err != nil {
		t.Fatal(err)
	}
	p := Policy{Key: kp.GetPublicKey(), Attestations: []string{predicate.VSA}, Exhaustive: true}
	other := "sha256:" + strings.Repeat("e", 64)
	for _, tc := range []struct {
		name      string
		statement func(s oci.Subject) []byte
		want      string // "" passes
	}{
		{"passed", func(s oci.Subject) []byte {
			return vsaStatement(s.Descriptor.Digest.String(), s.String(), ResultPassed)
		}, ""},
		{"passed, resource without digest", func(s oci.Subject) []byte {
			return vsaStatement(s.Descriptor.Digest.String(), s.Ref.Context().String(), ResultPassed)
		}, ""},
		{"failed", func(s oci.Subject) []byte {
			return vsaStatement(s.Descriptor.Digest.String(), s.String(), ResultFailed)
		}, "verificationResult FAILED"},
		{"another resource", func(s oci.Subject) []byte {
			return vsaStatement(s.Descriptor.Digest.String(), s.Ref.Context().String()+"@"+other, ResultPassed)
		}, "names another artifact"},
		{"another verifier", func(s oci.Subject) []byte {
			return bytes.Replace(vsaStatement(s.Descriptor.Digest.String(), s.String(), ResultPassed), []byte(VerifierID), []byte("https://verifier.example.com"), 1)
		}, `from verifier "https://verifier.example.com", want "` + VerifierID + `"`},
		{"another subject", func(s oci.Subject) []byte {
			return vsaStatement(other, s.Ref.Context().String()+"@"+other, ResultPassed)
		}, "about another artifact"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := push("vsa/" + strings.ReplaceAll(strings.ReplaceAll(tc.name, " ", "-"), ",", ""))
			attach(s, tc.statement(s))
			rep, err := New(reader).Verify(ctx, s.String(), p, false)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Verify() = %v", err)
				}
				if len(rep.Findings) != 2 {
					t.Fatalf("findings %+v: want the VSA in both formats", rep.Findings)
				}
				v, err := NewVSA(rep, p, true, VSAOptions{Time: time.Now()})
				if err != nil {
					t.Fatal(err)
				}
				st, err := v.Statement()
				if err != nil {
					t.Fatal(err)
				}
				if _, err := ReadVSA(st); err != nil {
					t.Fatalf("ReadVSA() = %v", err)
				}
				var inputs []string
				for _, in := range v.InputAttestations {
					inputs = append(inputs, in.URI+" "+in.Digest["sha256"])
				}
				joined := strings.Join(inputs, "\n")
				if len(inputs) != 2 || !strings.Contains(joined, s.Ref.Context().String()+"@sha256:") || !strings.Contains(joined, ".att ") {
					t.Errorf("input attestations:\n%s\nwant the referrer and the .att tag, each with a digest", joined)
				}
				if v.VerifiedLevels[0] != LevelBuild0 {
					t.Errorf("verified levels %v: a VSA alone is no provenance", v.VerifiedLevels)
				}
				return
			}
			if err == nil {
				t.Fatalf("Verify() accepted a VSA it must refuse; findings %+v", rep.Findings)
			}
			if len(rep.Rejected) != 2 || !strings.Contains(rep.Rejected[0], tc.want) || !strings.Contains(rep.Rejected[1], tc.want) {
				t.Fatalf("rejected %q: want both formats rejected saying %q", rep.Rejected, tc.want)
			}
			t.Logf("refused as expected: %s", rep.Rejected[0])
		})
	}
}

// TestReadVSARefuses what seal attest --vsa must not sign.
func TestReadVSARefuses(t *testing.T) {
	other := strings.Repeat("e", 64)
	for _, tc := range []struct {
		name string
		st   []byte
		want string
	}{
		{"another predicate", bytes.Replace(vsaStatement(testDigest, vsaImage, ResultPassed), []byte(predicate.VSA), []byte(predicate.SPDX), 1), "predicateType is"},
		{"resource naming another digest", vsaStatement(testDigest, "ghcr.io/acme/app@sha256:"+other, ResultPassed), "names another artifact"},
		{"not a statement", []byte(`{"verifier":{"id":"x"}}`), "in-toto statement"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ReadVSA(tc.st); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("ReadVSA() = %v, want an error saying %q", err, tc.want)
			}
		})
	}
	var v map[string]any
	if err := json.Unmarshal(vsaStatement(testDigest, vsaImage, ResultPassed), &v); err != nil {
		t.Fatalf("the test's own statement is not JSON: %v", err)
	}
}
