package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/sethvargo/go-githubactions"
)

// annotations is a slog.Handler for GitHub Actions: warnings become
// ::warning:: workflow commands, which the run's summary page lists, and
// everything else goes to next. Messages pass through redact first, so a
// secret the process has seen cannot reach an annotation.
type annotations struct {
	next   slog.Handler
	gh     *githubactions.Action
	attrs  []slog.Attr
	redact func(string) string
}

func newAnnotations(next slog.Handler, w io.Writer, redact func(string) string) *annotations {
	return &annotations{next: next, gh: githubactions.New(githubactions.WithWriter(w)), redact: redact}
}

func (h *annotations) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

func (h *annotations) Handle(ctx context.Context, r slog.Record) error {
	if r.Level < slog.LevelWarn || r.Level >= slog.LevelError {
		return h.next.Handle(ctx, r)
	}
	var b strings.Builder
	b.WriteString(r.Message)
	add := func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value.Resolve())
		return true
	}
	for _, a := range h.attrs {
		add(a)
	}
	r.Attrs(add)
	// One line: a workflow command ends at the newline.
	msg := strings.ReplaceAll(h.redact(b.String()), "\n", "; ")
	h.gh.Warningf("%s", msg)
	return nil
}

func (h *annotations) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	c.next = h.next.WithAttrs(as)
	c.attrs = append(append([]slog.Attr{}, h.attrs...), as...)
	return &c
}

func (h *annotations) WithGroup(name string) slog.Handler {
	// Seal's packages log no groups; keep them on the plain path.
	c := *h
	c.next = h.next.WithGroup(name)
	return &c
}
