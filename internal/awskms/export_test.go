package awskms

import (
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
)

// WithQuickRetries keeps the SDK's standard retries (three attempts, the
// same errors retried) but waits only a millisecond between them, so that
// tests of retried failures take no seconds.
func WithQuickRetries() Option {
	return func(o *options) error {
		o.retryer = func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return time.Millisecond, nil })
			})
		}
		return nil
	}
}

// WithAttemptTimeout replaces the 30 seconds each HTTP request may take.
func WithAttemptTimeout(d time.Duration) Option {
	return func(o *options) error {
		o.attemptTimeout = d
		return nil
	}
}
