//go:build seal_awskms

package awskms_test

import (
	"context"
	"strings"
	"testing"

	"github.com/sealsign/seal/internal/awskms"
	"github.com/sealsign/seal/internal/awskms/awskmstest"
)

// checkRSA: sigstore's SDK client signs RSA keys with the first algorithm
// AWS lists, RSASSA-PSS, which cosign rejects, so the SDK build refuses
// them up front.
func checkRSA(t *testing.T, _ *awskmstest.KMS, ref string, opts ...awskms.Option) {
	t.Helper()
	_, err := awskms.Open(context.Background(), ref, opts...)
	if err == nil || !strings.Contains(err.Error(), "RSASSA-PSS") {
		t.Fatalf("Open() = %v, want the RSASSA-PSS explanation", err)
	}
}
