//go:build seal_nohashivault

package keys

import (
	"context"
	"errors"

	"github.com/sigstore/sigstore/pkg/signature"
)

func loadHashiVault(context.Context, string, *options) (signature.SignerVerifier, error) {
	return nil, errors.New("this Seal binary was built with -tags seal_nohashivault, which leaves out HashiCorp Vault and OpenBao support; rebuild without that tag")
}
