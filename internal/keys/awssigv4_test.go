//go:build !seal_awskms

package keys

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// TestSigV4MatchesSDK signs the same requests with signSigV4 and with the
// AWS SDK's signer (a test-only import: the binary does not grow) and
// wants the same Authorization header, byte for byte.
func TestSigV4MatchesSDK(t *testing.T) {
	t.Parallel()
	at := time.Date(2025, 11, 22, 9, 30, 5, 0, time.FixedZone("CET", 3600))
	kmsBody := []byte(`{"KeyId":"alias/seal","Message":"3q2+7w==","MessageType":"DIGEST","SigningAlgorithm":"ECDSA_SHA_256"}`)
	stsBody := []byte("Action=AssumeRoleWithWebIdentity&RoleArn=arn%3Aaws%3Aiam%3A%3A111122223333%3Arole%2Fseal&Version=2011-06-15")
	type request struct {
		name, method, url string
		headers           map[string]string
		body              []byte
		service, region   string
	}
	requests := []request{
		{"KMS Sign", "POST", "https://kms.eu-west-1.amazonaws.com/", map[string]string{
			"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "TrentService.Sign",
		}, kmsBody, "kms", "eu-west-1"},
		{"KMS custom endpoint with port", "POST", "http://127.0.0.1:4566", map[string]string{
			"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "TrentService.GetPublicKey",
		}, []byte(`{"KeyId":"arn:aws:kms:us-east-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"}`), "kms", "us-east-2"},
		{"KMS default port dropped", "POST", "https://kms.example.test:443/", map[string]string{
			"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "TrentService.Sign",
		}, kmsBody, "kms", "cn-north-1"},
		{"STS form", "POST", "https://sts.us-east-1.amazonaws.com/", map[string]string{
			"Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
		}, stsBody, "sts", "us-east-1"},
		{"STS query, unsigned headers and spaces", "GET", "https://sts.amazonaws.com/a%20b/c?Version=2011-06-15&Action=GetCallerIdentity&Z=a+b&Z=%2F", map[string]string{
			"User-Agent": "seal/1", "X-Amzn-Trace-Id": "Root=1", "X-Custom": "  two   spaces  ",
		}, nil, "sts", "us-east-1"},
	}
	creds := map[string]awsCredentials{
		"long-term keys": {accessKeyID: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"},
		"session token":  {accessKeyID: "ASIAEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", sessionToken: "IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQ=="},
	}
	build := func(t *testing.T, r request) *http.Request {
		req, err := http.NewRequest(r.method, r.url, bytes.NewReader(r.body))
		if err != nil {
			t.Fatal(err)
		}
		if r.body == nil {
			req.Body, req.ContentLength = http.NoBody, 0
		}
		for k, v := range r.headers {
			req.Header.Set(k, v)
		}
		return req
	}
	for _, r := range requests {
		for cname, c := range creds {
			t.Run(r.name+"/"+cname, func(t *testing.T) {
				ours := build(t, r)
				signSigV4(ours, r.body, c, r.service, r.region, at)

				sdk := build(t, r)
				sum := sha256.Sum256(r.body)
				err := v4.NewSigner().SignHTTP(context.Background(),
					aws.Credentials{AccessKeyID: c.accessKeyID, SecretAccessKey: c.secretAccessKey, SessionToken: c.sessionToken},
					sdk, hex.EncodeToString(sum[:]), r.service, r.region, at)
				if err != nil {
					t.Fatal(err)
				}
				for _, h := range []string{"Authorization", "X-Amz-Date", "X-Amz-Security-Token"} {
					if got, want := ours.Header.Get(h), sdk.Header.Get(h); got != want {
						t.Errorf("%s:\n got %q\nwant %q", h, got, want)
					}
				}
				if ours.Host != sdk.Host {
					t.Errorf("Host = %q, the SDK's %q", ours.Host, sdk.Host)
				}
				if got := ours.Header.Get("X-Amz-Security-Token"); (got != "") != (c.sessionToken != "") {
					t.Errorf("X-Amz-Security-Token = %q with session token %q", got, c.sessionToken)
				}
				if !strings.Contains(ours.Header.Get("Authorization"), "/"+r.region+"/"+r.service+"/aws4_request") {
					t.Errorf("Authorization %q lacks the credential scope", ours.Header.Get("Authorization"))
				}
			})
		}
	}

	// The signature covers the body, the target and the secret: changing
	// any of them changes it, and the SDK agrees on the new one.
	t.Run("sensitivity", func(t *testing.T) {
		base := requests[0]
		c := creds["long-term keys"]
		sign := func(r request, c awsCredentials) string {
			req := build(t, r)
			signSigV4(req, r.body, c, r.service, r.region, at)
			return req.Header.Get("Authorization")
		}
		ref := sign(base, c)
		body := base
		body.body = bytes.Replace(base.body, []byte("3q2+7w=="), []byte("3q2+7A=="), 1)
		target := base
		target.headers = map[string]string{"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "TrentService.Verify"}
		secret := c
		secret.secretAccessKey += "x"
		for name, got := range map[string]string{"body": sign(body, c), "target": sign(target, c), "secret": sign(base, secret)} {
			if got == ref {
				t.Errorf("changing the %s left the signature unchanged", name)
			}
		}
	})
}
