package cli

import (
	"bytes"
	"context"
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
