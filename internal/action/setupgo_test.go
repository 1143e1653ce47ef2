package action

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestSetupPlanGo checks when a source build runs actions/setup-go: only when no Go on PATH
// satisfies go.mod. A Go the job set up itself is used as it is, so that the action does not
// change the Go of the job's later steps (issue 14), and nothing is fetched when one is there.
func TestSetupPlanGo(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^go (\d+)\.(\d+)(?:\.(\d+))?\s*$`).FindStringSubmatch(string(b))
	if m == nil {
		t.Fatal("go.mod has no go line")
	}
	need := "go" + m[1] + "." + m[2] + "." + m[3]
	if m[3] == "" {
		need = "go" + m[1] + "." + m[2] + ".0"
	}
	older := "go" + m[1] + "." + m[2] + "rc1" // a release candidate comes before its release
	newer := "go" + m[1] + ".99.1"

	// The tools setup.sh runs, without any Go.
	tools := t.TempDir()
	for _, name := range []string{"bash", "awk", "sed", "find", "sort", "xargs", "cat", "cut", "sha256sum", "shasum", "uname", "dirname", "head", "mkdir", "mktemp"} {
		if p, err := exec.LookPath(name); err == nil {
			if err := os.Symlink(p, filepath.Join(tools, name)); err != nil {
				t.Fatal(err)
			}
		}
	}
	fakeGo := func(version string) string {
		dir := t.TempDir()
		script := "#!/bin/sh\n[ \"$1 $2\" = 'env GOVERSION' ] && [ \"$GOTOOLCHAIN\" = local ] && echo " + version + "\n"
		if err := os.WriteFile(filepath.Join(dir, "go"), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
		return dir + string(os.PathListSeparator) + tools
	}
	for _, tc := range []struct {
		name, path, want string
	}{
		{"no Go on PATH", tools, ""},
		{"older than go.mod", fakeGo(older), ""},
		{"as go.mod asks", fakeGo(need), need},
		{"newer", fakeGo(newer), newer},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, log, ok := setupRun(t, map[string]string{"PATH": tc.path, "SEAL_VERSION": "source"}, "plan")
			if !ok || out["mode"] != "source" {
				t.Fatalf("setup.sh plan: outputs %v, ok %v\n%s", out, ok, log)
			}
			got, set := out["go"]
			if !set || got != tc.want {
				t.Errorf("setup.sh plan: go = %q (set %v), want %q; outputs %v\n%s", got, set, tc.want, out, log)
			}
		})
	}

	// The composite actions run setup-go exactly when plan found no Go.
	job := &runnerJob{Env: map[string]string{}, Github: map[string]string{}}
	for dir := range actionDirs {
		for _, s := range loadAction(t, filepath.Join(repoRoot(t), dir)).Runs.Steps {
			if !strings.HasPrefix(s.Uses, "actions/setup-go@") {
				continue
			}
			ctx := map[string]map[string]string{"github": job.Github, "runner": {}, "inputs": {}, "env": {}}
			for _, tc := range []struct {
				mode, goVersion string
				want            bool
			}{{"source", "", true}, {"source", need, false}, {"release", "", false}} {
				steps := map[string]map[string]string{"setup": {"mode": tc.mode, "go": tc.goVersion}}
				if got := truthy(evalExpr(t, s.If, ctx, steps, false)); got != tc.want {
					t.Errorf("%s: setup-go if %q with mode %q, go %q = %v, want %v", dir, s.If, tc.mode, tc.goVersion, got, tc.want)
				}
			}
		}
	}
}
