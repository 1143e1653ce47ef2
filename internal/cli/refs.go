package cli

import "strings"

// shortRef abbreviates the digest of NAME@sha256:HEX for reports.
func shortRef(s string) string {
	if i := strings.Index(s, "@sha256:"); i >= 0 && len(s) > i+20 {
		return s[:i+20] + "…"
	}
	return s
}
