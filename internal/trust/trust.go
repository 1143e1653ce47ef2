package trust

import (
	_ "embed"
	"fmt"

	"github.com/sigstore/sigstore-go/pkg/root"

	"github.com/sealsign/seal/internal/limits"
)

// The public-good instance's services, which its trusted root names.
const (
	PublicFulcio = "https://fulcio.sigstore.dev"
	PublicRekor  = "https://rekor.sigstore.dev"
	PublicTSA    = "https://timestamp.sigstore.dev/api/v1/timestamp"
)

//go:embed public_trusted_root.json
var publicRoot []byte

// Public returns the embedded trusted root of the public Sigstore instance.
func Public() (*root.TrustedRoot, error) {
	tr, err := root.NewTrustedRootFromJSON(publicRoot)
	if err != nil {
		return nil, fmt.Errorf("loading the embedded public trusted root: %w", err)
	}
	return tr, nil
}

// Load reads a trusted_root.json file, or the public root for "".
func Load(path string) (*root.TrustedRoot, error) {
	if path == "" {
		return Public()
	}
	b, err := limits.ReadFile("--trusted-root", path, limits.Document, nil)
	if err != nil {
		return nil, err
	}
	tr, err := root.NewTrustedRootFromJSON(b)
	if err != nil {
		return nil, fmt.Errorf("loading trusted root %s: %w", path, err)
	}
	return tr, nil
}
