package action

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Inputs reads a step's inputs from INPUT_<NAME> variables.
//
// GitHub spells the variable of input "push-to-registry" INPUT_PUSH-TO-REGISTRY for Docker and
// JavaScript actions, but a composite action must pass its inputs to its steps through `env:`,
// where a name with hyphens cannot be read by a shell; Seal's action.yml and GitLab components
// use INPUT_PUSH_TO_REGISTRY. Both spellings are read, the runner's first.
type Inputs struct {
	getenv func(string) string
}

// NewInputs reads inputs through getenv (os.Getenv, or a map in tests).
func NewInputs(getenv func(string) string) Inputs { return Inputs{getenv: getenv} }

// String returns input name, trimmed; "" when unset.
func (in Inputs) String(name string) string {
	key := "INPUT_" + strings.ToUpper(strings.ReplaceAll(name, " ", "_"))
	if v := strings.TrimSpace(in.getenv(key)); v != "" {
		return v
	}
	return strings.TrimSpace(in.getenv(strings.ReplaceAll(key, "-", "_")))
}

// Var names the environment variable that holds input name: the runner's spelling
// (INPUT_PUSH-TO-REGISTRY) when it is set, else Seal's (INPUT_PUSH_TO_REGISTRY). A value that
// must not stand on a command line (a key) is read from there by reference (env://NAME).
func (in Inputs) Var(name string) string {
	key := "INPUT_" + strings.ToUpper(strings.ReplaceAll(name, " ", "_"))
	if strings.TrimSpace(in.getenv(key)) != "" {
		return key
	}
	return strings.ReplaceAll(key, "-", "_")
}

// IsKeyMaterial reports whether s looks like a key itself (PEM, base64 of PEM, or several
// lines) rather than a reference to one (env://NAME, a file, a KMS URI). Key material is never
// put on a command line, in a log line or in a summary.
func IsKeyMaterial(s string) bool {
	return strings.ContainsAny(s, "\n\r") ||
		strings.Contains(s, "-----BEGIN") ||
		strings.Contains(s, "LS0tLS1CRUdJT") || // base64 of "-----BEGIN"
		len(s) > 1024
}

// Bool parses a boolean input the way GitHub's core.getBooleanInput does (true, True, TRUE,
// false, False, FALSE), returning def when the input is empty.
func (in Inputs) Bool(name string, def bool) (bool, error) {
	switch v := in.String(name); v {
	case "":
		return def, nil
	case "true", "True", "TRUE":
		return true, nil
	case "false", "False", "FALSE":
		return false, nil
	default:
		return false, fmt.Errorf("input %s: %q is not a boolean (want true or false)", name, v)
	}
}

// Duration parses a Go duration input (90s, 3m; 0 for none), returning def when the input
// is empty.
func (in Inputs) Duration(name string, def time.Duration) (time.Duration, error) {
	v := in.String(name)
	if v == "" {
		return def, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("input %s: %q is not a duration: want a Go duration such as 90s, 3m or 1h, or 0 for no limit", name, v)
	}
	return d, nil
}

// List splits a multi-line or comma-separated input into its non-empty, trimmed entries, as
// docker/metadata-action and actions/attest take lists.
func (in Inputs) List(name string) []string {
	var out []string
	for _, line := range strings.Split(in.String(name), "\n") {
		for _, f := range strings.Split(line, ",") {
			if f = strings.TrimSpace(f); f != "" {
				out = append(out, f)
			}
		}
	}
	return out
}

// Lines splits a multi-line input into its non-empty, trimmed lines; unlike List it keeps
// commas, which globs and URLs may contain.
func (in Inputs) Lines(name string) []string {
	var out []string
	for _, line := range strings.Split(in.String(name), "\n") {
		if line = strings.TrimSpace(line); line != "" {
			out = append(out, line)
		}
	}
	return out
}

// Choice returns input name, def when empty, and an error naming the allowed values when the
// input is none of them.
func (in Inputs) Choice(name, def string, allowed ...string) (string, error) {
	v := in.String(name)
	if v == "" {
		v = def
	}
	if !slices.Contains(allowed, v) {
		return "", fmt.Errorf("input %s: %q is not one of %s", name, v, strings.Join(allowed, ", "))
	}
	return v, nil
}

// Image joins the image and digest inputs into one reference. docker/build-push-action
// outputs the digest apart from the name, and metadata-action's tags carry a tag, so a digest
// input replaces whatever tag or digest the image input has. Without a digest input the image
// is returned as given (a tag is resolved to its digest by the signer).
func (in Inputs) Image() (string, error) {
	img, dig := in.String("image"), in.String("digest")
	if strings.ContainsAny(img, " \t\n") {
		return "", fmt.Errorf("input image: %q is not one image reference (give one, and the digest apart in the digest input)", img)
	}
	if dig == "" {
		return img, nil
	}
	if !IsDigest(dig) {
		return "", fmt.Errorf("input digest: %q is not a digest (want sha256:<64 hex>)", dig)
	}
	if img == "" {
		return "", fmt.Errorf("input digest is set but image is not: give the image name too")
	}
	return Repository(img) + "@" + dig, nil
}

// Repository strips the tag and digest from an image reference, keeping a registry port.
func Repository(ref string) string {
	ref, _, _ = strings.Cut(ref, "@")
	slash := strings.LastIndex(ref, "/")
	if colon := strings.LastIndex(ref, ":"); colon > slash {
		ref = ref[:colon]
	}
	return ref
}

// IsDigest reports whether d is "sha256:" and 64 lowercase hexadecimal digits.
func IsDigest(d string) bool {
	hex, ok := strings.CutPrefix(d, "sha256:")
	if !ok || len(hex) != 64 {
		return false
	}
	for _, c := range hex {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// PinnedByDigest reports whether ref names its image by digest (NAME@sha256:HEX), the only
// kind of reference a GitLab component signs: a tag may move between the build job and the
// signing job.
func PinnedByDigest(ref string) bool {
	name, dig, ok := strings.Cut(ref, "@")
	return ok && name != "" && IsDigest(dig)
}
