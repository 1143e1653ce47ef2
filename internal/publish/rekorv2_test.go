package publish

import (
	"strings"
	"testing"

	"github.com/sigstore/sigstore-go/pkg/sign"

	"github.com/sealsign/seal/internal/oci"
	"github.com/sealsign/seal/internal/signing"
)

// TestNewRefusesLegacyWithRekorV2: the legacy tags can hold only a Rekor v1
// entry, so New refuses to write them when the signer logs to Rekor v2, and
// accepts every other combination.
func TestNewRefusesLegacyWithRekorV2(t *testing.T) {
	kp, err := sign.NewEphemeralKeypair(nil)
	if err != nil {
		t.Fatal(err)
	}
	// A client for tests that never reach the registry.
	unused, err := oci.New()
	if err != nil {
		t.Fatal(err)
	}
	const log = "http://127.0.0.1:1"
	for _, tc := range []struct {
		name    string
		svc     signing.Services
		format  oci.Format
		wantErr bool
	}{
		{name: "v2 bundle", svc: signing.Services{RekorURL: log, RekorVersion: 2}, format: oci.Bundle},
		{name: "v2 legacy", svc: signing.Services{RekorURL: log, RekorVersion: 2}, format: oci.Legacy, wantErr: true},
		{name: "v2 both", svc: signing.Services{RekorURL: log, RekorVersion: 2}, format: oci.Both, wantErr: true},
		{name: "v1 both", svc: signing.Services{RekorURL: log, RekorVersion: 1}, format: oci.Both},
		{name: "default version both", svc: signing.Services{RekorURL: log}, format: oci.Both},
		{name: "no upload both", svc: signing.Services{RekorVersion: 2}, format: oci.Both},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := signing.NewKeyed(kp, signing.WithServices(tc.svc))
			if err != nil {
				t.Fatalf("NewKeyed() = %v", err)
			}
			_, err = New(s, unused, WithFormat(tc.format))
			switch {
			case tc.wantErr && err == nil:
				t.Fatal("New() = nil error, want a refusal")
			case tc.wantErr && !strings.Contains(err.Error(), "Rekor v2"):
				t.Errorf("New() = %v, want it to name Rekor v2", err)
			case !tc.wantErr && err != nil:
				t.Fatalf("New() = %v", err)
			}
		})
	}
}
