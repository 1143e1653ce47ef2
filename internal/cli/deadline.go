package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sealsign/seal/internal/limits"
)

// errTimeout is the cause of a run's context ending at --timeout.
var errTimeout = errors.New("--timeout reached")

// deadline bounds a run by timeout (0: no limit). Call done with the run's
// error once it returns: it ends the context and, when the deadline ended the
// run, says so first, with the limit and how to raise it.
func deadline(ctx context.Context, timeout time.Duration) (context.Context, func(*error)) {
	if timeout <= 0 {
		return ctx, func(*error) {}
	}
	ctx, cancel := context.WithTimeoutCause(ctx, timeout, errTimeout)
	return ctx, func(err *error) {
		defer cancel()
		if *err != nil && errors.Is(context.Cause(ctx), errTimeout) {
			*err = fmt.Errorf("gave up after %v (--timeout; 0 for no limit): %w", timeout, *err)
		}
	}
}

// readFile reads a file (or stdin, for "-") that flag names, under limit; a
// file that is missing, unreadable or too large is a usage error.
func (a *app) readFile(flag, path string, limit int64) ([]byte, error) {
	b, err := limits.ReadFile(flag, path, limit, a.stdin)
	if err != nil {
		return nil, &usageError{err}
	}
	return b, nil
}
