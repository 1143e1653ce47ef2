package awskms

import (
	"errors"
	"net/http"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// Option configures Open.
type Option func(*options) error

type options struct {
	lookupEnv func(string) (string, bool)
	transport http.RoundTripper  // nil: the default
	retryer   func() aws.Retryer // nil: the SDK's standard retries
	// attemptTimeout bounds each HTTP request.
	attemptTimeout time.Duration
}

func makeOptions(opts []Option) (*options, error) {
	o := &options{lookupEnv: os.LookupEnv, attemptTimeout: attemptTimeout}
	for _, opt := range opts {
		if err := opt(o); err != nil {
			return nil, err
		}
	}
	return o, nil
}

// WithLookupEnv replaces os.LookupEnv for the AWS_* settings. Open reads
// every setting through it; the SDK's clients read none themselves.
func WithLookupEnv(f func(string) (string, bool)) Option {
	return func(o *options) error {
		if f == nil {
			return errors.New("awskms.WithLookupEnv: nil lookup function")
		}
		o.lookupEnv = f
		return nil
	}
}

// WithTransport sets the HTTP transport of every call, to KMS and to the
// credential sources. The transport owns TLS, so Open refuses it while
// AWS_CA_BUNDLE is set.
func WithTransport(rt http.RoundTripper) Option {
	return func(o *options) error {
		if rt == nil {
			return errors.New("awskms.WithTransport: nil transport")
		}
		o.transport = rt
		return nil
	}
}
