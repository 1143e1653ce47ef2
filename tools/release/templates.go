package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"
)

// sealImageInput is the line that opens the seal-image input of a component's spec: the image
// the component's jobs run in.
const sealImageInput = "    seal-image:"

// templatePaths lists the components' templates/NAME/template.yml, relative to root.
func templatePaths(root string) ([]string, error) {
	paths, err := filepath.Glob(filepath.Join(root, "templates", "*", "template.yml"))
	if err != nil {
		return nil, err
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("no templates/*/template.yml under %s", root)
	}
	for i, p := range paths {
		if paths[i], err = filepath.Rel(root, p); err != nil {
			return nil, err
		}
	}
	return paths, nil
}

// pinTemplates sets the seal-image default of every component under root to ref and returns
// the files it changed.
func pinTemplates(root, ref string) ([]string, error) {
	paths, err := templatePaths(root)
	if err != nil {
		return nil, err
	}
	for _, p := range paths {
		f := filepath.Join(root, p)
		raw, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		pinned, err := pinTemplate(raw, ref)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		if err := os.WriteFile(f, pinned, 0o644); err != nil {
			return nil, err
		}
	}
	return paths, nil
}

// pinTemplate replaces the default line of the seal-image input, leaving every other byte as it
// was, and checks the result as GitLab reads it: the default is ref, and ref passes the input's
// regex.
func pinTemplate(raw []byte, ref string) ([]byte, error) {
	lines := strings.SplitAfter(string(raw), "\n")
	start := -1
	for i, l := range lines {
		if strings.TrimRight(l, "\r\n") == sealImageInput {
			start = i
			break
		}
	}
	if start < 0 {
		return nil, fmt.Errorf("no %q input", strings.TrimSpace(sealImageInput))
	}
	done := false
	for i := start + 1; i < len(lines) && strings.HasPrefix(lines[i], "      "); i++ {
		if strings.HasPrefix(lines[i], "      default:") {
			lines[i] = "      default: '" + ref + "'\n"
			done = true
			break
		}
	}
	if !done {
		return nil, errors.New("the seal-image input has no default line to pin")
	}
	out := []byte(strings.Join(lines, ""))
	def, re, err := sealImageSpec(out)
	if err != nil {
		return nil, err
	}
	if def != ref {
		return nil, fmt.Errorf("the pinned seal-image default reads %q, not %q", def, ref)
	}
	if !re.MatchString(ref) {
		return nil, fmt.Errorf("%s does not pass the seal-image regex %s", ref, re)
	}
	return out, nil
}

// sealImageSpec reads the seal-image input of a template's spec: its default and its regex.
func sealImageSpec(raw []byte) (string, *regexp.Regexp, error) {
	var spec struct {
		Spec struct {
			Inputs map[string]struct {
				Default any    `yaml:"default"`
				Regex   string `yaml:"regex"`
			} `yaml:"inputs"`
		} `yaml:"spec"`
	}
	// The spec is the first of the template's two YAML documents.
	if err := yaml.NewDecoder(bytes.NewReader(raw)).Decode(&spec); err != nil {
		return "", nil, fmt.Errorf("reading the spec: %w", err)
	}
	in, ok := spec.Spec.Inputs["seal-image"]
	if !ok {
		return "", nil, errors.New("no seal-image input")
	}
	def, _ := in.Default.(string)
	if in.Regex == "" {
		return "", nil, errors.New("the seal-image input has no regex")
	}
	re, err := regexp.Compile(in.Regex)
	if err != nil {
		return "", nil, fmt.Errorf("the seal-image regex: %w", err)
	}
	return def, re, nil
}
