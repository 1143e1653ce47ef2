package action

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// actionDirs are the root action and the sub-actions, with the `seal action` verb each runs.
var actionDirs = map[string]string{
	".":                  "all",
	"actions/sign":       "sign",
	"actions/attest":     "attest",
	"actions/provenance": "provenance",
	"actions/verify":     "verify",
	"actions/promote":    "promote",
}

// TestActionMetadata checks the action.yml files against each other and against the runner's
// contract: every input reaches the binary as INPUT_<NAME>, the setup steps are the same
// everywhere, third-party actions are pinned by commit, every expression is one the runner
// test can evaluate, and the run step calls the right verb.
func TestActionMetadata(t *testing.T) {
	root := repoRoot(t)
	var setup []compositeStep
	for dir, verb := range actionDirs {
		t.Run(dir, func(t *testing.T) {
			a := loadAction(t, filepath.Join(root, dir))
			if a.Name == "" || a.Description == "" {
				t.Errorf("name %q, description %q: both are required", a.Name, a.Description)
			}
			steps := a.Runs.Steps
			if len(steps) != 4 {
				t.Fatalf("%d steps, want setup, setup-go, install, run (no cache: setup.sh checks or rebuilds the binary on every use)", len(steps))
			}
			// The setup steps differ only in where setup.sh and go.mod are.
			norm := strings.NewReplacer("$GITHUB_ACTION_PATH/../setup.sh", "$GITHUB_ACTION_PATH/actions/setup.sh",
				"${{ github.action_path }}/../../go.mod", "${{ github.action_path }}/go.mod")
			var mine []compositeStep
			for _, s := range steps[:3] {
				s.Run = norm.Replace(s.Run)
				if s.With != nil {
					s.With["go-version-file"] = norm.Replace(s.With["go-version-file"])
					if s.With["go-version-file"] == "" {
						delete(s.With, "go-version-file")
					}
				}
				mine = append(mine, s)
			}
			if setup == nil {
				setup = mine
			} else if diff := cmp.Diff(setup, mine); diff != "" {
				t.Errorf("setup steps differ from another action's (-other +this):\n%s", diff)
			}
			run := steps[3]
			if run.ID != "run" || !strings.Contains(run.Run, `"$SEAL_BIN" action `+verb+"\n") {
				t.Errorf("last step %q runs %q; want id run calling seal action %s", run.ID, run.Run, verb)
			}
			for name, in := range a.Inputs {
				if in.Description == "" {
					t.Errorf("input %s has no description", name)
				}
				if in.Required {
					t.Errorf("input %s is required: Seal reports missing inputs itself, with a better message", name)
				}
				if name == "version" {
					continue
				}
				env := "INPUT_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
				if got := run.Env[env]; got != "${{ inputs."+name+" }}" {
					t.Errorf("input %s reaches the binary as %s=%q, want ${{ inputs.%s }}", name, env, got, name)
				}
			}
			for k := range run.Env {
				if name, ok := strings.CutPrefix(k, "INPUT_"); ok {
					if _, declared := a.Inputs[strings.ToLower(strings.ReplaceAll(name, "_", "-"))]; !declared {
						t.Errorf("run step sets %s for an undeclared input", k)
					}
				}
			}
			for name, o := range a.Outputs {
				if !regexp.MustCompile(`^\$\{\{ steps\.(run|install)\.outputs\.[a-z-]+ \}\}$`).MatchString(o.Value) {
					t.Errorf("output %s = %q", name, o.Value)
				}
			}
			for _, s := range steps {
				if s.Uses != "" && !regexp.MustCompile(`^[a-z-]+/[a-z-]+@[0-9a-f]{40}$`).MatchString(s.Uses) {
					t.Errorf("uses %q is not pinned by commit SHA", s.Uses)
				}
			}
		})
	}
}

func TestExpressions(t *testing.T) {
	ctx := map[string]map[string]string{
		"inputs": {"version": "", "image": "app"}, "github": {"token": "tok"}, "runner": {}, "env": {},
	}
	steps := map[string]map[string]string{"setup": {"mode": "source"}, "install": {"path": "/tmp/seal"}}
	for _, tc := range []struct {
		expr string
		want any
	}{
		{"steps.setup.outputs.mode == 'source'", true},
		{"steps.setup.outputs.mode == 'SOURCE'", true},
		{"steps.setup.outputs.mode == 'source' && steps.install.outputs.path != 'true'", true},
		{"steps.setup.outputs.mode == 'release' || inputs.image", "app"},
		{"!inputs.version", true},
		{"success()", true},
		{"(inputs.image == 'app') && github.token", "tok"},
		{"'it''s'", "it's"},
	} {
		if got := evalExpr(t, tc.expr, ctx, steps, false); got != tc.want {
			t.Errorf("evalExpr(%q) = %#v, want %#v", tc.expr, got, tc.want)
		}
	}
}

// TestDockerfile checks what cannot be built here (no container engine): base images pinned by
// digest, a static and reproducible build, non-root final stages, and the targets the release
// workflow and the GitLab components use.
func TestDockerfile(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	df := string(b)
	for _, m := range regexp.MustCompile(`(?m)^ARG (\w+_IMAGE)=(\S+)$`).FindAllStringSubmatch(df, -1) {
		if !regexp.MustCompile(`@sha256:[0-9a-f]{64}$`).MatchString(m[2]) {
			t.Errorf("%s=%s is not pinned by digest", m[1], m[2])
		}
	}
	for _, from := range regexp.MustCompile(`(?m)^FROM .*$`).FindAllString(df, -1) {
		if !strings.Contains(from, "${") {
			t.Errorf("%q: every base image comes from a pinned ARG", from)
		}
	}
	for _, want := range []string{"CGO_ENABLED=0", "-trimpath", `-ldflags "-s -w -X github.com/sealsign/seal/internal/version.version=${VERSION}"`, " AS ci\n", " AS seal\n"} {
		if !strings.Contains(df, want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
	// The last stage is the default target; both final stages run as non-root.
	stages := strings.Split(df, "\nFROM ")
	if !strings.Contains(stages[len(stages)-1], "AS seal") {
		t.Error("the default (last) stage is not seal")
	}
	for _, s := range stages[2:] {
		if !regexp.MustCompile(`(?m)^USER 65532:65532$`).MatchString(s) {
			t.Errorf("stage %q does not run as non-root", strings.SplitN(s, "\n", 2)[0])
		}
	}
}
