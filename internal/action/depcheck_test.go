package action

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencies keeps the step's logic apart from the command line: package action plans
// into the verbs' option structs (internal/cli/options) and never imports package cli, which
// imports it.
func TestDependencies(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("listing dependencies needs go on PATH")
	}
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	for _, d := range deps {
		if d == "github.com/sealsign/seal/internal/cli" {
			t.Errorf("package action depends on %s", d)
		}
	}
	if len(deps) < 10 {
		t.Fatalf("go list -deps listed %d packages: %q", len(deps), deps)
	}
}
