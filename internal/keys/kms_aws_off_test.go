//go:build !seal_awskms

package keys_test

import (
	"context"
	"strings"
	"testing"

	"github.com/sealsign/seal/internal/keys"
)

func TestAWSKMSNotCompiledIn(t *testing.T) {
	_, err := keys.Load(context.Background(), "awskms:///alias/seal")
	if err == nil || !strings.Contains(err.Error(), "-tags seal_awskms") {
		t.Fatalf("Load() = %v, want an error naming the build tag", err)
	}
}
