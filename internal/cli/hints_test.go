package cli

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
)

// Argument errors exit 2, point at the usage, and translate cosign's flag
// names.
func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"sign", "--yes", "img"}, []string{"unknown flag: --yes", "never asks for confirmation", "run 'seal sign --help' for usage"}},
		{[]string{"sign", "-y", "img"}, []string{"never asks for confirmation"}},
		{[]string{"sign", "--tlog-upload=false", "img"}, []string{"cosign's --tlog-upload", "--no-tlog never uploads"}},
		{[]string{"attest", "--allow-insecure-registry", "img"}, []string{"--insecure-registry HOST[:PORT]"}},
		{[]string{"verify", "--type", "slsaprovenance", "img"}, []string{"--attestation TYPE", "run 'seal verify --help' for usage"}},
		{[]string{"sign", "--new-bundle-format", "img"}, []string{"use --format bundle, legacy or both"}},
		{[]string{"verify", "--new-bundle-format", "img"}, []string{"seal verify reads both formats itself"}},
		{[]string{"verify", "--insecure-ignore-tlog", "img"}, []string{"cosign's --insecure-ignore-tlog: use --no-tlog"}},
		{[]string{"sign", "--no-such-flag", "img"}, []string{"unknown flag: --no-such-flag; run 'seal sign --help' for usage"}},
		{[]string{"sign", "a", "b"}, []string{"accepts 1 arg(s), received 2; run 'seal sign --help' for usage"}},
		{[]string{"version", "extra"}, []string{"unknown command \"extra\" for \"seal version\"; run 'seal version --help' for usage"}},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := Execute(context.Background(), tc.args, &stdout, &stderr)
			if code != 2 {
				t.Errorf("exit code = %d, want 2; stderr:\n%s", code, stderr.String())
			}
			for _, w := range tc.want {
				if !strings.Contains(stderr.String(), w) {
					t.Errorf("stderr = %q, want it to contain %q", stderr.String(), w)
				}
			}
		})
	}
}

// In GitHub Actions a warning is a ::warning:: annotation, on one line and
// without the secrets the process has seen.
func TestWarningsAreAnnotations(t *testing.T) {
	var stderr bytes.Buffer
	a := &app{stderr: &stderr, lookupEnv: func(k string) (string, bool) {
		if k == "GITHUB_ACTIONS" {
			return "true", true
		}
		return "", false
	}}
	a.masks = []string{"s3cr3t-token-value"}
	h := newAnnotations(slog.NewTextHandler(&stderr, nil), &stderr, a.redact)
	log := slog.New(h).With("image", "r.example/app")
	log.Info("plain info")
	log.Warn("first line\nsecond line", "error", "auth with s3cr3t-token-value failed")
	got := stderr.String()
	if want := "::warning::first line; second line image=r.example/app error=auth with *** failed\n"; !strings.Contains(got, want) {
		t.Errorf("stderr = %q, want it to contain %q", got, want)
	}
	if strings.Contains(got, "s3cr3t") {
		t.Errorf("the annotation carries the secret: %q", got)
	}
	if !strings.Contains(got, "msg=\"plain info\"") || strings.Contains(got, "::warning::plain") {
		t.Errorf("info went to the wrong place: %q", got)
	}
}
