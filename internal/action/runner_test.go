package action

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode"

	"go.yaml.in/yaml/v3"
)

// This file runs a composite action's steps the way the GitHub Actions runner does, so that
// tests exercise action.yml itself: input defaults, `${{ }}` expressions, `if:` conditions,
// step outputs through $GITHUB_OUTPUT, $GITHUB_PATH, $GITHUB_STEP_SUMMARY, and `run:` scripts
// in `bash --noprofile --norc -eo pipefail`. The expression language is the subset Seal's
// actions use; anything else fails the test, which keeps the action files within what is
// checked here. `uses:` steps are stood in for: actions/setup-go checks that Go is on PATH and
// that go-version-file exists. There is no stand-in for actions/cache: a binary restored from a
// cache that other jobs can write must not run (setup.sh rebuilds or re-checks it instead).

// compositeAction is action.yml.
type compositeAction struct {
	Name        string `yaml:"name"`
	Description string `yaml:"description"`
	Author      string `yaml:"author"`
	Branding    struct {
		Icon  string `yaml:"icon"`
		Color string `yaml:"color"`
	} `yaml:"branding"`
	Inputs map[string]struct {
		Description string  `yaml:"description"`
		Required    bool    `yaml:"required"`
		Default     *string `yaml:"default"`
	} `yaml:"inputs"`
	Outputs map[string]struct {
		Description string `yaml:"description"`
		Value       string `yaml:"value"`
	} `yaml:"outputs"`
	Runs struct {
		Using string          `yaml:"using"`
		Steps []compositeStep `yaml:"steps"`
	} `yaml:"runs"`
}

type compositeStep struct {
	ID    string            `yaml:"id"`
	Name  string            `yaml:"name"`
	If    string            `yaml:"if"`
	Shell string            `yaml:"shell"`
	Run   string            `yaml:"run"`
	Uses  string            `yaml:"uses"`
	Env   map[string]string `yaml:"env"`
	With  map[string]string `yaml:"with"`
}

func loadAction(t testing.TB, dir string) *compositeAction {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "action.yml"))
	if err != nil {
		t.Fatalf("reading action: %v", err)
	}
	var a compositeAction
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&a); err != nil {
		t.Fatalf("parsing %s/action.yml: %v", dir, err)
	}
	return &a
}

// runnerJob is the job a composite action runs in: its environment, directories and the
// contexts expressions read.
type runnerJob struct {
	// Env is the job's environment (GITHUB_*, RUNNER_*, ACTIONS_* and the rest), on top of a
	// cleaned copy of the test process's (PATH, HOME, Go's caches).
	Env map[string]string
	// Github is the github context (token, repository, ...); action_path is set per action.
	Github map[string]string
	// Workspace is the working directory of run steps.
	Workspace string
}

// runResult is what the runner collected from one action.
type runResult struct {
	Outputs map[string]string
	Summary string
	Log     string // stdout and stderr of every step
	// Failed is the id (or index) of the step that failed; "" on success.
	Failed string
	// Uses lists the `uses:` steps that ran.
	Uses []string
}

// run executes the composite action in dir with inputs, as `uses: <dir>` with `with: inputs`.
func (j *runnerJob) run(t testing.TB, dir string, inputs map[string]string) *runResult {
	t.Helper()
	a := loadAction(t, dir)
	if a.Runs.Using != "composite" {
		t.Fatalf("%s: runs.using = %q, want composite", dir, a.Runs.Using)
	}
	tmp := t.TempDir()
	ctx := map[string]map[string]string{"github": {}, "runner": {}, "inputs": {}, "env": {}}
	for k, v := range j.Github {
		ctx["github"][k] = v
	}
	ctx["github"]["action_path"] = dir
	ctx["github"]["workspace"] = j.Workspace
	ctx["runner"]["os"], ctx["runner"]["arch"] = j.Env["RUNNER_OS"], j.Env["RUNNER_ARCH"]
	ctx["runner"]["temp"], ctx["runner"]["tool_cache"] = j.Env["RUNNER_TEMP"], j.Env["RUNNER_TOOL_CACHE"]
	for k := range inputs {
		if _, ok := a.Inputs[k]; !ok {
			t.Fatalf("%s has no input %q (the runner would warn and ignore it)", dir, k)
		}
	}
	for name, in := range a.Inputs {
		v, ok := inputs[name]
		if !ok && in.Default != nil {
			v = evalTemplate(t, *in.Default, ctx, nil)
		}
		ctx["inputs"][name] = v
	}
	steps := map[string]map[string]string{}
	res := &runResult{Outputs: map[string]string{}}
	var log bytes.Buffer
	var summary strings.Builder
	var extraPath []string
	for i, s := range a.Runs.Steps {
		id := s.ID
		if id == "" {
			id = fmt.Sprintf("__%d", i)
		}
		steps[id] = map[string]string{}
		cond := s.If
		if cond == "" {
			cond = "success()"
		}
		if !truthy(evalExpr(t, strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(cond), "${{"), "}}"), ctx, steps, res.Failed != "")) {
			continue
		}
		switch {
		case s.Uses != "":
			res.Uses = append(res.Uses, s.Uses)
			with := map[string]string{}
			for k, v := range s.With {
				with[k] = evalTemplate(t, v, ctx, steps)
			}
			j.standIn(t, s.Uses, with, steps[id])
		case s.Run != "":
			if s.Shell != "bash" {
				t.Fatalf("%s step %s: shell %q; Seal's actions use bash on every OS", dir, id, s.Shell)
			}
			files := map[string]string{}
			for _, f := range []string{"GITHUB_OUTPUT", "GITHUB_ENV", "GITHUB_PATH", "GITHUB_STEP_SUMMARY"} {
				files[f] = filepath.Join(tmp, fmt.Sprintf("%s_%d", strings.ToLower(f), i))
				if err := os.WriteFile(files[f], nil, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			env := map[string]string{}
			for k, v := range j.Env {
				env[k] = v
			}
			for k, v := range files {
				env[k] = v
			}
			env["GITHUB_ACTION_PATH"] = dir
			if len(extraPath) > 0 {
				env["PATH"] = strings.Join(extraPath, string(os.PathListSeparator)) + string(os.PathListSeparator) + env["PATH"]
			}
			for k, v := range s.Env {
				env[k] = evalTemplate(t, v, ctx, steps)
			}
			script := filepath.Join(tmp, fmt.Sprintf("step_%d.sh", i))
			if err := os.WriteFile(script, []byte(evalTemplate(t, s.Run, ctx, steps)), 0o755); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command("bash", "--noprofile", "--norc", "-eo", "pipefail", script)
			cmd.Dir = j.Workspace
			for k, v := range env {
				cmd.Env = append(cmd.Env, k+"="+v)
			}
			fmt.Fprintf(&log, "##[step %s]\n", id)
			cmd.Stdout, cmd.Stderr = &log, &log
			err := cmd.Run()
			for k, v := range parseFileCommand(t, files["GITHUB_OUTPUT"]) {
				steps[id][k] = v
			}
			b, _ := os.ReadFile(files["GITHUB_STEP_SUMMARY"])
			summary.Write(b)
			if b, _ := os.ReadFile(files["GITHUB_PATH"]); len(b) > 0 {
				for _, p := range strings.Split(strings.TrimSpace(string(b)), "\n") {
					extraPath = append([]string{strings.TrimSpace(p)}, extraPath...)
				}
			}
			if err != nil {
				fmt.Fprintf(&log, "##[error]step %s: %v\n", id, err)
				res.Failed = id
			}
		default:
			t.Fatalf("%s step %s has neither run nor uses", dir, id)
		}
	}
	for name, o := range a.Outputs {
		res.Outputs[name] = evalTemplate(t, o.Value, ctx, steps)
	}
	res.Summary, res.Log = summary.String(), log.String()
	return res
}

// standIn plays the `uses:` steps Seal's actions call.
func (j *runnerJob) standIn(t testing.TB, uses string, with map[string]string, out map[string]string) {
	t.Helper()
	name, ref, ok := strings.Cut(uses, "@")
	if !ok || !regexp.MustCompile(`^[0-9a-f]{40}$`).MatchString(ref) {
		t.Fatalf("uses %q: third-party actions must be pinned by commit SHA", uses)
	}
	switch name {
	case "actions/setup-go":
		if _, err := os.Stat(with["go-version-file"]); err != nil {
			t.Fatalf("actions/setup-go: go-version-file: %v", err)
		}
		if _, err := exec.LookPath("go"); err != nil {
			t.Skip("building seal from source needs go on PATH")
		}
	default:
		t.Fatalf("no stand-in for %s", name)
	}
}

// parseFileCommand reads $GITHUB_OUTPUT: "name=value" lines and "name<<DELIM" heredocs.
func parseFileCommand(t testing.TB, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			continue
		}
		if name, delim, ok := strings.Cut(line, "<<"); ok && !strings.Contains(name, "=") {
			var val []string
			closed := false
			for sc.Scan() {
				if sc.Text() == delim {
					closed = true
					break
				}
				val = append(val, sc.Text())
			}
			if !closed {
				t.Fatalf("%s: heredoc %s not closed", path, delim)
			}
			out[name] = strings.Join(val, "\n")
			continue
		}
		name, val, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("%s: malformed line %q", path, line)
		}
		out[name] = val
	}
	return out
}

var templateRE = regexp.MustCompile(`\$\{\{(.*?)\}\}`)

// evalTemplate replaces every ${{ expr }} in s.
func evalTemplate(t testing.TB, s string, ctx map[string]map[string]string, steps map[string]map[string]string) string {
	t.Helper()
	return templateRE.ReplaceAllStringFunc(s, func(m string) string {
		return toString(evalExpr(t, templateRE.FindStringSubmatch(m)[1], ctx, steps, false))
	})
}

// evalExpr evaluates the subset of GitHub's expression language Seal's actions use: context
// paths (inputs.x, steps.id.outputs.x, github.x, runner.x), 'strings', true/false, ==, !=,
// !, &&, ||, parentheses and success()/failure()/always().
func evalExpr(t testing.TB, expr string, ctx map[string]map[string]string, steps map[string]map[string]string, failed bool) any {
	t.Helper()
	p := &exprParser{t: t, src: expr, toks: tokenize(t, expr), ctx: ctx, steps: steps, failed: failed}
	v := p.or()
	if p.pos != len(p.toks) {
		t.Fatalf("expression %q: unexpected %q", expr, p.toks[p.pos])
	}
	return v
}

type exprParser struct {
	t      testing.TB
	src    string
	toks   []string
	pos    int
	ctx    map[string]map[string]string
	steps  map[string]map[string]string
	failed bool
}

func tokenize(t testing.TB, s string) []string {
	var toks []string
	for i := 0; i < len(s); {
		c := rune(s[i])
		switch {
		case unicode.IsSpace(c):
			i++
		case strings.HasPrefix(s[i:], "==") || strings.HasPrefix(s[i:], "!=") || strings.HasPrefix(s[i:], "&&") || strings.HasPrefix(s[i:], "||"):
			toks = append(toks, s[i:i+2])
			i += 2
		case c == '!' || c == '(' || c == ')':
			toks = append(toks, string(c))
			i++
		case c == '\'':
			j := i + 1
			for ; j < len(s); j++ {
				if s[j] == '\'' {
					if j+1 < len(s) && s[j+1] == '\'' {
						j++
						continue
					}
					break
				}
			}
			if j >= len(s) {
				t.Fatalf("expression %q: unterminated string", s)
			}
			toks = append(toks, s[i:j+1])
			i = j + 1
		case unicode.IsLetter(c) || c == '_':
			j := i
			for j < len(s) && (unicode.IsLetter(rune(s[j])) || unicode.IsDigit(rune(s[j])) || strings.ContainsRune("_-.", rune(s[j]))) {
				j++
			}
			toks = append(toks, s[i:j])
			i = j
		default:
			t.Fatalf("expression %q: unsupported character %q (extend the test runner if the action needs it)", s, c)
		}
	}
	return toks
}

func (p *exprParser) peek() string {
	if p.pos < len(p.toks) {
		return p.toks[p.pos]
	}
	return ""
}

func (p *exprParser) or() any {
	v := p.and()
	for p.peek() == "||" {
		p.pos++
		r := p.and()
		if !truthy(v) {
			v = r
		}
	}
	return v
}

func (p *exprParser) and() any {
	v := p.unary()
	for p.peek() == "&&" {
		p.pos++
		r := p.unary()
		if truthy(v) {
			v = r
		}
	}
	return v
}

func (p *exprParser) unary() any {
	if p.peek() == "!" {
		p.pos++
		return !truthy(p.unary())
	}
	l := p.primary()
	if op := p.peek(); op == "==" || op == "!=" {
		p.pos++
		r := p.primary()
		eq := strings.EqualFold(toString(l), toString(r))
		return eq == (op == "==")
	}
	return l
}

func (p *exprParser) primary() any {
	tok := p.peek()
	p.pos++
	switch {
	case tok == "(":
		v := p.or()
		if p.peek() != ")" {
			p.t.Fatalf("expression %q: missing )", p.src)
		}
		p.pos++
		return v
	case strings.HasPrefix(tok, "'"):
		return strings.ReplaceAll(tok[1:len(tok)-1], "''", "'")
	case tok == "true" || tok == "false":
		return tok == "true"
	case tok == "null":
		return nil
	case tok == "success" || tok == "failure" || tok == "always":
		if p.peek() != "(" || p.pos+1 >= len(p.toks) || p.toks[p.pos+1] != ")" {
			p.t.Fatalf("expression %q: %s must be called", p.src, tok)
		}
		p.pos += 2
		switch tok {
		case "success":
			return !p.failed
		case "failure":
			return p.failed
		}
		return true
	case tok != "" && (unicode.IsLetter(rune(tok[0])) || tok[0] == '_'):
		parts := strings.Split(tok, ".")
		switch parts[0] {
		case "steps":
			if len(parts) != 4 || parts[2] != "outputs" {
				p.t.Fatalf("expression %q: want steps.ID.outputs.NAME", p.src)
			}
			if _, ok := p.steps[parts[1]]; !ok {
				p.t.Fatalf("expression %q: step %q has not run before this point", p.src, parts[1])
			}
			return p.steps[parts[1]][parts[3]]
		case "github", "runner", "inputs", "env":
			if len(parts) != 2 {
				p.t.Fatalf("expression %q: want %s.NAME", p.src, parts[0])
			}
			if parts[0] == "inputs" {
				if _, ok := p.ctx["inputs"][parts[1]]; !ok {
					p.t.Fatalf("expression %q: the action has no input %q", p.src, parts[1])
				}
			}
			return p.ctx[parts[0]][parts[1]]
		}
		p.t.Fatalf("expression %q: unknown context %q", p.src, parts[0])
	}
	if _, err := strconv.ParseFloat(tok, 64); err == nil {
		return tok
	}
	p.t.Fatalf("expression %q: unexpected %q", p.src, tok)
	return nil
}

func truthy(v any) bool {
	switch v := v.(type) {
	case nil:
		return false
	case bool:
		return v
	case string:
		return v != ""
	}
	return true
}

func toString(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case bool:
		return strconv.FormatBool(v)
	case string:
		return v
	}
	return fmt.Sprint(v)
}
