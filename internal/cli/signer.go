package cli

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/sign"

	"github.com/sealsign/seal/internal/ci"
	"github.com/sealsign/seal/internal/cli/options"
	"github.com/sealsign/seal/internal/keys"
	"github.com/sealsign/seal/internal/limits"
	"github.com/sealsign/seal/internal/oci"
	"github.com/sealsign/seal/internal/oidc"
	"github.com/sealsign/seal/internal/signing"
	"github.com/sealsign/seal/internal/trust"
)

// GitHub's own Sigstore instance, which actions/attest uses for private and
// internal repositories: its Fulcio and timestamp authority are GitHub's,
// and it has no transparency log, so nothing about the repository becomes
// public.
const (
	githubFulcio = "https://fulcio.githubapp.com"
	githubTSA    = "https://timestamp.githubapp.com/api/v1/timestamp"
)

// buildSigner makes the one signer of this invocation, deciding on the
// transparency log from the repository's visibility.
func (a *app) buildSigner(ctx context.Context, o options.Signing, md *ci.Metadata, tok *oidc.Token) (*signing.Signer, error) {
	svc, err := services(o)
	if err != nil {
		return nil, err
	}
	if o.NoTlog && o.Tlog {
		return nil, usagef("--no-tlog and --tlog contradict each other")
	}
	switch {
	case o.NoTlog:
		svc.RekorURL = ""
	case o.Tlog:
	case md == nil || md.Visibility == "":
		svc.RekorURL = ""
		a.log.Info("not uploading to the transparency log: the repository's visibility is unknown (pass --tlog to upload)")
	case md.Visibility != "public":
		svc.RekorURL = ""
		a.log.Info(fmt.Sprintf("not uploading to the public transparency log: the repository is %s (its name and identity would become public; pass --tlog to upload anyway)", md.Visibility))
		if o.Key == "" && svc.FulcioURL == trust.PublicFulcio {
			// Skipping Rekor is not enough: Fulcio logs every certificate,
			// whose subject names the repository and workflow, in its
			// public certificate transparency log.
			a.log.Warn(fmt.Sprintf("the repository is %s, but the public Fulcio records every certificate it issues, naming the repository and workflow, in its public certificate transparency log: sign with --sigstore github (GitHub's own instance, GitHub Enterprise Cloud), a private instance (--signing-config) or --key to keep them private", md.Visibility))
		}
	}
	// A key needs no proof of when it signed (it does not expire in
	// minutes like a keyless certificate): no timestamp unless asked for.
	if o.NoTimestamp || (o.Key != "" && o.TimestampURL == "" && o.SigningConfig == "") {
		svc.TSAURL = ""
	}
	opts := []signing.Option{signing.WithServices(svc)}
	if o.Key != "" {
		// Decrypting a cosign key (scrypt) overlaps the registry reads
		// before the first signature; its error surfaces there.
		return signing.NewKeyedAsync(a.loadKey(ctx, o.Key), opts...)
	}
	if tok == nil {
		fix := "sign with --key, or pass a token with --identity-token"
		switch {
		case md != nil && md.Provider == "github":
			fix = "give the job `permissions: id-token: write` (or sign with a key)"
		case md != nil && md.Provider == "gitlab":
			fix = "add `id_tokens: { SIGSTORE_ID_TOKEN: { aud: sigstore } }` to the job (or sign with a key)"
		}
		return nil, fmt.Errorf("keyless signing needs the CI's identity token: %w: %s", oidc.ErrNoToken, fix)
	}
	if err := tok.CheckUsable(time.Now(), o.Audience); err != nil {
		return nil, err
	}
	return signing.NewKeyless(tok, opts...)
}

// loadKey starts loading the signing key at ref in the background, once per
// invocation, and returns the wait for it: the job calls it first thing, so
// that the key decrypts while the CI metadata and the registry are read.
func (a *app) loadKey(ctx context.Context, ref string) func() (sign.Keypair, error) {
	a.keyOnce.Do(func() {
		// The password is read (and masked) here, not in the background:
		// masks are this goroutine's.
		pw, pwErr := a.keyPassword()
		password := func() ([]byte, error) { return pw, pwErr }
		done := make(chan struct{})
		var (
			kp  sign.Keypair
			err error
		)
		go func() {
			defer close(done)
			var k *keys.Keypair
			if k, err = keys.Load(ctx, ref, keys.WithLookupEnv(a.lookupEnv), keys.WithPassword(password)); err == nil {
				kp = k
			}
		}()
		a.key = func() (sign.Keypair, error) { <-done; return kp, err }
	})
	return a.key
}

// keyPassword reads COSIGN_PASSWORD, as cosign does; it is masked.
func (a *app) keyPassword() ([]byte, error) {
	v, ok := a.lookupEnv("COSIGN_PASSWORD")
	if !ok {
		return nil, errors.New("the key is encrypted: set COSIGN_PASSWORD")
	}
	a.mask(v)
	return []byte(v), nil
}

// services picks the Sigstore services: flags, else a signing config,
// else the public instance.
func services(o options.Signing) (signing.Services, error) {
	svc := signing.Services{FulcioURL: trust.PublicFulcio, RekorURL: trust.PublicRekor, TSAURL: trust.PublicTSA}
	switch o.Sigstore {
	case "", "public-good":
	case "github":
		if o.SigningConfig != "" {
			return svc, usagef("--sigstore github and --signing-config both name the instance: give one")
		}
		if o.Tlog || o.RekorURL != "" {
			return svc, usagef("--sigstore github has no transparency log: drop --tlog and --rekor-url")
		}
		svc = signing.Services{FulcioURL: githubFulcio, TSAURL: githubTSA}
	default:
		return svc, usagef("--sigstore %q: want public-good or github", o.Sigstore)
	}
	if o.SigningConfig != "" {
		b, err := limits.ReadFile("--signing-config", o.SigningConfig, limits.Document, nil)
		if err != nil {
			return svc, &usageError{err}
		}
		sc, err := root.NewSigningConfigFromJSON(b)
		if err != nil {
			return svc, fmt.Errorf("reading signing config %s: %w", o.SigningConfig, err)
		}
		now := time.Now()
		svc = signing.Services{}
		if s, err := root.SelectService(sc.FulcioCertificateAuthorityURLs(), sign.FulcioAPIVersions, now); err == nil {
			svc.FulcioURL = s.URL
		}
		if s, err := root.SelectService(sc.RekorLogURLs(), sign.RekorAPIVersions, now); err == nil {
			svc.RekorURL, svc.RekorVersion = s.URL, s.MajorAPIVersion
		}
		if s, err := root.SelectService(sc.TimestampAuthorityURLs(), sign.TimestampAuthorityAPIVersions, now); err == nil {
			svc.TSAURL = s.URL
		}
	}
	switch o.RekorVersion {
	case 0:
		// A URL given on the command line is not the one the signing
		// config's version was about.
		if o.RekorURL != "" {
			svc.RekorVersion = 0
		}
	case 1, 2:
		svc.RekorVersion = o.RekorVersion
	default:
		return svc, usagef("--rekor-version %d: want 1 or 2", o.RekorVersion)
	}
	for _, f := range []struct {
		flag string
		dst  *string
	}{{o.FulcioURL, &svc.FulcioURL}, {o.RekorURL, &svc.RekorURL}, {o.TimestampURL, &svc.TSAURL}} {
		if f.flag == "" {
			continue
		}
		u, err := url.Parse(f.flag)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return svc, usagef("service URL %q: want https://host[/path]", f.flag)
		}
		*f.dst = strings.TrimSuffix(f.flag, "/")
	}
	return svc, nil
}

// registry builds the registry client with the CI's own credentials.
func (a *app) registry(p ci.Provider, o options.Registry) (*oci.Client, error) {
	opts := []oci.Option{oci.WithWriteAccess(), oci.WithDeferredCheck(), oci.WithLogger(a.log)}
	if len(o.Insecure) > 0 {
		opts = append(opts, oci.WithInsecureHosts(o.Insecure...))
	}
	if cs, ok := p.(ci.CredentialSource); ok {
		for _, c := range cs.RegistryCredentials() {
			a.mask(c.Password)
			opts = append(opts, oci.WithCredentials(c.Host, c.Username, c.Password))
		}
	}
	return oci.New(opts...)
}
