package oci

import "fmt"

// Format names where signatures and attestations are stored, the storage
// formats of packages bundle and legacy; Both is the set of the two.
type Format int

// Formats.
const (
	// Bundle: Sigstore bundles as OCI referrers (cosign v3, gh, Kyverno's
	// SigstoreBundle type, policy-controller's signatureFormat: bundle).
	Bundle Format = 1 << iota
	// Legacy: cosign's sha256-<hex>.sig and .att tags (cosign v2, Kyverno's
	// Cosign type, policy-controller's default).
	Legacy
	// Both is the two formats: what a publisher writes by default.
	Both = Bundle | Legacy
)

// ParseFormat reads "bundle", "legacy" or "both".
func ParseFormat(s string) (Format, error) {
	switch s {
	case "bundle":
		return Bundle, nil
	case "legacy":
		return Legacy, nil
	case "both":
		return Both, nil
	}
	return 0, fmt.Errorf("unknown format %q (use bundle, legacy or both)", s)
}

// String returns "bundle", "legacy" or "both".
func (f Format) String() string {
	switch f {
	case Bundle:
		return "bundle"
	case Legacy:
		return "legacy"
	case Both:
		return "both"
	}
	return fmt.Sprintf("Format(%d)", int(f))
}

// Has reports whether f includes g: Both has Bundle and Legacy.
func (f Format) Has(g Format) bool { return f&g == g && g != 0 }

// Valid reports whether f is Bundle, Legacy or Both.
func (f Format) Valid() bool { return f&Both != 0 && f&^Both == 0 }

// MarshalText writes the format's name, so that JSON reports say "bundle".
func (f Format) MarshalText() ([]byte, error) {
	if !f.Valid() {
		return nil, fmt.Errorf("invalid format %d", int(f))
	}
	return []byte(f.String()), nil
}

// UnmarshalText reads a name ParseFormat accepts.
func (f *Format) UnmarshalText(b []byte) error {
	g, err := ParseFormat(string(b))
	if err != nil {
		return err
	}
	*f = g
	return nil
}
