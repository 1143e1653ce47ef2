package cli

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	prototrustroot "github.com/sigstore/protobuf-specs/gen/pb-go/trustroot/v1"
	"github.com/sigstore/sigstore-go/pkg/root"

	"github.com/sealsign/seal/internal/ci"
	"github.com/sealsign/seal/internal/cli/options"
	"github.com/sealsign/seal/internal/signing"
	"github.com/sealsign/seal/internal/trust"
)

// TestServicesRekorVersion: the Rekor API version comes from --rekor-version,
// else from the signing config for the config's own URL, else 1.
func TestServicesRekorVersion(t *testing.T) {
	const v2 = "https://log2025-1.rekor.example"
	since := time.Now().Add(-time.Hour)
	sc, err := root.NewSigningConfig(root.SigningConfigMediaType02,
		[]root.Service{{URL: "https://fulcio.example", MajorAPIVersion: 1, ValidityPeriodStart: since}}, nil,
		[]root.Service{{URL: v2, MajorAPIVersion: 2, ValidityPeriodStart: since}}, root.ServiceConfiguration{Selector: prototrustroot.ServiceSelector_ANY},
		nil, root.ServiceConfiguration{Selector: prototrustroot.ServiceSelector_ANY})
	if err != nil {
		t.Fatal(err)
	}
	b, err := sc.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(t.TempDir(), "signing_config.json")
	if err := os.WriteFile(cfg, b, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		o       options.Signing
		want    signing.Services
		wantErr bool
	}{
		{name: "public default", o: options.Signing{},
			want: signing.Services{FulcioURL: trust.PublicFulcio, RekorURL: trust.PublicRekor, TSAURL: trust.PublicTSA}},
		{name: "flag v2", o: options.Signing{RekorURL: "http://127.0.0.1:3000/", RekorVersion: 2},
			want: signing.Services{FulcioURL: trust.PublicFulcio, RekorURL: "http://127.0.0.1:3000", RekorVersion: 2, TSAURL: trust.PublicTSA}},
		{name: "signing config v2", o: options.Signing{SigningConfig: cfg},
			want: signing.Services{FulcioURL: "https://fulcio.example", RekorURL: v2, RekorVersion: 2}},
		{name: "flag URL overrides the config's version", o: options.Signing{SigningConfig: cfg, RekorURL: "https://rekor.example"},
			want: signing.Services{FulcioURL: "https://fulcio.example", RekorURL: "https://rekor.example"}},
		{name: "flag version overrides the config's", o: options.Signing{SigningConfig: cfg, RekorVersion: 1},
			want: signing.Services{FulcioURL: "https://fulcio.example", RekorURL: v2, RekorVersion: 1}},
		{name: "unknown version", o: options.Signing{RekorVersion: 3}, wantErr: true},
		{name: "GitHub's instance", o: options.Signing{Sigstore: "github"},
			want: signing.Services{FulcioURL: "https://fulcio.githubapp.com", TSAURL: "https://timestamp.githubapp.com/api/v1/timestamp"}},
		{name: "public-good by name", o: options.Signing{Sigstore: "public-good"},
			want: signing.Services{FulcioURL: trust.PublicFulcio, RekorURL: trust.PublicRekor, TSAURL: trust.PublicTSA}},
		{name: "GitHub's instance has no log", o: options.Signing{Sigstore: "github", Tlog: true}, wantErr: true},
		{name: "GitHub's instance and a signing config", o: options.Signing{Sigstore: "github", SigningConfig: cfg}, wantErr: true},
		{name: "unknown instance", o: options.Signing{Sigstore: "staging"}, wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := services(tc.o)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("services() = %+v, want an error", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("services() = %v", err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("services() (-want +got):\n%s", diff)
			}
		})
	}
}

// A private repository signing keyless with the public Fulcio is told that
// the certificate, naming the repository, still goes to a public log; with
// GitHub's instance or a key it is not.
func TestPrivateRepositoryWarning(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    options.Signing
		warn bool
	}{
		{"public Fulcio", options.Signing{}, true},
		{"GitHub's instance", options.Signing{Sigstore: "github"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var log bytes.Buffer
			a := &app{log: slog.New(slog.NewTextHandler(&log, nil)), lookupEnv: func(string) (string, bool) { return "", false }}
			_, err := a.buildSigner(context.Background(), tc.o, &ci.Metadata{Visibility: "private"}, nil)
			if err == nil {
				t.Fatal("buildSigner() without a token succeeded")
			}
			got := strings.Contains(log.String(), "certificate transparency log")
			if got != tc.warn {
				t.Errorf("warned = %v, want %v; log:\n%s", got, tc.warn, log.String())
			}
		})
	}
}

// Without a token, the error names the fix for the CI it runs in.
func TestNoTokenNamesTheFix(t *testing.T) {
	for provider, want := range map[string]string{
		"github": "give the job `permissions: id-token: write`",
		"gitlab": "add `id_tokens: { SIGSTORE_ID_TOKEN: { aud: sigstore } }` to the job",
		"local":  "sign with --key, or pass a token with --identity-token",
	} {
		a := &app{log: slog.New(slog.DiscardHandler), lookupEnv: func(string) (string, bool) { return "", false }}
		_, err := a.buildSigner(context.Background(), options.Signing{}, &ci.Metadata{Provider: provider, Visibility: "public"}, nil)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: buildSigner() = %v, want an error naming %q", provider, err, want)
		}
	}
}
