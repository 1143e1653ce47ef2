//go:build !seal_awskms

package awskms

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/ec2rolecreds"
	"github.com/aws/aws-sdk-go-v2/credentials/endpointcreds"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
)

// The AWS credential sources a CI job has, tried in the AWS SDK's order:
//
//  1. AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN, what
//     aws-actions/configure-aws-credentials exports;
//  2. web identity: AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN (EKS IRSA,
//     or a CI OIDC token written to a file), exchanged with STS
//     AssumeRoleWithWebIdentity, one unsigned form POST made here;
//  3. static keys of the profile (AWS_PROFILE, else default) in the shared
//     credentials or config file;
//  4. ECS task roles and EKS Pod Identity: AWS_CONTAINER_CREDENTIALS_*_URI,
//     fetched by the SDK's endpointcreds behind Seal's check of the URI;
//  5. EC2 instance metadata, fetched by the SDK's ec2rolecreds, IMDSv2 only.
//
// Profiles that delegate (SSO, credential_process, role_arn) are refused
// with a message naming the seal_awskms build, which has the SDK's chain.
// Settings are read through WithLookupEnv, never by the SDK from the
// process environment.

const errNoCredentials = "no AWS credentials found: Seal reads AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN), " +
	"web identity (AWS_WEB_IDENTITY_TOKEN_FILE with AWS_ROLE_ARN), static keys in the shared credentials file, " +
	"ECS/EKS container credentials and EC2 instance metadata; a Seal built with -tags seal_awskms uses the AWS SDK's full credential chain"

// credentialProvider hands out the credentials of one source, fetching
// temporary ones again five minutes before they expire. Safe for
// concurrent use.
type credentialProvider struct {
	source string
	fetch  aws.CredentialsProvider // nil for static keys
	last   bool                    // the chain's last resort: failing means nothing was configured

	mu  sync.Mutex
	cur aws.Credentials
}

const refreshWindow = 5 * time.Minute

func (p *credentialProvider) get(ctx context.Context) (aws.Credentials, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cur.HasKeys() && (!p.cur.CanExpire || time.Until(p.cur.Expires) > refreshWindow) {
		return p.cur, nil
	}
	c, err := p.fetch.Retrieve(ctx)
	if err == nil && !c.HasKeys() {
		err = errors.New("the response holds no access key")
	}
	switch {
	case err == nil:
		p.cur = c
		return c, nil
	case p.cur.HasKeys() && time.Now().Before(p.cur.Expires):
		return p.cur, nil // refreshing early failed; the old ones still work
	case p.last && !p.cur.HasKeys():
		return aws.Credentials{}, fmt.Errorf("%s (%s: %v)", errNoCredentials, p.source, err)
	}
	return aws.Credentials{}, fmt.Errorf("AWS credentials from %s: %w", p.source, err)
}

// credentials picks the first configured source of the chain.
func (e *env) credentials(ctx context.Context) (*credentialProvider, error) {
	id := e.get("AWS_ACCESS_KEY_ID", "AWS_ACCESS_KEY")
	secret := e.get("AWS_SECRET_ACCESS_KEY", "AWS_SECRET_KEY")
	switch {
	case id != "" && secret != "":
		c := aws.Credentials{AccessKeyID: id, SecretAccessKey: secret, SessionToken: e.get("AWS_SESSION_TOKEN")}
		return &credentialProvider{source: "the environment", cur: c}, nil
	case id != "":
		return nil, errors.New("AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not")
	case secret != "":
		return nil, errors.New("AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not")
	}

	if tokenFile := e.get("AWS_WEB_IDENTITY_TOKEN_FILE"); tokenFile != "" {
		role := e.get("AWS_ROLE_ARN")
		if role == "" {
			return nil, errors.New("AWS_WEB_IDENTITY_TOKEN_FILE is set but AWS_ROLE_ARN, the role to assume, is not")
		}
		session := e.get("AWS_ROLE_SESSION_NAME")
		if session == "" {
			session = "seal-" + strconv.FormatInt(time.Now().UnixNano(), 10)
		}
		return &credentialProvider{
			source: "web identity (role " + role + ")",
			fetch: aws.CredentialsProviderFunc(func(ctx context.Context) (aws.Credentials, error) {
				return e.webIdentity(ctx, tokenFile, role, session)
			}),
		}, nil
	}

	p, err := e.loadProfile()
	if err != nil {
		return nil, err
	}
	if c, ok, err := p.credentials(); err != nil {
		return nil, err
	} else if ok {
		return &credentialProvider{source: "AWS profile " + p.name, cur: c}, nil
	}

	if rel := e.get("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"); rel != "" {
		u := "http://169.254.170.2" + rel
		return &credentialProvider{
			source: "container credentials (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI)",
			fetch: aws.CredentialsProviderFunc(func(ctx context.Context) (aws.Credentials, error) {
				return e.containerCredentials(ctx, u)
			}),
		}, nil
	}
	if full := e.get("AWS_CONTAINER_CREDENTIALS_FULL_URI"); full != "" {
		if err := checkContainerURI(ctx, full); err != nil {
			return nil, fmt.Errorf("AWS_CONTAINER_CREDENTIALS_FULL_URI: %w", err)
		}
		return &credentialProvider{
			source: "container credentials (AWS_CONTAINER_CREDENTIALS_FULL_URI)",
			fetch: aws.CredentialsProviderFunc(func(ctx context.Context) (aws.Credentials, error) {
				return e.containerCredentials(ctx, full)
			}),
		}, nil
	}

	if e.isTrue("AWS_EC2_METADATA_DISABLED") {
		return nil, errors.New(errNoCredentials + " (EC2 instance metadata is off: AWS_EC2_METADATA_DISABLED)")
	}
	return &credentialProvider{source: "EC2 instance metadata", fetch: e.instanceMetadata(), last: true}, nil
}

// do sends the request newReq makes, retrying broken connections and
// server errors twice, and returns the last response with its (bounded)
// body, already read and closed. Each attempt is bounded by timeout.
func (e *env) do(ctx context.Context, timeout time.Duration, newReq func(context.Context) (*http.Request, error)) (*http.Response, []byte, error) {
	for attempt := 1; ; attempt++ {
		resp, body, err := e.doOnce(ctx, timeout, newReq)
		retry := err != nil && retryable(err) || err == nil && (resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests)
		if !retry || attempt == attempts || ctx.Err() != nil {
			return resp, body, err
		}
		select {
		case <-ctx.Done():
			return resp, body, err
		case <-time.After(time.Duration(attempt*attempt) * 200 * time.Millisecond):
		}
	}
}

func (e *env) doOnce(ctx context.Context, timeout time.Duration, newReq func(context.Context) (*http.Request, error)) (*http.Response, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := newReq(ctx)
	if err != nil {
		return nil, nil, err
	}
	resp, err := e.http.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return nil, nil, fmt.Errorf("reading the response: %w", err)
	}
	return resp, body, nil
}

// webIdentity exchanges the token in tokenFile (read anew each time: EKS
// rotates it) for temporary credentials of role. The call is unsigned, one
// form POST and its XML answer (see kms.go on the SDK's clients).
func (e *env) webIdentity(ctx context.Context, tokenFile, role, session string) (aws.Credentials, error) {
	b, err := os.ReadFile(tokenFile)
	if err != nil {
		return aws.Credentials{}, fmt.Errorf("reading AWS_WEB_IDENTITY_TOKEN_FILE: %w", err)
	}
	token := strings.TrimSpace(string(b))
	if token == "" {
		return aws.Credentials{}, fmt.Errorf("AWS_WEB_IDENTITY_TOKEN_FILE %s is empty", tokenFile)
	}
	endpoint, err := e.endpoint("STS", "sts")
	if err != nil {
		return aws.Credentials{}, err
	}
	form := url.Values{
		"Action":           {"AssumeRoleWithWebIdentity"},
		"Version":          {"2011-06-15"},
		"RoleArn":          {role},
		"RoleSessionName":  {session},
		"WebIdentityToken": {token},
	}.Encode()
	resp, body, err := e.do(ctx, attemptTimeout, func(ctx context.Context) (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form))
		if err == nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
		}
		return req, err
	})
	if err != nil {
		return aws.Credentials{}, fmt.Errorf("STS AssumeRoleWithWebIdentity: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		var er struct {
			Error struct{ Code, Message string }
		}
		_ = xml.Unmarshal(body, &er) // anything else leaves both empty
		return aws.Credentials{}, fmt.Errorf("STS AssumeRoleWithWebIdentity: %s", errorText(resp.Status, er.Error.Code, er.Error.Message, token))
	}
	var r struct {
		Result struct {
			Credentials struct {
				AccessKeyID     string `xml:"AccessKeyId"`
				SecretAccessKey string
				SessionToken    string
				Expiration      time.Time
			}
		} `xml:"AssumeRoleWithWebIdentityResult"`
	}
	if err := xml.Unmarshal(body, &r); err != nil {
		return aws.Credentials{}, fmt.Errorf("STS AssumeRoleWithWebIdentity: decoding the response: %w", err)
	}
	c := r.Result.Credentials
	return aws.Credentials{AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey, SessionToken: c.SessionToken,
		CanExpire: true, Expires: c.Expiration}, nil
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

// containerTimeout bounds one fetch of container credentials, the SDK's
// retries included.
const containerTimeout = 15 * time.Second

// containerCredentials fetches the task's or pod's credentials from the ECS
// agent or the EKS Pod Identity agent, with the SDK's endpointcreds. The
// token is read here, anew each time (EKS rotates the file), so that it
// can be taken out of any error the agent's answer makes.
func (e *env) containerCredentials(ctx context.Context, u string) (aws.Credentials, error) {
	token := e.get("AWS_CONTAINER_AUTHORIZATION_TOKEN")
	if f := e.get("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"); f != "" {
		b, err := os.ReadFile(f)
		if err != nil {
			return aws.Credentials{}, fmt.Errorf("reading AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: %w", err)
		}
		token = strings.TrimSpace(string(b))
	}
	p := endpointcreds.New(u, func(o *endpointcreds.Options) {
		o.HTTPClient = boundedClient{e.http}
		o.AuthorizationToken = token // endpointcreds refuses one with a line break
	})
	ctx, cancel := context.WithTimeout(ctx, containerTimeout)
	defer cancel()
	c, err := p.Retrieve(ctx)
	if err != nil {
		return aws.Credentials{}, endpointError(err, token)
	}
	return c, nil
}

// endpointError puts the agent's error on one line without the token,
// which agents may echo. endpointcreds decodes a JSON error only when it is
// labelled application/json; an unlabelled one is decoded here.
func endpointError(err error, token string) error {
	var api interface {
		ErrorCode() string
		ErrorMessage() string
	}
	if !errors.As(err, &api) {
		return errors.New(redact(err.Error(), token))
	}
	code, msg := api.ErrorCode(), api.ErrorMessage()
	if code == "" {
		var j struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		}
		if json.Unmarshal([]byte(msg), &j) == nil && j.Code != "" {
			code, msg = j.Code, j.Message
		}
	}
	status := "error"
	var withStatus interface{ HTTPStatusCode() int }
	if errors.As(err, &withStatus) {
		status = strconv.Itoa(withStatus.HTTPStatusCode()) + " " + http.StatusText(withStatus.HTTPStatusCode())
	}
	return errors.New(errorText(status, code, msg, token))
}

// imdsTimeout bounds one fetch of instance credentials (a session token,
// the role name, its credentials, and the SDK's retries): off EC2, where
// most CI runners are, the address does not answer, and this is the last
// source tried.
const imdsTimeout = 5 * time.Second

// instanceMetadata fetches the EC2 instance role's credentials with the
// SDK's ec2rolecreds. The endpoint and the off switch are Seal's settings
// (read through WithLookupEnv), and the client never falls back to IMDSv1,
// whose unauthenticated GETs a server-side request forgery can make.
func (e *env) instanceMetadata() aws.CredentialsProvider {
	endpoint := e.get("AWS_EC2_METADATA_SERVICE_ENDPOINT")
	if endpoint == "" {
		endpoint = "http://169.254.169.254"
		if strings.EqualFold(e.get("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE"), "IPv6") {
			endpoint = "http://[fd00:ec2::254]"
		}
	}
	client := imds.New(imds.Options{
		Endpoint:          endpoint,
		HTTPClient:        boundedClient{e.http},
		ClientEnableState: imds.ClientEnabled,
		EnableFallback:    aws.FalseTernary,
	})
	p := ec2rolecreds.New(func(o *ec2rolecreds.Options) { o.Client = client })
	return aws.CredentialsProviderFunc(func(ctx context.Context) (aws.Credentials, error) {
		ctx, cancel := context.WithTimeout(ctx, imdsTimeout)
		defer cancel()
		return p.Retrieve(ctx)
	})
}

// delegatingSettings make a profile get its credentials elsewhere, which
// only the SDK build follows.
var delegatingSettings = []string{
	"sso_session", "sso_start_url", "sso_account_id", "sso_role_name", "credential_process",
	"role_arn", "source_profile", "credential_source", "web_identity_token_file", "login_session",
}

// credentials returns the profile's static keys; ok is false when the
// profile holds none and the chain goes on.
func (p *profile) credentials() (c aws.Credentials, ok bool, err error) {
	for _, k := range delegatingSettings {
		if p.get(k) != "" {
			return c, false, fmt.Errorf("AWS profile %s uses %s, which Seal does not follow: it reads static keys (aws_access_key_id, aws_secret_access_key, aws_session_token) from the shared credentials file; a Seal built with -tags seal_awskms uses the AWS SDK's full credential chain", p.name, k)
		}
	}
	id, secret := p.get("aws_access_key_id"), p.get("aws_secret_access_key")
	switch {
	case id != "" && secret != "":
		return aws.Credentials{AccessKeyID: id, SecretAccessKey: secret, SessionToken: p.get("aws_session_token")}, true, nil
	case id != "" || secret != "":
		return c, false, fmt.Errorf("AWS profile %s sets only one of aws_access_key_id and aws_secret_access_key", p.name)
	case p.explicit && !p.found:
		return c, false, fmt.Errorf("AWS profile %s (AWS_PROFILE) is not in %s", p.name, p.files)
	}
	return c, false, nil
}
