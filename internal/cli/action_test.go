package cli

import (
	"strings"
	"testing"
)

// TestActionUnknownStep checks that the hidden verb refuses a step it does not know.
func TestActionUnknownStep(t *testing.T) {
	clearCI(t)
	_, stderr, code := run(t, "action", "publish")
	if code != 2 || !strings.Contains(stderr, `unknown step "publish"`) {
		t.Errorf("seal action publish: exit %d, stderr %q", code, stderr)
	}
}
