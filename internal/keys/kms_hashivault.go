//go:build !seal_nohashivault

package keys

import (
	"context"
	"crypto"
	"errors"

	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/sigstore/sigstore/pkg/signature/kms/hashivault"
	sigopts "github.com/sigstore/sigstore/pkg/signature/options"
)

// loadHashiVault connects to a Vault (or OpenBao) transit key. The address
// and token are read here, through the injectable lookup, rather than by
// sigstore's client: when the token is missing that client logs to the
// standard logger and falls back to token helpers and ~/.vault-token, none of
// which belong in a CI signer.
func loadHashiVault(ctx context.Context, ref string, o *options) (signature.SignerVerifier, error) {
	addr := firstEnv(o, "VAULT_ADDR", "BAO_ADDR")
	if addr == "" {
		return nil, errors.New("VAULT_ADDR (or BAO_ADDR) is not set")
	}
	token := firstEnv(o, "VAULT_TOKEN", "BAO_TOKEN")
	if token == "" {
		return nil, errors.New("VAULT_TOKEN (or BAO_TOKEN) is not set")
	}
	auth := sigopts.RPCAuth{Address: addr, Token: token, Path: firstEnv(o, "TRANSIT_SECRET_ENGINE_PATH")}
	// The hash given here is only a default; every signature names its own.
	return hashivault.LoadSignerVerifier(ref, crypto.SHA256, sigopts.WithRPCAuthOpts(auth), sigopts.WithContext(ctx))
}

func firstEnv(o *options, names ...string) string {
	for _, n := range names {
		if v, ok := o.lookupEnv(n); ok && v != "" {
			return v
		}
	}
	return ""
}
