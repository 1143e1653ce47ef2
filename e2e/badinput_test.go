package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sealsign/seal/internal/testbed"
)

// TestBadInput feeds the CLI what users get wrong. Each case must exit
// non-zero with one clear line, "seal: error: ...", naming the problem;
// print no secret (the key's password, a wrong one, the identity token);
// and write nothing to the registry: the proxy in front of it sees no
// write request and the repository's tags stay as they were.
func TestBadInput(t *testing.T) {
	s := startSigstore(t)
	reg := testbed.StartRegistry(t, testbed.Distribution)
	proxy := startProxy(t, reg.Host)
	img := strings.Replace(pushImage(t, reg.Host, "bad/img"), reg.Host, proxy.Host, 1)
	dir := t.TempDir()
	truncated := writeFile(t, dir, "truncated.spdx.json", spdxSBOM[:len(spdxSBOM)/2])
	notSPDX := writeFile(t, dir, "not-spdx.json", `{"bomFormat":"CycloneDX","components":[]}`)

	// A port nothing listens on.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()

	genv, good := s.githubEnv(t)
	mint := func(override map[string]any) string {
		return s.issuer.Mint(s.issuer.GitHub, testbed.GitHubClaimsWith(s.githubRepo, override))
	}
	hourAgo := time.Now().Add(-time.Hour).Unix()
	expired := mint(map[string]any{"exp": hourAgo, "iat": hourAgo - 600, "nbf": hourAgo - 600})
	otherAudience := mint(map[string]any{"aud": "not-sigstore"})

	const wrongPassword = "wrong-password-1234"
	password := []string{"COSIGN_PASSWORD=" + s.password}
	keyed := func(extra ...string) []string {
		return append(append([]string{"attest", "--sign", "--provenance"}, sealKeyed(keyPair{key: s.key}, proxy.Host)...), extra...)
	}
	keyless := func(tok, ref string) []string {
		return []string{"attest", "--sign", "--provenance", "--identity-token", tok, "--fulcio-url", s.fulcio.URL,
			"--timestamp-url", s.tsa.TimestampURL(), "--no-tlog", "--insecure-registry", proxy.Host, ref}
	}
	predicate := func(file, typ string) []string {
		return append([]string{"attest", "--sign", "--predicate", file, "--type", typ}, sealKeyed(keyPair{key: s.key}, proxy.Host, img)...)
	}
	secrets := []string{s.password, wrongPassword, good, expired, otherAudience, tokenSignature(good), tokenSignature(expired), tokenSignature(otherAudience)}

	for _, tc := range []struct {
		name string
		env  []string
		args []string
		want string // in the error line
	}{
		{"malformed reference", password, keyed("Not/A:Ref!!"), `parsing image reference "Not/A:Ref!!"`},
		{"unknown digest", password, keyed(strings.Split(img, "@")[0] + "@sha256:" + strings.Repeat("0", 64)), "404 Not Found"},
		{"unknown repository", password, keyed(proxy.Host + "/bad/nothere:v1"), "404 Not Found"},
		{"tag that does not exist", password, keyed(proxy.Host + "/bad/img:nope"), "resolving " + proxy.Host + "/bad/img:nope"},
		{"unreachable registry", password, append(keyed(closed+"/bad/img:v1"), "--insecure-registry", closed), "connection refused"},
		{"expired token", genv, keyless(expired, img), "expired at"},
		{"token for another audience", genv, keyless(otherAudience, img), `audience is "not-sigstore", want "sigstore"`},
		{"wrong key password", []string{"COSIGN_PASSWORD=" + wrongPassword}, keyed(img), "wrong password"},
		{"no key password", nil, keyed(img), "set COSIGN_PASSWORD"},
		{"truncated SBOM", password, predicate(truncated, "spdx"), "not JSON"},
		{"SBOM of another format", password, predicate(notSPDX, "spdx"), "the document is a CycloneDX"},
		{"missing predicate file", password, predicate(filepath.Join(dir, "missing.json"), "spdx"), "no such file"},
		{"KMS key without configuration", nil, append(keyed(img), "--key", "hashivault://seal-release"), "VAULT_ADDR"},
		{"AWS KMS key without a region", []string{"AWS_REGION=", "AWS_DEFAULT_REGION=", "AWS_CONFIG_FILE=" + filepath.Join(dir, "none"), "AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(dir, "none")},
			append(keyed(img), "--key", "awskms:///alias/seal-release"), "no AWS region"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			repo := "bad/img"
			before := tagsOf(t, reg.Host, repo)
			proxy.Reset()
			stdout, stderr, code := runSplit(t, tc.env, sealBin, tc.args...)
			if code == 0 {
				t.Fatalf("exit 0, want a failure\nstderr:\n%s", stderr)
			}
			line := oneErrorLine(t, stderr)
			if !strings.Contains(line, tc.want) {
				t.Errorf("error line does not say %q:\n%s", tc.want, line)
			}
			if stdout != "" {
				t.Errorf("stdout is not empty:\n%s", stdout)
			}
			for _, sec := range secrets {
				if outside := withoutMaskCommands(stdout + stderr); strings.Contains(outside, sec) {
					t.Errorf("output contains a secret (%.6s...):\n%s", sec, stderr)
				}
			}
			for key, n := range proxy.Counts() {
				if !strings.HasPrefix(key, "GET ") && !strings.HasPrefix(key, "HEAD ") {
					t.Errorf("the registry got %d %s requests", n, key)
				}
			}
			if after := tagsOf(t, reg.Host, repo); !slices.Equal(before, after) {
				t.Errorf("tags changed from %v to %v", before, after)
			}
			t.Logf("exit %d: %s", code, line)
		})
	}
}

// oneErrorLine returns the single "seal: error:" line of stderr. Besides
// it, stderr may hold log lines, the progress lines of what was written,
// and GitHub workflow commands (the mask of the token, the error annotation
// repeating the line); nothing else: no usage text, stack trace or second
// error line.
func oneErrorLine(t *testing.T, stderr string) string {
	t.Helper()
	var errs, other []string
	for _, l := range strings.Split(strings.TrimRight(stderr, "\n"), "\n") {
		switch {
		case strings.HasPrefix(l, "seal: error: "):
			errs = append(errs, l)
		case strings.HasPrefix(l, "level="), strings.HasPrefix(l, "wrote "), strings.HasPrefix(l, "exists "),
			strings.HasPrefix(l, "::add-mask::"), strings.HasPrefix(l, "::error::"):
		default:
			other = append(other, l)
		}
	}
	if len(errs) != 1 || len(other) > 0 {
		t.Errorf("want one error line and log lines only, got %d error lines and %q\nstderr:\n%s", len(errs), other, stderr)
	}
	if len(errs) == 0 {
		return ""
	}
	return errs[0]
}

// withoutMaskCommands drops ::add-mask:: lines: they hand the secret to the
// runner precisely so that it is hidden everywhere else.
func withoutMaskCommands(s string) string {
	var keep []string
	for _, l := range strings.Split(s, "\n") {
		if !strings.HasPrefix(l, "::add-mask::") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}

// tokenSignature is the last part of a JWT, which alone lets nobody in but
// would show that a token leaked.
func tokenSignature(jwt string) string { return jwt[strings.LastIndex(jwt, ".")+1:] }

// runSplit runs a command like run, keeping stdout and stderr apart, and
// returns its exit code (-1 when it could not run or timed out).
func runSplit(t testing.TB, env []string, bin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(cleanEnv(), env...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee) && ctx.Err() == nil:
		code = ee.ExitCode()
	default:
		t.Errorf("running %s: %v", bin, err)
		code = -1
	}
	return o.String(), e.String(), code
}

func parseJSON(t testing.TB, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("parsing JSON: %v\n%s", err, b)
	}
}
