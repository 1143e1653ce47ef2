//go:build !seal_awskms

package awskms

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// env is what the AWS settings resolve to: region, HTTP client and the
// shared-config profile. Settings come from o.lookupEnv, the process
// environment unless a caller replaced it.
type env struct {
	o       *options
	http    *http.Client
	region  string
	profile *profile // loaded on first use
}

func newEnv(o *options) (*env, error) {
	e := &env{o: o, http: &http.Client{Transport: o.transport}}
	if bundle := e.get("AWS_CA_BUNDLE"); bundle != "" {
		if o.transport != nil {
			return nil, errors.New("AWS_CA_BUNDLE is set but the caller supplied its own HTTP transport, which owns TLS; unset one of them")
		}
		pem, err := os.ReadFile(bundle)
		if err != nil {
			return nil, fmt.Errorf("reading AWS_CA_BUNDLE: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("AWS_CA_BUNDLE %s holds no PEM certificate", bundle)
		}
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
		e.http.Transport = t
	}
	return e, nil
}

// get returns the first of the named variables that is set and not empty.
func (e *env) get(names ...string) string {
	for _, n := range names {
		if v, ok := e.o.lookupEnv(n); ok && v != "" {
			return v
		}
	}
	return ""
}

func (e *env) isTrue(name string) bool {
	return strings.EqualFold(strings.TrimSpace(e.get(name)), "true")
}

// resolveRegion takes the region from a key ARN, else from AWS_REGION,
// AWS_DEFAULT_REGION or the profile's region setting, as the SDK does.
func (e *env) resolveRegion(keyID string) error {
	source := "the key ARN"
	if strings.HasPrefix(keyID, "arn:") {
		e.region = strings.Split(keyID, ":")[3]
	}
	if e.region == "" {
		if e.region = e.get("AWS_REGION"); e.region != "" {
			source = "AWS_REGION"
		} else if e.region = e.get("AWS_DEFAULT_REGION"); e.region != "" {
			source = "AWS_DEFAULT_REGION"
		}
	}
	if e.region == "" {
		p, err := e.loadProfile()
		if err != nil {
			return err
		}
		e.region, source = p.get("region"), "the region of AWS profile "+p.name
	}
	if e.region == "" {
		return errors.New("no AWS region: the key is not an ARN, and neither AWS_REGION, AWS_DEFAULT_REGION nor the AWS profile's region is set")
	}
	if !regionRE.MatchString(e.region) {
		return fmt.Errorf("AWS region %q (from %s) is not a region name", e.region, source)
	}
	return nil
}

// endpoint is the base URL of a service, e.g. KMS: AWS_ENDPOINT_URL_KMS,
// else AWS_ENDPOINT_URL, else the regional AWS endpoint (FIPS with
// AWS_USE_FIPS_ENDPOINT=true).
func (e *env) endpoint(serviceID, prefix string) (string, error) {
	if !e.isTrue("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS") {
		for _, name := range []string{"AWS_ENDPOINT_URL_" + serviceID, "AWS_ENDPOINT_URL"} {
			if v := e.get(name); v != "" {
				u, err := url.Parse(v)
				if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
					return "", fmt.Errorf("%s %q is not an http(s) URL", name, v)
				}
				return v, nil
			}
		}
	}
	if e.isTrue("AWS_USE_FIPS_ENDPOINT") {
		prefix += "-fips"
	}
	domain := "amazonaws.com"
	if strings.HasPrefix(e.region, "cn-") {
		domain = "amazonaws.com.cn"
	}
	return "https://" + prefix + "." + e.region + "." + domain + "/", nil
}

// homeDir is the user's home directory, where ~/.aws lives.
func (e *env) homeDir() string {
	if runtime.GOOS == "windows" {
		return e.get("USERPROFILE", "HOME")
	}
	return e.get("HOME")
}

// boundedClient reads at most maxResponse bytes of any response, for the
// SDK's credential clients, which read bodies whole.
type boundedClient struct{ c *http.Client }

func (b boundedClient) Do(req *http.Request) (*http.Response, error) {
	resp, err := b.c.Do(req)
	if err == nil {
		resp.Body = struct {
			io.Reader
			io.Closer
		}{io.LimitReader(resp.Body, maxResponse), resp.Body}
	}
	return resp, err
}

// profile is the selected profile of the shared config and credentials
// files, the credentials file's settings overriding the config file's.
type profile struct {
	name     string
	explicit bool // named by AWS_PROFILE or AWS_DEFAULT_PROFILE
	found    bool
	settings map[string]string
	files    string // for messages
}

func (p *profile) get(key string) string { return p.settings[key] }

// loadProfile reads the profile named by AWS_PROFILE (or
// AWS_DEFAULT_PROFILE, else "default") from AWS_CONFIG_FILE and
// AWS_SHARED_CREDENTIALS_FILE, by default ~/.aws/config and
// ~/.aws/credentials. Missing files are no error.
func (e *env) loadProfile() (*profile, error) {
	if e.profile != nil {
		return e.profile, nil
	}
	p := &profile{name: "default", settings: map[string]string{}}
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
		ini, err := readINI(s.file)
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

// readINI parses the AWS shared config format: [section] headers and
// key = value lines; # and ; start comments; indented lines under a key
// with no value are sub-settings (s3 = ...), which Seal does not need.
func readINI(path string) (map[string]map[string]string, error) {
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
