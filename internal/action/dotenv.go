package action

import (
	"fmt"
	"os"
	"strings"
)

// DotenvName is the variable an output becomes in a GitLab dotenv report: "bundle-path" is
// SEAL_BUNDLE_PATH.
func DotenvName(output string) string {
	return "SEAL_" + strings.ToUpper(strings.ReplaceAll(output, "-", "_"))
}

// WriteDotenv appends outs to a GitLab dotenv report, which later jobs receive as variables.
// GitLab reads one line per variable and no quoting, so a multi-line value (a list of paths)
// is joined with commas, and outputs meant for people (verify-command) are left to the
// summary.
func WriteDotenv(path string, outs []Output) error {
	var b strings.Builder
	for _, o := range outs {
		if o.Name == "verify-command" {
			continue
		}
		lines := strings.FieldsFunc(o.Value, func(r rune) bool { return r == '\n' || r == '\r' })
		fmt.Fprintf(&b, "%s=%s\n", DotenvName(o.Name), strings.Join(lines, ","))
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("writing dotenv report: %w", err)
	}
	if _, err := f.WriteString(b.String()); err != nil {
		f.Close()
		return fmt.Errorf("writing dotenv report: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing dotenv report: %w", err)
	}
	return nil
}
