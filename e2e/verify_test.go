package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/sealsign/seal/internal/oci"
	"github.com/sealsign/seal/internal/oci/bundle"
	"github.com/sealsign/seal/internal/oci/legacy"
	"github.com/sealsign/seal/internal/testbed"
)

// keylessSign runs `seal attest --sign --provenance` for img with a token
// minted from claims, in a GitHub-shaped job environment built from them.
func (s *sigstore) keylessSign(t *testing.T, host, img, format string, claims map[string]any, extra ...string) {
	s.keylessRun(t, host, img, format, claims, append([]string{"--sign", "--provenance"}, extra...)...)
}

// keylessRun runs `seal attest` with exactly the given extra flags.
func (s *sigstore) keylessRun(t *testing.T, host, img, format string, claims map[string]any, extra ...string) {
	t.Helper()
	tok := s.issuer.Mint(s.issuer.GitHub, claims)
	env := []string{
		"GITHUB_ACTIONS=true", "GITHUB_SERVER_URL=https://github.com",
		"GITHUB_REPOSITORY=" + claims["repository"].(string), "GITHUB_SHA=" + claims["sha"].(string),
		"GITHUB_REF=" + claims["ref"].(string), "RUNNER_ENVIRONMENT=" + claims["runner_environment"].(string),
	}
	args := []string{"attest", "--format", format, "--insecure-registry", host, "--no-tlog",
		"--identity-token", tok, "--fulcio-url", s.fulcio.URL, "--timestamp-url", s.tsa.TimestampURL()}
	mustRun(t, env, sealBin, append(append(args, extra...), img)...)
}

// verifyArgs are seal verify's flags for this private instance.
func (s *sigstore) verifyArgs(host string, extra ...string) []string {
	return append([]string{"verify", "--trusted-root", s.root, "--no-tlog", "--insecure-registry", host,
		"--certificate-oidc-issuer", s.issuer.GitHub}, extra...)
}

func expectVerify(t *testing.T, ok bool, want string, args ...string) {
	t.Helper()
	out, err := run(t, nil, sealBin, args...)
	switch {
	case ok && err != nil:
		t.Fatalf("seal %s: %v\n%s", strings.Join(args, " "), err, out)
	case !ok && err == nil:
		t.Fatalf("seal verify accepted what it must refuse: seal %s\n%s", strings.Join(args, " "), out)
	case !ok && !strings.Contains(out, want):
		t.Logf("seal %s", strings.Join(args, " "))
		t.Fatalf("seal verify refused, but not saying %q:\n%s", want, out)
	case !ok:
		// The reason, for the record (go test -v).
		for _, l := range strings.Split(out, "\n") {
			if strings.Contains(l, want) {
				t.Logf("refused as expected: %s", strings.TrimSpace(l))
				break
			}
		}
	}
}

// TestSealVerifiesCosign: what cosign v2 (legacy tags) and v3 (bundles)
// write, keyed and keyless, seal verify accepts.
func TestSealVerifiesCosign(t *testing.T) {
	cosign := map[int]string{2: testbed.Bin(t, testbed.BinCosign), 3: testbed.Bin(t, testbed.BinCosignV3)}
	s := startSigstore(t)
	reg := testbed.StartRegistry(t, testbed.Olareg)
	dir := t.TempDir()
	genv, tok := s.githubEnv(t)
	// A provenance predicate from this GitHub job, for cosign attest.
	pred := filepath.Join(dir, "provenance.json")
	mustRun(t, genv, sealBin, "provenance", "--identity-token", tok, "--predicate-only", "-o", pred,
		"--subject", "x@sha256:"+strings.Repeat("0", 64))
	for _, v := range []int{2, 3} {
		for _, keyless := range []bool{false, true} {
			name := fmt.Sprintf("cosign-v%d/%s", v, map[bool]string{false: "key", true: "keyless"}[keyless])
			t.Run(name, func(t *testing.T) {
				img := pushImage(t, reg.Host, "cosigned/"+strings.ReplaceAll(name, "/", "-"))
				common := []string{"--allow-http-registry", "--tlog-upload=false", "--yes"}
				if keyless {
					common = append(common, "--identity-token", tok, "--fulcio-url", s.fulcio.URL, "--timestamp-server-url", s.tsa.TimestampURL())
				} else {
					common = append(common, "--key", s.key)
				}
				if v == 3 {
					common = append(common, "--use-signing-config=false", "--trusted-root", s.root)
				} else if keyless {
					common = append(common, "--insecure-skip-verify") // no CT log here
				}
				env := []string{"COSIGN_PASSWORD=" + s.password}
				mustRun(t, env, cosign[v], append(append([]string{"sign"}, common...), img)...)
				mustRun(t, env, cosign[v], append(append([]string{"attest", "--type", "slsaprovenance1", "--predicate", pred}, common...), img)...)
				args := []string{"verify", "--insecure-registry", reg.Host, "--attestation", "slsaprovenance1", "--json"}
				if keyless {
					args = append(args, "--github-repo", s.githubRepo, "--certificate-oidc-issuer", s.issuer.GitHub, "--trusted-root", s.root, "--no-tlog")
				} else {
					args = append(args, "--key", s.pub)
				}
				out := mustRun(t, nil, sealBin, append(args, img)...)
				want := map[int]string{2: `"format": "legacy"`, 3: `"format": "bundle"`}[v]
				if !strings.Contains(out, want) || !strings.Contains(out, `"verified": true`) {
					t.Errorf("seal verify of cosign v%d output does not report %s:\n%s", v, want, out)
				}
			})
		}
	}
}

// TestAttacks: one end-to-end test per attack the verifier must stop, each
// against a baseline that passes, on a real registry.
func TestAttacks(t *testing.T) {
	s := startSigstore(t)
	reg := testbed.StartRegistry(t, testbed.Distribution)
	ctx := context.Background()
	client, err := oci.New(oci.WithInsecureHosts(reg.Host), oci.WithWriteAccess())
	if err != nil {
		t.Fatal(err)
	}
	good := testbed.GitHubClaims(s.githubRepo)
	preset := []string{"--github-repo", s.githubRepo}
	resolve := func(t *testing.T, ref string) oci.Subject {
		sub, err := client.Resolve(ctx, ref)
		if err != nil {
			t.Fatal(err)
		}
		return sub
	}

	for _, format := range []string{"bundle", "legacy"} {
		t.Run(format, func(t *testing.T) {
			repo := "attacks-" + format
			img := pushImage(t, reg.Host, repo)
			s.keylessSign(t, reg.Host, img, format, good)
			expectVerify(t, true, "", append(s.verifyArgs(reg.Host, preset...), "--attestation", "slsaprovenance1", img)...)
			// Provenance facts a deployer pins: right ones pass, a wrong one
			// is refused naming what the provenance says.
			builder := "https://github.com/" + s.githubRepo + "/.github/workflows/release.yml@refs/heads/main"
			expectVerify(t, true, "", append(s.verifyArgs(reg.Host, preset...), "--source-repo", "https://github.com/"+s.githubRepo,
				"--source-ref", "main", "--builder-id", builder, img)...)
			expectVerify(t, false, `provenance builder is "`+builder+`", want`, append(s.verifyArgs(reg.Host, preset...),
				"--builder-id", "https://github.com/acme/payments/.github/workflows/other.yml@refs/heads/main", img)...)
			expectVerify(t, false, `provenance source ref is "refs/heads/main", want "refs/tags/v1"`, append(s.verifyArgs(reg.Host, preset...),
				"--source-ref", "refs/tags/v1", img)...)
			// Several images in one run: each is judged on its own.
			unsigned := pushImage(t, reg.Host, repo+"-unsigned")
			expectVerify(t, false, "1 of 2 images failed", append(s.verifyArgs(reg.Host, preset...), img, unsigned)...)

			t.Run("1 unsigned image under a signed tag", func(t *testing.T) {
				tag := reg.Host + "/" + repo + ":v1" // pushImage tagged the signed image v1
				expectVerify(t, true, "", append(s.verifyArgs(reg.Host, preset...), tag)...)
				evil, _ := random.Image(64, 1)
				ref, _ := name.ParseReference(tag, name.Insecure)
				if err := remote.Write(ref, evil); err != nil {
					t.Fatal(err)
				}
				expectVerify(t, false, "no valid signature", append(s.verifyArgs(reg.Host, preset...), tag)...)
			})
			t.Run("2 another repository or workflow", func(t *testing.T) {
				typo := pushImage(t, reg.Host, repo+"-typo")
				s.keylessSign(t, reg.Host, typo, format, testbed.GitHubClaims("acme/payment")) // typosquat
				expectVerify(t, false, `certificate identity is "https://github.com/acme/payment/.github`, append(s.verifyArgs(reg.Host, preset...), typo)...)
				other := pushImage(t, reg.Host, repo+"-workflow")
				s.keylessSign(t, reg.Host, other, format, testbed.GitHubClaimsWith(s.githubRepo, map[string]any{
					"job_workflow_ref": s.githubRepo + "/.github/workflows/debug.yml@refs/heads/main"}))
				expectVerify(t, true, "", append(s.verifyArgs(reg.Host, preset...), other)...)
				expectVerify(t, false, "does not match", append(s.verifyArgs(reg.Host, append(preset, "--github-workflow", ".github/workflows/release.yml")...), other)...)
			})
			t.Run("3 fork or unprotected branch", func(t *testing.T) {
				br := pushImage(t, reg.Host, repo+"-branch")
				s.keylessSign(t, reg.Host, br, format, testbed.GitHubClaimsWith(s.githubRepo, map[string]any{
					"ref": "refs/heads/feature", "ref_protected": "false", "event_name": "pull_request"}))
				expectVerify(t, false, `source repository ref is "refs/heads/feature", want "refs/heads/main"`, append(s.verifyArgs(reg.Host, append(preset, "--ref", "main")...), br)...)
				expectVerify(t, true, "", append(s.verifyArgs(reg.Host, preset...), img)...)
			})
			t.Run("4 attestation copied from another image", func(t *testing.T) {
				victim := pushImage(t, reg.Host, repo+"-copy")
				copyAttestations(t, client, resolve(t, img), resolve(t, victim), format)
				expectVerify(t, false, "about another artifact", append(s.verifyArgs(reg.Host, append(preset, "--no-signature", "--attestation", "slsaprovenance1")...), victim)...)
			})
			t.Run("5 provenance from another source", func(t *testing.T) {
				forged := pushImage(t, reg.Host, repo+"-forged")
				p := forgedProvenance(t, s)
				// Signed by the right job, but claiming another source.
				s.keylessRun(t, reg.Host, forged, format, good, "--sign", "--predicate", p, "--type", "slsaprovenance1")
				expectVerify(t, false, "but the signer's certificate was issued for", append(s.verifyArgs(reg.Host, preset...), "--attestation", "slsaprovenance1", forged)...)
			})
			t.Run("6 no valid timestamp for a short-lived certificate", func(t *testing.T) {
				nots := pushImage(t, reg.Host, repo+"-nots")
				s.keylessSign(t, reg.Host, nots, format, good, "--no-timestamp")
				expectVerify(t, false, "timestamp", append(s.verifyArgs(reg.Host, preset...), nots)...)
			})
			t.Run("7 tampered payload", func(t *testing.T) {
				// A valid provenance of img, its payload edited to name the
				// victim, attached to the victim.
				victim := pushImage(t, reg.Host, repo+"-tampered")
				tamper(t, client, resolve(t, img), resolve(t, victim), format)
				expectVerify(t, false, "does not verify", append(s.verifyArgs(reg.Host, preset...), "--no-signature", "--attestation", "slsaprovenance1", victim)...)
			})
			t.Run("8 self-hosted runner", func(t *testing.T) {
				sh := pushImage(t, reg.Host, repo+"-selfhosted")
				s.keylessSign(t, reg.Host, sh, format, testbed.GitHubClaimsWith(s.githubRepo, map[string]any{"runner_environment": "self-hosted"}))
				expectVerify(t, true, "", append(s.verifyArgs(reg.Host, preset...), sh)...)
				expectVerify(t, false, `runner environment is "self-hosted", want "github-hosted"`, append(s.verifyArgs(reg.Host, append(preset, "--hosted-runners-only")...), sh)...)
			})
		})
	}
}

// copyAttestations attaches from's valid provenance attestation to to.
func copyAttestations(t *testing.T, c *oci.Client, from, to oci.Subject, format string) {
	ctx := context.Background()
	if format == "bundle" {
		bs, err := bundle.List(ctx, c, from, bundle.Filter{PredicateType: "https://slsa.dev/provenance/v1"})
		if err != nil || len(bs) == 0 {
			t.Fatalf("Bundles() = %d, %v", len(bs), err)
		}
		if _, err := bundle.Put(ctx, c, to, bundle.Artifact{Bundle: bs[0].Bundle, Content: bs[0].Content, PredicateType: bs[0].PredicateType}); err != nil {
			t.Fatal(err)
		}
		return
	}
	ls, err := legacy.Read(ctx, c, from, legacy.Attestation)
	if err != nil || len(ls) == 0 {
		t.Fatalf("Legacy() = %d, %v", len(ls), err)
	}
	if _, err := legacy.Append(ctx, c, to, legacy.Attestation, ls); err != nil {
		t.Fatal(err)
	}
}

// tamper takes from's provenance attestation, edits its payload to be
// about to (keeping the signature), and attaches it to to.
func tamper(t *testing.T, c *oci.Client, from, to oci.Subject, format string) {
	ctx := context.Background()
	alter := func(payload string) string {
		st, err := base64.StdEncoding.DecodeString(payload)
		if err != nil {
			t.Fatal(err)
		}
		st = bytes.ReplaceAll(st, []byte(from.Descriptor.Digest.Hex), []byte(to.Descriptor.Digest.Hex))
		return base64.StdEncoding.EncodeToString(st)
	}
	if format == "bundle" {
		bs, err := bundle.List(ctx, c, from, bundle.Filter{PredicateType: "https://slsa.dev/provenance/v1"})
		if err != nil || len(bs) == 0 {
			t.Fatalf("Bundles() = %d, %v", len(bs), err)
		}
		var b map[string]any
		if err := json.Unmarshal(bs[0].Bundle, &b); err != nil {
			t.Fatal(err)
		}
		env := b["dsseEnvelope"].(map[string]any)
		env["payload"] = alter(env["payload"].(string))
		raw, _ := json.Marshal(b)
		if _, err := bundle.Put(ctx, c, to, bundle.Artifact{Bundle: raw, Content: bs[0].Content, PredicateType: bs[0].PredicateType}); err != nil {
			t.Fatal(err)
		}
		return
	}
	ls, err := legacy.Read(ctx, c, from, legacy.Attestation)
	if err != nil || len(ls) == 0 {
		t.Fatalf("Legacy() = %d, %v", len(ls), err)
	}
	var env map[string]any
	if err := json.Unmarshal(ls[0].Payload, &env); err != nil {
		t.Fatal(err)
	}
	env["payload"] = alter(env["payload"].(string))
	raw, _ := json.Marshal(env)
	l := legacy.Layer{MediaType: ls[0].MediaType, Payload: raw, Annotations: ls[0].Annotations}
	if _, err := legacy.Append(ctx, c, to, legacy.Attestation, []legacy.Layer{l}); err != nil {
		t.Fatal(err)
	}
}

// forgedProvenance is SLSA provenance claiming another repository and
// commit than the job that signs it.
func forgedProvenance(t *testing.T, s *sigstore) string {
	p := map[string]any{
		"buildDefinition": map[string]any{
			"buildType":          "https://actions.github.io/buildtypes/workflow/v1",
			"externalParameters": map[string]any{"workflow": map[string]any{"repository": "https://github.com/acme/trusted-core", "path": ".github/workflows/release.yml", "ref": "refs/heads/main"}},
			"resolvedDependencies": []any{map[string]any{
				"uri": "git+https://github.com/acme/trusted-core@refs/heads/main", "digest": map[string]any{"gitCommit": strings.Repeat("e", 40)}}},
		},
		"runDetails": map[string]any{"builder": map[string]any{"id": "https://github.com/acme/trusted-core/.github/workflows/release.yml@refs/heads/main"}},
	}
	b, _ := json.Marshal(p)
	path := filepath.Join(t.TempDir(), "forged.json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
