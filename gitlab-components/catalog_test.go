package components

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// component is templates/<name>/template.yml: the spec document, then the jobs.
type component struct {
	name   string
	inputs map[string]struct {
		Description string   `yaml:"description"`
		Type        string   `yaml:"type"`
		Default     any      `yaml:"default"`
		Options     []string `yaml:"options"`
		Regex       string   `yaml:"regex"`
	}
	jobs map[string]map[string]any
	raw  string
}

func loadComponents(t *testing.T) []*component {
	t.Helper()
	dirs, err := os.ReadDir("../templates")
	if err != nil {
		t.Fatal(err)
	}
	var cs []*component
	for _, d := range dirs {
		if !d.IsDir() {
			// The catalog reads templates/<name>.yml and templates/<name>/template.yml; the
			// only other file here is the folder's README.
			if d.Name() != "README.md" {
				t.Errorf("templates/%s: not a component directory", d.Name())
			}
			continue
		}
		raw, err := os.ReadFile(filepath.Join("../templates", d.Name(), "template.yml"))
		if err != nil {
			t.Errorf("component %s: %v", d.Name(), err)
			continue
		}
		c := &component{name: d.Name(), raw: string(raw)}
		dec := yaml.NewDecoder(bytes.NewReader(raw))
		var spec struct {
			Spec struct {
				Inputs yaml.Node `yaml:"inputs"`
			} `yaml:"spec"`
		}
		if err := dec.Decode(&spec); err != nil {
			t.Fatalf("component %s: spec: %v", c.name, err)
		}
		if err := spec.Spec.Inputs.Decode(&c.inputs); err != nil {
			t.Fatalf("component %s: spec:inputs: %v", c.name, err)
		}
		if err := dec.Decode(&c.jobs); err != nil {
			t.Fatalf("component %s: jobs: %v", c.name, err)
		}
		var extra any
		if err := dec.Decode(&extra); err != io.EOF {
			t.Errorf("component %s: more than two YAML documents", c.name)
		}
		cs = append(cs, c)
	}
	if len(cs) == 0 {
		t.Fatal("no components in templates/")
	}
	return cs
}

// TestCatalogLayout checks what GitLab's CI/CD Catalog and Seal's users rely on, without
// running anything: each component has its README, typed and validated inputs, a stage and a
// job-name prefix, no global keywords (they would leak into the including pipeline), jobs that
// run Seal's image pinned by digest, ask for an OIDC token only when they sign, and keep
// their outputs as a dotenv report and artifacts.
func TestCatalogLayout(t *testing.T) {
	inputRef := regexp.MustCompile(`\$\[\[\s*inputs\.([a-z0-9_-]+)\s*\]\]`)
	for _, c := range loadComponents(t) {
		t.Run(c.name, func(t *testing.T) {
			if _, err := os.Stat(filepath.Join("../templates", c.name, "README.md")); err != nil {
				t.Errorf("no README: %v", err)
			}
			for _, want := range []string{"stage", "job-prefix", "image", "seal-image"} {
				if _, ok := c.inputs[want]; !ok {
					t.Errorf("no %s input", want)
				}
			}
			img := c.inputs["image"]
			if img.Default != nil || img.Regex == "" {
				t.Errorf("input image must be required and validated by a regex; default %v, regex %q", img.Default, img.Regex)
			}
			re, err := regexp.Compile(img.Regex)
			if err != nil {
				t.Fatalf("image regex: %v", err)
			}
			for ref, ok := range map[string]bool{
				"registry.gitlab.com/g/p@sha256:" + strings.Repeat("0a", 32): true,
				"$CI_REGISTRY_IMAGE@$BUILD_DIGEST":                           true,
				"$CI_REGISTRY_IMAGE/app@${DIGEST}":                           true,
				"$SIGNED_IMAGE":                                              true,
				"registry.gitlab.com/g/p:1.0":                                false,
				"$CI_REGISTRY_IMAGE:latest":                                  false,
				"registry.gitlab.com/g/p@sha256:4c9b":                        false,
				"registry.gitlab.com/g/p":                                    false,
			} {
				if re.MatchString(ref) != ok {
					t.Errorf("image regex matches %q = %v, want %v", ref, !ok, ok)
				}
			}
			for name, in := range c.inputs {
				if in.Description == "" {
					t.Errorf("input %s has no description", name)
				}
				if in.Type == "boolean" {
					if _, ok := in.Default.(bool); !ok {
						t.Errorf("boolean input %s has default %#v", name, in.Default)
					}
				}
				if len(in.Options) > 0 && in.Default != nil && !slices.Contains(in.Options, in.Default.(string)) {
					t.Errorf("input %s: default %v is not one of its options", name, in.Default)
				}
			}
			for _, m := range inputRef.FindAllStringSubmatch(c.raw, -1) {
				if _, ok := c.inputs[m[1]]; !ok {
					t.Errorf("$[[ inputs.%s ]] is used but not declared", m[1])
				}
			}
			for name, job := range c.jobs {
				if !strings.HasPrefix(name, "$[[ inputs.job-prefix ]]-") {
					t.Errorf("%q is a global keyword or a job without the job-prefix", name)
					continue
				}
				if job["stage"] != "$[[ inputs.stage ]]" {
					t.Errorf("job %s: stage %v, want the stage input", name, job["stage"])
				}
				image, _ := job["image"].(map[string]any)
				if image["name"] != "$[[ inputs.seal-image ]]" {
					t.Errorf("job %s: image %v, want the seal-image input", name, job["image"])
				}
				signs := !strings.HasSuffix(name, "-verify")
				tokens, _ := job["id_tokens"].(map[string]any)
				if signs != (tokens["SIGSTORE_ID_TOKEN"] != nil) {
					t.Errorf("job %s: id_tokens %v; signing jobs need SIGSTORE_ID_TOKEN, others none", name, job["id_tokens"])
				}
				arts, _ := job["artifacts"].(map[string]any)
				reports, _ := arts["reports"].(map[string]any)
				if reports["dotenv"] == nil || arts["paths"] == nil {
					t.Errorf("job %s: artifacts %v, want paths and a dotenv report", name, job["artifacts"])
				}
				vars, _ := job["variables"].(map[string]any)
				for k, v := range vars {
					if s, ok := v.(string); ok && strings.HasPrefix(s, "$[[") && strings.HasSuffix(s, "]]") {
						m := inputRef.FindStringSubmatch(s)
						if m != nil && c.inputs[m[1]].Type == "boolean" {
							t.Errorf("job %s: variable %s is the boolean input %s, which GitLab interpolates as a YAML boolean that variables: refuses", name, k, m[1])
						}
					}
				}
			}
		})
	}
}

// TestCatalogSealImage checks the image the components' jobs run in: the seal-image input takes
// an image pinned by digest (or a variable holding it) and refuses a tag. A release commit
// (tools/release) pins its own CI image as the default of every component, the one
// actions/release.sha256 names; at any other commit there is no release image, and the default
// is Seal's message, which the regex refuses, so that a pipeline without seal-image fails with it.
func TestCatalogSealImage(t *testing.T) {
	pins, err := os.ReadFile("../actions/release.sha256")
	if err != nil {
		t.Fatal(err)
	}
	var release string
	if m := regexp.MustCompile(`(?m)^# image (\S+-ci@sha256:[a-f0-9]{64})$`).FindSubmatch(pins); m != nil {
		release = string(m[1])
	}
	pinsBinaries := regexp.MustCompile(`(?m)^[a-f0-9]{64}  seal_`).Match(pins)
	if pinsBinaries != (release != "") {
		t.Fatalf("actions/release.sha256 pins binaries %v but a CI image %q: a release pins both, other commits neither", pinsBinaries, release)
	}
	for _, c := range loadComponents(t) {
		t.Run(c.name, func(t *testing.T) {
			in := c.inputs["seal-image"]
			re, err := regexp.Compile(in.Regex)
			if err != nil || in.Regex == "" {
				t.Fatalf("seal-image regex %q: %v", in.Regex, err)
			}
			for ref, ok := range map[string]bool{
				"ghcr.io/sealsign/seal@sha256:" + strings.Repeat("0a", 32):          true,
				"ghcr.io/sealsign/seal:1.2.3-ci@sha256:" + strings.Repeat("0a", 32): true,
				"$SEAL_CI_IMAGE":                       true,
				"$CI_REGISTRY_IMAGE/seal@$SEAL_DIGEST": true,
				"ghcr.io/sealsign/seal:1.2.3-ci":       false,
				"ghcr.io/sealsign/seal@sha256:0a0a":    false,
				"":                                     false,
			} {
				if re.MatchString(ref) != ok {
					t.Errorf("seal-image regex matches %q = %v, want %v", ref, !ok, ok)
				}
			}
			def, _ := in.Default.(string)
			if release != "" {
				if def != release {
					t.Errorf("seal-image default %q, want the release's CI image %s", def, release)
				}
				return
			}
			if !strings.HasPrefix(def, "seal: error: ") || re.MatchString(def) {
				t.Errorf("seal-image default %q (regex match %v): at a commit that is not a release, want Seal's message, refused by the regex", def, re.MatchString(def))
			}
		})
	}
}
