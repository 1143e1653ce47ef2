//go:build seal_nohashivault

package keys_test

import (
	"context"
	"strings"
	"testing"

	"github.com/sealsign/seal/internal/keys"
)

func TestHashiVaultNotCompiledIn(t *testing.T) {
	_, err := keys.Load(context.Background(), "hashivault://seal")
	if err == nil || !strings.Contains(err.Error(), "seal_nohashivault") {
		t.Fatalf("Load() = %v, want an error naming the build tag", err)
	}
}
