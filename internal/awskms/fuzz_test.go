package awskms

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	sigopts "github.com/sigstore/sigstore/pkg/signature/options"
)

// fuzzKMSTransport answers every AWS call with one fuzzed status and body.
type fuzzKMSTransport struct {
	status int
	body   []byte
}

func (f fuzzKMSTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		_ = r.Body.Close()
	}
	return &http.Response{StatusCode: f.status, Header: http.Header{"Content-Type": {"application/x-amz-json-1.1"}},
		Body: io.NopCloser(bytes.NewReader(f.body)), Request: r}, nil
}

// FuzzAWSKMS feeds arbitrary KMS answers (GetPublicKey, then Sign) and key
// references to Open and the SDK's client under it: never a panic, and no
// error that repeats the secret access key.
func FuzzAWSKMS(f *testing.F) {
	f.Add("awskms:///alias/release", 200, []byte(`{"KeyUsage":"SIGN_VERIFY","KeySpec":"ECC_NIST_P256","SigningAlgorithms":["ECDSA_SHA_256"],"PublicKey":"AAAA"}`))
	f.Add("awskms:///arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab", 400, []byte(`{"__type":"NotFoundException","message":"no key"}`))
	f.Add("awskms://127.0.0.1:1/alias/x", 502, []byte(`<html>bad gateway</html>`))
	f.Add("awskms:///1234abcd-12ab-34cd-56ef-1234567890ab", 200, []byte(`null`))
	const secret = "fuzz-secret-access-key-0123456789"
	env := map[string]string{"AWS_ACCESS_KEY_ID": "AKIDFUZZ", "AWS_SECRET_ACCESS_KEY": secret, "AWS_REGION": "eu-west-1", "AWS_EC2_METADATA_DISABLED": "true"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	f.Fuzz(func(t *testing.T, ref string, status int, body []byte) {
		if status < 100 || status > 599 {
			status = 200
		}
		if !strings.HasPrefix(ref, "awskms://") {
			return
		}
		ctx := context.Background()
		sv, err := Open(ctx, ref, WithLookupEnv(lookup), WithTransport(fuzzKMSTransport{status, body}), WithQuickRetries())
		if err != nil {
			if strings.Contains(err.Error(), secret) {
				t.Fatalf("error repeats the secret key: %v", err)
			}
			return
		}
		if _, err := sv.SignMessage(strings.NewReader("payload"), sigopts.WithContext(ctx)); err != nil && strings.Contains(err.Error(), secret) {
			t.Fatalf("error repeats the secret key: %v", err)
		}
	})
}
