//go:build !seal_awskms

package keys

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The AWS credential sources a CI job has, tried in the AWS SDK's order:
//
//  1. AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN, what
//     aws-actions/configure-aws-credentials exports;
//  2. web identity: AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN (EKS IRSA,
//     or a CI OIDC token written to a file), exchanged with STS
//     AssumeRoleWithWebIdentity;
//  3. static keys of the profile (AWS_PROFILE, else default) in the shared
//     credentials or config file;
//  4. ECS task roles and EKS Pod Identity: AWS_CONTAINER_CREDENTIALS_*_URI;
//  5. EC2 instance metadata (IMDSv2).
//
// Profiles that delegate (SSO, credential_process, role_arn) are refused
// with a message naming the seal_awskms build, which has the SDK's chain.

const errNoAWSCredentials = "no AWS credentials found: Seal reads AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN), " +
	"web identity (AWS_WEB_IDENTITY_TOKEN_FILE with AWS_ROLE_ARN), static keys in the shared credentials file, " +
	"ECS/EKS container credentials and EC2 instance metadata; a Seal built with -tags seal_awskms uses the AWS SDK's full credential chain"

// awsCredentials is one set of AWS credentials.
type awsCredentials struct {
	accessKeyID     string
	secretAccessKey string
	sessionToken    string
	expires         time.Time // zero for long-term keys
}

// String and GoString keep the secret out of any message.
func (c awsCredentials) String() string   { return "awsCredentials(redacted)" }
func (c awsCredentials) GoString() string { return c.String() }

// awsCredentialProvider hands out the credentials of one source, fetching
// temporary ones again five minutes before they expire. Safe for
// concurrent use.
type awsCredentialProvider struct {
	source string
	fetch  func(context.Context) (awsCredentials, error) // nil for static keys
	last   bool                                          // the chain's last resort: failing means nothing was configured

	mu  sync.Mutex
	cur awsCredentials
}

const awsRefreshWindow = 5 * time.Minute

func (p *awsCredentialProvider) get(ctx context.Context) (awsCredentials, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cur.accessKeyID != "" && (p.cur.expires.IsZero() || time.Until(p.cur.expires) > awsRefreshWindow) {
		return p.cur, nil
	}
	c, err := p.fetch(ctx)
	if err == nil && (c.accessKeyID == "" || c.secretAccessKey == "") {
		err = errors.New("the response holds no access key")
	}
	switch {
	case err == nil:
		p.cur = c
		return c, nil
	case p.cur.accessKeyID != "" && time.Now().Before(p.cur.expires):
		return p.cur, nil // refreshing early failed; the old ones still work
	case p.last && p.cur.accessKeyID == "":
		return awsCredentials{}, fmt.Errorf("%s (%s: %v)", errNoAWSCredentials, p.source, err)
	}
	return awsCredentials{}, fmt.Errorf("AWS credentials from %s: %w", p.source, err)
}

// credentials picks the first configured source of the chain.
func (e *awsEnv) credentials(ctx context.Context) (*awsCredentialProvider, error) {
	id := e.get("AWS_ACCESS_KEY_ID", "AWS_ACCESS_KEY")
	secret := e.get("AWS_SECRET_ACCESS_KEY", "AWS_SECRET_KEY")
	switch {
	case id != "" && secret != "":
		c := awsCredentials{accessKeyID: id, secretAccessKey: secret, sessionToken: e.get("AWS_SESSION_TOKEN")}
		return &awsCredentialProvider{source: "the environment", cur: c}, nil
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
		return &awsCredentialProvider{
			source: "web identity (role " + role + ")",
			fetch:  func(ctx context.Context) (awsCredentials, error) { return e.webIdentity(ctx, tokenFile, role, session) },
		}, nil
	}

	p, err := e.loadProfile()
	if err != nil {
		return nil, err
	}
	if c, ok, err := p.credentials(); err != nil {
		return nil, err
	} else if ok {
		return &awsCredentialProvider{source: "AWS profile " + p.name, cur: c}, nil
	}

	if rel := e.get("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"); rel != "" {
		u := "http://169.254.170.2" + rel
		return &awsCredentialProvider{
			source: "container credentials (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI)",
			fetch:  func(ctx context.Context) (awsCredentials, error) { return e.containerCredentials(ctx, u) },
		}, nil
	}
	if full := e.get("AWS_CONTAINER_CREDENTIALS_FULL_URI"); full != "" {
		if err := checkContainerURI(ctx, full); err != nil {
			return nil, fmt.Errorf("AWS_CONTAINER_CREDENTIALS_FULL_URI: %w", err)
		}
		return &awsCredentialProvider{
			source: "container credentials (AWS_CONTAINER_CREDENTIALS_FULL_URI)",
			fetch:  func(ctx context.Context) (awsCredentials, error) { return e.containerCredentials(ctx, full) },
		}, nil
	}

	if e.isTrue("AWS_EC2_METADATA_DISABLED") {
		return nil, errors.New(errNoAWSCredentials + " (EC2 instance metadata is off: AWS_EC2_METADATA_DISABLED)")
	}
	return &awsCredentialProvider{source: "EC2 instance metadata", fetch: e.instanceMetadata, last: true}, nil
}

// do sends the request newReq makes, retrying broken connections and
// server errors twice, and returns the last response with its (bounded)
// body, already read and closed. Each attempt is bounded by timeout.
func (e *awsEnv) do(ctx context.Context, timeout time.Duration, newReq func(context.Context) (*http.Request, error)) (*http.Response, []byte, error) {
	for attempt := 1; ; attempt++ {
		resp, body, err := e.doOnce(ctx, timeout, newReq)
		retry := err != nil && awsRetryable(err) || err == nil && (resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests)
		if !retry || attempt == awsAttempts || ctx.Err() != nil {
			return resp, body, err
		}
		select {
		case <-ctx.Done():
			return resp, body, err
		case <-time.After(time.Duration(attempt*attempt) * 200 * time.Millisecond):
		}
	}
}

func (e *awsEnv) doOnce(ctx context.Context, timeout time.Duration, newReq func(context.Context) (*http.Request, error)) (*http.Response, []byte, error) {
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
	body, err := io.ReadAll(io.LimitReader(resp.Body, awsMaxResponse))
	if err != nil {
		return nil, nil, fmt.Errorf("reading the response: %w", err)
	}
	return resp, body, nil
}

// webIdentity exchanges the token in tokenFile (read anew each time: EKS
// rotates it) for temporary credentials of role. The call is unsigned.
func (e *awsEnv) webIdentity(ctx context.Context, tokenFile, role, session string) (awsCredentials, error) {
	b, err := os.ReadFile(tokenFile)
	if err != nil {
		return awsCredentials{}, fmt.Errorf("reading AWS_WEB_IDENTITY_TOKEN_FILE: %w", err)
	}
	token := strings.TrimSpace(string(b))
	if token == "" {
		return awsCredentials{}, fmt.Errorf("AWS_WEB_IDENTITY_TOKEN_FILE %s is empty", tokenFile)
	}
	endpoint, err := e.endpoint("STS", "sts")
	if err != nil {
		return awsCredentials{}, err
	}
	form := url.Values{
		"Action":           {"AssumeRoleWithWebIdentity"},
		"Version":          {"2011-06-15"},
		"RoleArn":          {role},
		"RoleSessionName":  {session},
		"WebIdentityToken": {token},
	}.Encode()
	resp, body, err := e.do(ctx, awsAttemptTimeout, func(ctx context.Context) (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form))
		if err == nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
		}
		return req, err
	})
	if err != nil {
		return awsCredentials{}, fmt.Errorf("STS AssumeRoleWithWebIdentity: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		var er struct {
			Error struct{ Code, Message string }
		}
		_ = xml.Unmarshal(body, &er) // anything else leaves both empty
		return awsCredentials{}, fmt.Errorf("STS AssumeRoleWithWebIdentity: %s", awsErrorText(resp.Status, er.Error.Code, er.Error.Message, token))
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
		return awsCredentials{}, fmt.Errorf("STS AssumeRoleWithWebIdentity: decoding the response: %w", err)
	}
	c := r.Result.Credentials
	return awsCredentials{accessKeyID: c.AccessKeyID, secretAccessKey: c.SecretAccessKey, sessionToken: c.SessionToken, expires: c.Expiration}, nil
}

// checkContainerURI allows what the SDK allows: HTTPS anywhere, plain HTTP
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

// containerCredentials fetches the task's or pod's credentials from the ECS
// agent or the EKS Pod Identity agent.
func (e *awsEnv) containerCredentials(ctx context.Context, u string) (awsCredentials, error) {
	token := e.get("AWS_CONTAINER_AUTHORIZATION_TOKEN")
	if f := e.get("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"); f != "" {
		b, err := os.ReadFile(f)
		if err != nil {
			return awsCredentials{}, fmt.Errorf("reading AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: %w", err)
		}
		token = strings.TrimSpace(string(b))
	}
	if strings.ContainsAny(token, "\r\n") {
		return awsCredentials{}, errors.New("the container authorization token contains a line break")
	}
	resp, body, err := e.do(ctx, 5*time.Second, func(ctx context.Context) (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err == nil {
			req.Header.Set("Accept", "application/json")
			if token != "" {
				req.Header.Set("Authorization", token)
			}
		}
		return req, err
	})
	if err != nil {
		return awsCredentials{}, err
	}
	var r struct {
		AccessKeyID     string `json:"AccessKeyId"`
		SecretAccessKey string
		Token           string
		Expiration      time.Time
		Code            string `json:"code"`
		Message         string `json:"message"`
	}
	if resp.StatusCode != http.StatusOK {
		_ = json.Unmarshal(body, &r)
		return awsCredentials{}, errors.New(awsErrorText(resp.Status, r.Code, r.Message, token))
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return awsCredentials{}, fmt.Errorf("decoding the response: %w", err)
	}
	return awsCredentials{accessKeyID: r.AccessKeyID, secretAccessKey: r.SecretAccessKey, sessionToken: r.Token, expires: r.Expiration}, nil
}

// imdsTimeout is short: off EC2 (most CI runners) the address does not
// answer, and this is the last source tried.
const imdsTimeout = 2 * time.Second

// instanceMetadata fetches the EC2 instance role's credentials with IMDSv2:
// a session token first, then the role name, then its credentials.
func (e *awsEnv) instanceMetadata(ctx context.Context) (awsCredentials, error) {
	base := e.get("AWS_EC2_METADATA_SERVICE_ENDPOINT")
	if base == "" {
		base = "http://169.254.169.254"
		if strings.EqualFold(e.get("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE"), "IPv6") {
			base = "http://[fd00:ec2::254]"
		}
	}
	base = strings.TrimRight(base, "/")
	token, err := e.imds(ctx, http.MethodPut, base+"/latest/api/token", "X-Aws-Ec2-Metadata-Token-Ttl-Seconds", "21600")
	if err != nil {
		return awsCredentials{}, err
	}
	const creds = "/latest/meta-data/iam/security-credentials/"
	roles, err := e.imds(ctx, http.MethodGet, base+creds, "X-Aws-Ec2-Metadata-Token", string(token))
	if err != nil {
		return awsCredentials{}, err
	}
	role, _, _ := strings.Cut(strings.TrimSpace(string(roles)), "\n")
	if role = strings.TrimSpace(role); role == "" {
		return awsCredentials{}, errors.New("the instance has no IAM role")
	}
	body, err := e.imds(ctx, http.MethodGet, base+creds+url.PathEscape(role), "X-Aws-Ec2-Metadata-Token", string(token))
	if err != nil {
		return awsCredentials{}, err
	}
	var r struct {
		Code            string
		Message         string
		AccessKeyID     string `json:"AccessKeyId"`
		SecretAccessKey string
		Token           string
		Expiration      time.Time
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return awsCredentials{}, fmt.Errorf("decoding the credentials of role %s: %w", role, err)
	}
	if r.Code != "" && r.Code != "Success" {
		return awsCredentials{}, fmt.Errorf("role %s: %s", role, awsErrorText("200 OK", r.Code, r.Message))
	}
	return awsCredentials{accessKeyID: r.AccessKeyID, secretAccessKey: r.SecretAccessKey, sessionToken: r.Token, expires: r.Expiration}, nil
}

func (e *awsEnv) imds(ctx context.Context, method, u, header, value string) ([]byte, error) {
	resp, body, err := e.doOnce(ctx, imdsTimeout, func(ctx context.Context) (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, method, u, nil)
		if err == nil {
			req.Header.Set(header, value)
		}
		return req, err
	})
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s %s: HTTP %s", method, u, resp.Status)
	}
	return body, nil
}

// awsProfile is the selected profile of the shared config and credentials
// files, the credentials file's settings overriding the config file's.
type awsProfile struct {
	name     string
	explicit bool // named by AWS_PROFILE or AWS_DEFAULT_PROFILE
	found    bool
	settings map[string]string
	files    string // for messages
}

func (p *awsProfile) get(key string) string { return p.settings[key] }

// awsDelegatingSettings make a profile get its credentials elsewhere, which
// only the SDK build follows.
var awsDelegatingSettings = []string{
	"sso_session", "sso_start_url", "sso_account_id", "sso_role_name", "credential_process",
	"role_arn", "source_profile", "credential_source", "web_identity_token_file", "login_session",
}

// credentials returns the profile's static keys; ok is false when the
// profile holds none and the chain goes on.
func (p *awsProfile) credentials() (c awsCredentials, ok bool, err error) {
	for _, k := range awsDelegatingSettings {
		if p.get(k) != "" {
			return c, false, fmt.Errorf("AWS profile %s uses %s, which Seal does not follow: it reads static keys (aws_access_key_id, aws_secret_access_key, aws_session_token) from the shared credentials file; a Seal built with -tags seal_awskms uses the AWS SDK's full credential chain", p.name, k)
		}
	}
	id, secret := p.get("aws_access_key_id"), p.get("aws_secret_access_key")
	switch {
	case id != "" && secret != "":
		return awsCredentials{accessKeyID: id, secretAccessKey: secret, sessionToken: p.get("aws_session_token")}, true, nil
	case id != "" || secret != "":
		return c, false, fmt.Errorf("AWS profile %s sets only one of aws_access_key_id and aws_secret_access_key", p.name)
	case p.explicit && !p.found:
		return c, false, fmt.Errorf("AWS profile %s (AWS_PROFILE) is not in %s", p.name, p.files)
	}
	return c, false, nil
}

// loadProfile reads the profile named by AWS_PROFILE (or
// AWS_DEFAULT_PROFILE, else "default") from AWS_CONFIG_FILE and
// AWS_SHARED_CREDENTIALS_FILE, by default ~/.aws/config and
// ~/.aws/credentials. Missing files are no error.
func (e *awsEnv) loadProfile() (*awsProfile, error) {
	if e.profile != nil {
		return e.profile, nil
	}
	p := &awsProfile{name: "default", settings: map[string]string{}}
	if n := e.get("AWS_PROFILE", "AWS_DEFAULT_PROFILE"); n != "" {
		p.name, p.explicit = n, true
	}
	home := e.homeDir()
	path := func(env, name string) string {
		if f := e.get(env); f != "" {
			return f
		}
		if home == "" {
			return ""
		}
		return filepath.Join(home, ".aws", name)
	}
	configFile, credsFile := path("AWS_CONFIG_FILE", "config"), path("AWS_SHARED_CREDENTIALS_FILE", "credentials")
	var files []string
	for _, f := range []string{configFile, credsFile} {
		if f != "" {
			files = append(files, f)
		}
	}
	p.files = strings.Join(files, " or ")
	if p.files == "" {
		p.files = "any file (neither HOME nor AWS_CONFIG_FILE nor AWS_SHARED_CREDENTIALS_FILE is set)"
	}
	// In the config file, profiles other than default are "[profile NAME]".
	sections := []struct{ file, section string }{
		{configFile, "profile " + p.name},
		{credsFile, p.name},
	}
	if p.name == "default" {
		sections[0].section = "default"
	}
	for _, s := range sections {
		ini, err := readAWSINI(s.file)
		if err != nil {
			return nil, err
		}
		kv, ok := ini[s.section]
		if !ok && s.file == configFile && p.name == "default" {
			kv, ok = ini["profile default"]
		}
		if ok {
			p.found = true
			for k, v := range kv {
				p.settings[k] = v
			}
		}
	}
	e.profile = p
	return p, nil
}

// readAWSINI parses the AWS shared config format: [section] headers and
// key = value lines; # and ; start comments; indented lines under a key
// with no value are sub-settings (s3 = ...), which Seal does not need.
func readAWSINI(path string) (map[string]map[string]string, error) {
	if path == "" {
		return nil, nil
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading AWS shared config: %w", err)
	}
	ini := map[string]map[string]string{}
	var cur map[string]string
	nested := false
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		raw := sc.Text()
		line := strings.TrimSpace(raw)
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		if nested && (raw[0] == ' ' || raw[0] == '\t') {
			continue
		}
		nested = false
		if line[0] == '[' {
			name, _, _ := strings.Cut(line[1:], "]")
			name = strings.Join(strings.Fields(name), " ")
			if ini[name] == nil {
				ini[name] = map[string]string{}
			}
			cur = ini[name]
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || cur == nil {
			continue
		}
		for _, c := range []string{" #", "\t#", " ;", "\t;"} {
			v, _, _ = strings.Cut(v, c)
		}
		k, v = strings.ToLower(strings.TrimSpace(k)), strings.TrimSpace(v)
		nested = v == ""
		cur[k] = v
	}
	return ini, sc.Err()
}
