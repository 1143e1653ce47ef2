//go:build seal_awskms

package keys_test

import (
	"context"
	"strings"
	"testing"

	"github.com/sealsign/seal/internal/awskms/awskmstest"
	"github.com/sealsign/seal/internal/keys"
)

// checkAWSKMSRSA: sigstore's SDK client signs RSA keys with the first
// algorithm AWS lists, RSASSA-PSS, which cosign rejects, so the SDK build
// refuses them up front.
func checkAWSKMSRSA(t *testing.T, _ *awskmstest.KMS, ref string, opts ...keys.Option) {
	t.Helper()
	_, err := keys.Load(context.Background(), ref, opts...)
	if err == nil || !strings.Contains(err.Error(), "RSASSA-PSS") {
		t.Fatalf("Load() = %v, want the RSASSA-PSS explanation", err)
	}
}
