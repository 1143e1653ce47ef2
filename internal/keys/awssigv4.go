//go:build !seal_awskms

package keys

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// AWS Signature Version 4, as the AWS SDK's aws/signer/v4 computes it for
// header-signed requests; awssigv4_test.go checks the two agree byte for
// byte. https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html

const (
	sigV4Algorithm  = "AWS4-HMAC-SHA256"
	sigV4TimeFormat = "20060102T150405Z"
)

// sigV4Unsigned are the headers the SDK leaves out of the signature: they
// are rewritten by proxies and HTTP stacks on the way.
var sigV4Unsigned = map[string]bool{
	"authorization":     true,
	"user-agent":        true,
	"x-amzn-trace-id":   true,
	"expect":            true,
	"transfer-encoding": true,
	"content-length":    true, // taken from req.ContentLength instead
}

// signSigV4 signs req in place for service in region at time now: it sets
// X-Amz-Date, X-Amz-Security-Token (for temporary credentials) and
// Authorization. body must be the bytes req will send. Every header already
// on req is signed, except those proxies rewrite; so is the host.
func signSigV4(req *http.Request, body []byte, c awsCredentials, service, region string, now time.Time) {
	now = now.UTC()
	amzDate := now.Format(sigV4TimeFormat)
	day := amzDate[:8]
	req.Header.Set("X-Amz-Date", amzDate)
	if c.sessionToken != "" {
		req.Header.Set("X-Amz-Security-Token", c.sessionToken)
	}

	host := req.Host
	if host == "" {
		host = req.URL.Host
	}
	if h, port, ok := strings.Cut(host, ":"); ok && !strings.Contains(port, ":") &&
		(req.URL.Scheme == "https" && port == "443" || req.URL.Scheme == "http" && port == "80") {
		host = h // the SDK drops a default port, and so does Go's Host header
		req.Host = h
	}

	signed := map[string][]string{"host": {host}}
	if req.ContentLength > 0 {
		signed["content-length"] = []string{strconv.FormatInt(req.ContentLength, 10)}
	}
	for k, vs := range req.Header {
		k = strings.ToLower(k)
		if !sigV4Unsigned[k] {
			signed[k] = append(signed[k], vs...)
		}
	}
	names := make([]string, 0, len(signed))
	for k := range signed {
		names = append(names, k)
	}
	slices.Sort(names)

	var canon strings.Builder
	for _, k := range names {
		vs := signed[k]
		canon.WriteString(k)
		canon.WriteByte(':')
		for i, v := range vs {
			if i > 0 {
				canon.WriteByte(',')
			}
			canon.WriteString(sigV4HeaderValue(v))
		}
		canon.WriteByte('\n')
	}
	signedHeaders := strings.Join(names, ";")

	path := req.URL.EscapedPath()
	if path == "" {
		path = "/"
	}
	query := req.URL.Query()
	for _, vs := range query {
		slices.Sort(vs)
	}
	payload := sha256.Sum256(body)
	canonicalRequest := strings.Join([]string{
		req.Method,
		sigV4Escape(path),
		strings.ReplaceAll(query.Encode(), "+", "%20"),
		canon.String(),
		signedHeaders,
		hex.EncodeToString(payload[:]),
	}, "\n")

	scope := day + "/" + region + "/" + service + "/aws4_request"
	crHash := sha256.Sum256([]byte(canonicalRequest))
	stringToSign := sigV4Algorithm + "\n" + amzDate + "\n" + scope + "\n" + hex.EncodeToString(crHash[:])

	key := hmacSHA256([]byte("AWS4"+c.secretAccessKey), day)
	key = hmacSHA256(key, region)
	key = hmacSHA256(key, service)
	key = hmacSHA256(key, "aws4_request")
	sig := hex.EncodeToString(hmacSHA256(key, stringToSign))

	req.Header.Set("Authorization", sigV4Algorithm+" Credential="+c.accessKeyID+"/"+scope+
		", SignedHeaders="+signedHeaders+", Signature="+sig)
}

// sigV4HeaderValue trims a header value and collapses runs of spaces, as
// the canonical form requires.
func sigV4HeaderValue(v string) string {
	v = strings.Trim(v, " ")
	for strings.Contains(v, "  ") {
		v = strings.ReplaceAll(v, "  ", " ")
	}
	return strings.TrimSpace(v)
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

// sigV4Escape percent-encodes every byte but the unreserved ones and '/'.
// The path is already escaped once: AWS services other than S3 expect it
// encoded twice in the canonical request.
func sigV4Escape(s string) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~' || c == '/' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
	return b.String()
}
