package awskms

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/ec2rolecreds"
	"github.com/aws/aws-sdk-go-v2/credentials/endpointcreds"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/sealsign/seal/internal/limits"
)

// settings reads the AWS_* environment through the caller's lookup, never
// the process environment behind its back: the SDK's clients are built
// from explicit options, and its config loader, which reads the
// environment itself, is not used (only its parser of the shared files).
type settings struct {
	lookup  func(string) (string, bool)
	profile *profile // loaded on first use
}

// get returns the first of the named variables that is set and not empty.
func (s *settings) get(names ...string) string {
	for _, n := range names {
		if v, ok := s.lookup(n); ok && v != "" {
			return v
		}
	}
	return ""
}

func (s *settings) isTrue(name string) bool {
	return strings.EqualFold(strings.TrimSpace(s.get(name)), "true")
}

var regionRE = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)

// region takes the region from a key ARN, else from AWS_REGION,
// AWS_DEFAULT_REGION or the profile, as the SDK does.
func (s *settings) region(ctx context.Context, keyID string) (string, error) {
	region, source := "", "the key ARN"
	if strings.HasPrefix(keyID, "arn:") {
		region = strings.Split(keyID, ":")[3]
	}
	if region == "" {
		if region = s.get("AWS_REGION"); region != "" {
			source = "AWS_REGION"
		} else if region = s.get("AWS_DEFAULT_REGION"); region != "" {
			source = "AWS_DEFAULT_REGION"
		}
	}
	if region == "" {
		p, err := s.loadProfile(ctx)
		if err != nil {
			return "", err
		}
		region, source = p.Region, "the region of AWS profile "+p.name
	}
	if region == "" {
		return "", errors.New("no AWS region: the key is not an ARN, and neither AWS_REGION, AWS_DEFAULT_REGION nor the AWS profile's region is set")
	}
	if !regionRE.MatchString(region) {
		return "", fmt.Errorf("AWS region %q (from %s) is not a region name", region, source)
	}
	return region, nil
}

// endpoint is a client's base endpoint, AWS_ENDPOINT_URL_<SERVICE> or else
// AWS_ENDPOINT_URL; without one, the SDK resolves the region's endpoint
// (partitions, and FIPS hosts with AWS_USE_FIPS_ENDPOINT).
func (s *settings) endpoint(serviceID string) (base *string, fips aws.FIPSEndpointState, err error) {
	if !s.isTrue("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS") {
		for _, name := range []string{"AWS_ENDPOINT_URL_" + serviceID, "AWS_ENDPOINT_URL"} {
			if v := s.get(name); v != "" {
				u, err := url.Parse(v)
				if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
					return nil, fips, fmt.Errorf("%s %q is not an http(s) URL", name, v)
				}
				return aws.String(v), fips, nil
			}
		}
	}
	if s.isTrue("AWS_USE_FIPS_ENDPOINT") {
		fips = aws.FIPSEndpointStateEnabled
	}
	return nil, fips, nil
}

// attemptTimeout bounds each HTTP request, so that a service that stops
// answering costs a retry, not the job.
const attemptTimeout = 30 * time.Second

// httpClient is the client of every call, to KMS and to the credential
// sources: the caller's transport, or one trusting AWS_CA_BUNDLE.
func (s *settings) httpClient(rt http.RoundTripper, timeout time.Duration) (*http.Client, error) {
	bundle := s.get("AWS_CA_BUNDLE")
	switch {
	case bundle != "" && rt != nil:
		return nil, errors.New("AWS_CA_BUNDLE is set but the caller supplied its own HTTP transport, which owns TLS; unset one of them")
	case bundle == "" && rt == nil:
		return &http.Client{Transport: limits.Default(), Timeout: timeout}, nil
	case bundle == "":
		return &http.Client{Transport: rt, Timeout: timeout}, nil
	}
	pem, err := limits.ReadFile("AWS_CA_BUNDLE", bundle, limits.Document, nil)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("AWS_CA_BUNDLE %s holds no PEM certificate", bundle)
	}
	t := limits.NewTransport(limits.DefaultTimeouts, limits.WithTLSConfig(&tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}))
	return &http.Client{Transport: t, Timeout: timeout}, nil
}

const errNoCredentials = "no AWS credentials found: Seal reads AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN), " +
	"web identity (AWS_WEB_IDENTITY_TOKEN_FILE with AWS_ROLE_ARN), static keys in the shared credentials file, " +
	"ECS/EKS container credentials and EC2 instance metadata"

// refreshWindow: temporary credentials are fetched again this long before
// they expire, so that a signature never goes out with credentials that
// lapse on the way.
const refreshWindow = 5 * time.Minute

// Bounds of one fetch of container and instance credentials, the SDK's
// retries included. Off EC2, where most CI runners are, instance metadata
// does not answer, and it is the last source tried.
const (
	containerTimeout = 15 * time.Second
	imdsTimeout      = 5 * time.Second
)

// credentials picks the first configured source of the AWS SDK's chain
// that a CI job has, and hands it to the SDK's provider of that source:
//
//  1. AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN, what
//     aws-actions/configure-aws-credentials exports;
//  2. web identity: AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN (EKS IRSA,
//     or a CI job's OIDC token written to a file), exchanged by stscreds
//     with STS AssumeRoleWithWebIdentity;
//  3. static keys of the profile (AWS_PROFILE, else default) in the shared
//     credentials or config file, as the SDK's parser reads them;
//  4. ECS task roles and EKS Pod Identity: AWS_CONTAINER_CREDENTIALS_*_URI,
//     fetched by endpointcreds behind the check of the URI the SDK's config
//     loader makes;
//  5. EC2 instance metadata, fetched by ec2rolecreds, IMDSv2 only.
//
// Profiles that get their credentials elsewhere (SSO, credential_process,
// role_arn) are refused: following them is the SDK's config loader's work,
// which reads the environment itself and brings SSO's clients along.
func (s *settings) credentials(ctx context.Context, region string, hc *http.Client, o *options, secrets *redactor) (aws.CredentialsProvider, error) {
	id := s.get("AWS_ACCESS_KEY_ID", "AWS_ACCESS_KEY")
	secret := s.get("AWS_SECRET_ACCESS_KEY", "AWS_SECRET_KEY")
	switch {
	case id != "" && secret != "":
		token := s.get("AWS_SESSION_TOKEN")
		secrets.add(secret, token)
		return credentials.NewStaticCredentialsProvider(id, secret, token), nil
	case id != "":
		return nil, errors.New("AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not")
	case secret != "":
		return nil, errors.New("AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not")
	}

	if tokenFile := s.get("AWS_WEB_IDENTITY_TOKEN_FILE"); tokenFile != "" {
		role := s.get("AWS_ROLE_ARN")
		if role == "" {
			return nil, errors.New("AWS_WEB_IDENTITY_TOKEN_FILE is set but AWS_ROLE_ARN, the role to assume, is not")
		}
		session := s.get("AWS_ROLE_SESSION_NAME")
		if session == "" {
			session = "seal-" + strconv.FormatInt(time.Now().UnixNano(), 10)
		}
		sopts := sts.Options{Region: region, HTTPClient: hc} // no credentials: the call is unsigned
		if o.retryer != nil {
			sopts.Retryer = o.retryer()
		}
		var err error
		if sopts.BaseEndpoint, sopts.EndpointOptions.UseFIPSEndpoint, err = s.endpoint("STS"); err != nil {
			return nil, err
		}
		p := stscreds.NewWebIdentityRoleProvider(assumeRole(sts.New(sopts).AssumeRoleWithWebIdentity), role, tokenFileRetriever{tokenFile, secrets},
			func(o *stscreds.WebIdentityRoleOptions) { o.RoleSessionName = session })
		return cached("web identity (role "+role+")", p, 0, false, secrets), nil
	}

	prof, err := s.loadProfile(ctx)
	if err != nil {
		return nil, err
	}
	if c, ok, err := prof.credentials(); err != nil {
		return nil, err
	} else if ok {
		secrets.add(c.SecretAccessKey, c.SessionToken)
		return credentials.StaticCredentialsProvider{Value: c}, nil
	}

	rel, full := s.get("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"), s.get("AWS_CONTAINER_CREDENTIALS_FULL_URI")
	if rel != "" || full != "" {
		u, source := "http://169.254.170.2"+rel, "container credentials (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI)"
		if rel == "" {
			if err := checkContainerURI(ctx, full); err != nil {
				return nil, fmt.Errorf("AWS_CONTAINER_CREDENTIALS_FULL_URI: %w", err)
			}
			u, source = full, "container credentials (AWS_CONTAINER_CREDENTIALS_FULL_URI)"
		}
		// The token is read on every fetch (EKS rotates its file) and kept
		// out of any error the agent's answer makes.
		token := endpointcreds.TokenProviderFunc(func() (string, error) {
			t := s.get("AWS_CONTAINER_AUTHORIZATION_TOKEN")
			if f := s.get("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"); f != "" {
				b, err := limits.ReadFile("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", f, limits.Token, nil)
				if err != nil {
					return "", err
				}
				t = strings.TrimSpace(string(b))
			}
			secrets.add(t)
			return t, nil
		})
		p := endpointcreds.New(u, func(o *endpointcreds.Options) {
			o.HTTPClient = hc
			o.AuthorizationTokenProvider = token
		})
		return cached(source, p, containerTimeout, false, secrets), nil
	}

	if s.isTrue("AWS_EC2_METADATA_DISABLED") {
		return nil, errors.New(errNoCredentials + " (EC2 instance metadata is off: AWS_EC2_METADATA_DISABLED)")
	}
	endpoint := s.get("AWS_EC2_METADATA_SERVICE_ENDPOINT")
	if endpoint == "" {
		endpoint = "http://169.254.169.254"
		if strings.EqualFold(s.get("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE"), "IPv6") {
			endpoint = "http://[fd00:ec2::254]"
		}
	}
	// Never IMDSv1, whose unauthenticated GETs a server-side request
	// forgery can make.
	client := imds.New(imds.Options{Endpoint: endpoint, HTTPClient: hc, ClientEnableState: imds.ClientEnabled, EnableFallback: aws.FalseTernary})
	p := ec2rolecreds.New(func(o *ec2rolecreds.Options) { o.Client = client })
	return cached("EC2 instance metadata", p, imdsTimeout, true, secrets), nil
}

// profile is the selected profile of the shared config and credentials
// files.
type profile struct {
	config.SharedConfig
	name     string
	explicit bool // named by AWS_PROFILE or AWS_DEFAULT_PROFILE
	found    bool
	files    string // for messages
}

// loadProfile reads the profile named by AWS_PROFILE (or
// AWS_DEFAULT_PROFILE, else "default") from AWS_CONFIG_FILE and
// AWS_SHARED_CREDENTIALS_FILE, by default ~/.aws/config and
// ~/.aws/credentials, with the SDK's parser. Missing files are no error.
func (s *settings) loadProfile(ctx context.Context) (*profile, error) {
	if s.profile != nil {
		return s.profile, nil
	}
	p := &profile{name: "default"}
	if n := s.get("AWS_PROFILE", "AWS_DEFAULT_PROFILE"); n != "" {
		p.name, p.explicit = n, true
	}
	home := s.get("HOME")
	if runtime.GOOS == "windows" {
		home = s.get("USERPROFILE", "HOME")
	}
	file := func(env, name string) []string {
		if f := s.get(env); f != "" {
			return []string{f}
		}
		if home == "" {
			return []string{} // none: nil would be the SDK's default, from the process's home
		}
		return []string{filepath.Join(home, ".aws", name)}
	}
	configFiles, credsFiles := file("AWS_CONFIG_FILE", "config"), file("AWS_SHARED_CREDENTIALS_FILE", "credentials")
	p.files = strings.Join(append(slices.Clone(configFiles), credsFiles...), " or ")
	if p.files == "" {
		p.files = "any file (neither HOME nor AWS_CONFIG_FILE nor AWS_SHARED_CREDENTIALS_FILE is set)"
	}
	sc, err := config.LoadSharedConfigProfile(ctx, p.name, func(o *config.LoadSharedConfigOptions) {
		o.ConfigFiles, o.CredentialsFiles = configFiles, credsFiles
	})
	var missing config.SharedConfigProfileNotExistError
	switch {
	case errors.As(err, &missing):
	case err != nil:
		return nil, fmt.Errorf("reading AWS profile %s: %w", p.name, err)
	default:
		p.SharedConfig, p.found = sc, true
	}
	s.profile = p
	return p, nil
}

// credentials returns the profile's static keys; ok is false when the
// profile holds none and the chain goes on.
func (p *profile) credentials() (c aws.Credentials, ok bool, err error) {
	for _, d := range []struct{ setting, value string }{
		{"sso_session", p.SSOSessionName}, {"sso_start_url", p.SSOStartURL}, {"sso_account_id", p.SSOAccountID},
		{"credential_process", p.CredentialProcess}, {"role_arn", p.RoleARN}, {"source_profile", p.SourceProfileName},
		{"credential_source", p.CredentialSource}, {"web_identity_token_file", p.WebIdentityTokenFile}, {"login_session", p.LoginSession},
	} {
		if d.value != "" {
			return c, false, fmt.Errorf("AWS profile %s uses %s, which Seal does not follow: it reads static keys (aws_access_key_id, aws_secret_access_key, aws_session_token) from the shared credentials file", p.name, d.setting)
		}
	}
	switch {
	case p.Credentials.HasKeys():
		return p.Credentials, true, nil
	case p.explicit && !p.found:
		return c, false, fmt.Errorf("AWS profile %s (AWS_PROFILE) is not in %s", p.name, p.files)
	}
	return c, false, nil
}

// cached names a source in its errors, bounds each fetch by timeout (0:
// the caller's context alone), notes the secrets it hands out for
// redaction, and caches them until refreshWindow before they expire. The
// chain's last resort failing means that nothing was configured.
func cached(source string, p aws.CredentialsProvider, timeout time.Duration, last bool, secrets *redactor) aws.CredentialsProvider {
	named := aws.CredentialsProviderFunc(func(ctx context.Context) (aws.Credentials, error) {
		if timeout > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, timeout)
			defer cancel()
		}
		c, err := p.Retrieve(ctx)
		if err == nil && !c.HasKeys() {
			err = errors.New("the response holds no access key")
		}
		switch {
		case err != nil && last:
			return aws.Credentials{}, fmt.Errorf("%s (%s: %w)", errNoCredentials, source, err)
		case err != nil:
			return aws.Credentials{}, fmt.Errorf("AWS credentials from %s: %w", source, err)
		}
		secrets.add(c.SecretAccessKey, c.SessionToken)
		return c, nil
	})
	return aws.NewCredentialsCache(named, func(o *aws.CredentialsCacheOptions) { o.ExpiryWindow = refreshWindow })
}

// assumeRole is the one STS call stscreds makes. stscreds takes the client
// as an interface; given the *sts.Client itself, the linker would keep all
// of STS's operations (see signer).
type assumeRole func(context.Context, *sts.AssumeRoleWithWebIdentityInput, ...func(*sts.Options)) (*sts.AssumeRoleWithWebIdentityOutput, error)

func (f assumeRole) AssumeRoleWithWebIdentity(ctx context.Context, in *sts.AssumeRoleWithWebIdentityInput, opts ...func(*sts.Options)) (*sts.AssumeRoleWithWebIdentityOutput, error) {
	return f(ctx, in, opts...)
}

// tokenFileRetriever reads the web identity token anew on every exchange
// (EKS rotates the file), and keeps it out of errors.
type tokenFileRetriever struct {
	path    string
	secrets *redactor
}

func (r tokenFileRetriever) GetIdentityToken() ([]byte, error) {
	b, err := limits.ReadFile("AWS_WEB_IDENTITY_TOKEN_FILE", r.path, limits.Token, nil)
	if err != nil {
		return nil, err
	}
	token := strings.TrimSpace(string(b))
	if token == "" {
		return nil, fmt.Errorf("AWS_WEB_IDENTITY_TOKEN_FILE %s is empty", r.path)
	}
	r.secrets.add(token)
	return []byte(token), nil
}

// checkContainerURI allows what the SDK's config loader allows (the
// endpointcreds provider itself takes any URL): HTTPS anywhere, plain HTTP
// only to loopback and the ECS and EKS agent addresses.
func checkContainerURI(ctx context.Context, s string) error {
	u, err := url.Parse(s)
	if err != nil || u.Hostname() == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return fmt.Errorf("%q is not an http(s) URL", s)
	}
	if u.Scheme == "https" {
		return nil
	}
	addrs := []string{u.Hostname()}
	if net.ParseIP(u.Hostname()) == nil {
		if addrs, err = net.DefaultResolver.LookupHost(ctx, u.Hostname()); err != nil {
			return fmt.Errorf("resolving %s: %w", u.Hostname(), err)
		}
	}
	for _, a := range addrs {
		ip := net.ParseIP(a)
		if ip == nil || !(ip.IsLoopback() || ip.Equal(net.IPv4(169, 254, 170, 2)) || ip.Equal(net.IPv4(169, 254, 170, 23)) || ip.Equal(net.ParseIP("fd00:ec2::23"))) {
			return fmt.Errorf("plain HTTP is allowed only to loopback and the ECS/EKS agent addresses, not %s", u.Host)
		}
	}
	return nil
}

// redactor collects the secrets one Open has handed to the SDK (secret
// keys, session tokens, the web identity and container tokens), so that
// none reaches an error even when a service echoes it.
type redactor struct {
	mu      sync.Mutex
	secrets []string
}

func (r *redactor) add(secrets ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range secrets {
		if len(s) >= 8 {
			r.secrets = append(r.secrets, s)
		}
	}
}

// maxErrorLen bounds an error's text: a service's error page can be long.
const maxErrorLen = 1000

// wrap returns err's text with every secret replaced, on one line. It does
// not wrap err, whose text holds the secrets.
func (r *redactor) wrap(err error) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := err.Error()
	for _, sec := range r.secrets {
		s = strings.ReplaceAll(s, sec, "[redacted]")
	}
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > maxErrorLen {
		s = s[:maxErrorLen] + "..."
	}
	return errors.New(s)
}
