package oci

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/sealsign/seal/internal/limits"
)

var (
	// ErrNotFound reports that a manifest, tag or blob does not exist.
	ErrNotFound = errors.New("not found")
	// ErrDenied reports that the registry refused the credentials or the access.
	ErrDenied = errors.New("access denied")
)

// RegistryError is an unexpected response from a registry. Its URL carries no
// query string and no user information, so it never leaks upload state or tokens.
type RegistryError struct {
	Method     string
	URL        string
	StatusCode int
	// Codes are the OCI error codes of the response body, e.g. MANIFEST_UNKNOWN.
	Codes []string
	// Message is the first error message of the response body, shortened.
	Message string
}

func (e *RegistryError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s: %d %s", e.Method, e.URL, e.StatusCode, http.StatusText(e.StatusCode))
	if len(e.Codes) > 0 {
		b.WriteString(": ")
		b.WriteString(strings.Join(e.Codes, ", "))
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	return b.String()
}

// Is lets callers test errors.Is(err, ErrNotFound) and errors.Is(err, ErrDenied).
func (e *RegistryError) Is(target error) bool {
	switch target {
	case ErrNotFound:
		return e.StatusCode == http.StatusNotFound
	case ErrDenied:
		return e.StatusCode == http.StatusUnauthorized || e.StatusCode == http.StatusForbidden
	}
	return false
}

// hasCode reports whether the registry answered with the OCI error code.
func (e *RegistryError) hasCode(code string) bool {
	for _, c := range e.Codes {
		if c == code {
			return true
		}
	}
	return false
}

const maxErrorMessage = 200

// newRegistryError reads an error body (bounded) into a RegistryError.
func newRegistryError(req *http.Request, resp *http.Response, body []byte) *RegistryError {
	e := &RegistryError{Method: req.Method, URL: redactURL(req.URL), StatusCode: resp.StatusCode}
	var doc struct {
		Errors []struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"errors"`
	}
	if json.Unmarshal(body, &doc) == nil {
		for _, d := range doc.Errors {
			if d.Code != "" {
				e.Codes = append(e.Codes, d.Code)
			}
			if e.Message == "" {
				e.Message = d.Message
			}
		}
	}
	if len(e.Message) > maxErrorMessage {
		e.Message = e.Message[:maxErrorMessage] + "…"
	}
	return e
}

// redactURL keeps scheme, host and path: queries carry upload state and, on some
// registries, signed tokens; user information carries passwords.
func redactURL(u *url.URL) string { return limits.Redact(u) }

// redactError rewrites the URL inside a transport error so that wrapping it is safe.
func redactError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		if u, perr := url.Parse(ue.URL); perr == nil {
			return &url.Error{Op: ue.Op, URL: redactURL(u), Err: ue.Err}
		}
		return &url.Error{Op: ue.Op, URL: "(unparsable url)", Err: ue.Err}
	}
	return err
}
