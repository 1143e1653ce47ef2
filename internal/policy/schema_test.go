package policy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/sealsign/seal/internal/testbed"
)

// CRDs the policies must satisfy, as .ci/peers.sh copies them from the
// engines' modules into the peers cache (next to the bin directory):
// every release the tests run, for policy-controller v0.13.1 and v0.15.1.
var crdFiles = map[string][]string{
	"kyverno.io/v1/ClusterPolicy":                  {"github.com/kyverno/kyverno@v1.19.1/config/crds/kyverno/kyverno.io_clusterpolicies.yaml"},
	"policies.kyverno.io/v1/ImageValidatingPolicy": {"github.com/kyverno/kyverno@v1.19.1/config/crds/policies.kyverno.io/policies.kyverno.io_imagevalidatingpolicies.yaml"},
	"policy.sigstore.dev/v1beta1/ClusterImagePolicy": {
		"github.com/sigstore/policy-controller@v0.13.1/config/300-clusterimagepolicy.yaml",
		"github.com/sigstore/policy-controller@v0.15.1/config/300-clusterimagepolicy.yaml",
	},
	"policy.sigstore.dev/v1alpha1/TrustRoot": {
		"github.com/sigstore/policy-controller@v0.13.1/config/300-trustroot.yaml",
		"github.com/sigstore/policy-controller@v0.15.1/config/300-trustroot.yaml",
	},
}

// loadSchemas returns the openAPIV3Schema of every known CRD version that
// serves apiVersion and kind.
func loadSchemas(t *testing.T, apiVersion, kind string) []map[string]any {
	t.Helper()
	rels, ok := crdFiles[apiVersion+"/"+kind]
	if !ok {
		t.Fatalf("no CRD known for %s %s", apiVersion, kind)
	}
	var out []map[string]any
	for _, rel := range rels {
		out = append(out, loadSchemaFile(t, rel, apiVersion, kind))
	}
	return out
}

// loadSchema returns the openAPIV3Schema of the CRD version that serves
// apiVersion and kind.
func loadSchema(t *testing.T, apiVersion, kind string) map[string]any {
	t.Helper()
	return loadSchemas(t, apiVersion, kind)[0]
}

// loadSchemaFile reads the CRD at rel in the peers cache.
func loadSchemaFile(t *testing.T, rel, apiVersion, kind string) map[string]any {
	t.Helper()
	path := filepath.Join(filepath.Dir(testbed.BinDir()), "crds", rel)
	b, err := os.ReadFile(path)
	if err != nil {
		if testbed.RequirePeers() {
			t.Fatalf("reading CRD: %v (run .ci/peers.sh)", err)
		}
		t.Skipf("CRD not found (%v); run .ci/peers.sh", err)
	}
	var crd struct {
		Spec struct {
			Group    string
			Names    struct{ Kind string }
			Versions []struct {
				Name   string
				Served bool
				Schema struct {
					OpenAPIV3Schema map[string]any `yaml:"openAPIV3Schema"`
				}
			}
		}
	}
	if err := yaml.Unmarshal(b, &crd); err != nil {
		t.Fatalf("parsing %s: %v", path, err)
	}
	group, version, _ := strings.Cut(apiVersion, "/")
	if crd.Spec.Group != group || crd.Spec.Names.Kind != kind {
		t.Fatalf("%s is the CRD of %s %s, not %s", path, crd.Spec.Group, crd.Spec.Names.Kind, apiVersion)
	}
	for _, v := range crd.Spec.Versions {
		if v.Name == version && v.Served {
			return v.Schema.OpenAPIV3Schema
		}
	}
	t.Fatalf("%s serves no version %s", path, version)
	return nil
}

// validate checks doc against a structural CRD schema the way the API
// server does for what Seal writes (type, properties, required, enum,
// items, additionalProperties, preserve-unknown-fields, int-or-string),
// and, stricter than the API server, which prunes them silently, refuses
// unknown fields: a misspelt field would otherwise vanish from the policy.
func validate(doc any, schema map[string]any, path string) []error {
	if schema == nil {
		return nil
	}
	var errs []error
	fail := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", path, fmt.Sprintf(format, args...)))
	}
	if schema["x-kubernetes-int-or-string"] == true {
		switch doc.(type) {
		case int, string:
		default:
			fail("want int or string, got %T", doc)
		}
		return errs
	}
	if enum, ok := schema["enum"].([]any); ok {
		found := false
		for _, e := range enum {
			if e == doc {
				found = true
			}
		}
		if !found {
			fail("%v is not one of %v", doc, enum)
		}
	}
	switch schema["type"] {
	case "object":
		m, ok := doc.(map[string]any)
		if !ok {
			fail("want object, got %T", doc)
			return errs
		}
		props, _ := schema["properties"].(map[string]any)
		addl, hasAddl := schema["additionalProperties"].(map[string]any)
		preserve := schema["x-kubernetes-preserve-unknown-fields"] == true
		if req, ok := schema["required"].([]any); ok {
			for _, r := range req {
				if _, ok := m[r.(string)]; !ok {
					fail("missing required field %q", r)
				}
			}
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			switch sub, ok := props[k].(map[string]any); {
			case ok:
				errs = append(errs, validate(m[k], sub, path+"."+k)...)
			case hasAddl:
				errs = append(errs, validate(m[k], addl, path+"."+k)...)
			case preserve || (props == nil && !hasAddl):
				// Free-form (metadata, preserved fields): the API server
				// checks metadata itself.
			default:
				fail("unknown field %q", k)
			}
		}
	case "array":
		l, ok := doc.([]any)
		if !ok {
			fail("want array, got %T", doc)
			return errs
		}
		items, _ := schema["items"].(map[string]any)
		for i, x := range l {
			errs = append(errs, validate(x, items, fmt.Sprintf("%s[%d]", path, i))...)
		}
	case "string":
		if _, ok := doc.(string); !ok {
			fail("want string, got %T", doc)
		}
	case "integer":
		if _, ok := doc.(int); !ok {
			fail("want integer, got %T", doc)
		}
	case "boolean":
		if _, ok := doc.(bool); !ok {
			fail("want boolean, got %T", doc)
		}
	case nil:
		// Untyped (preserve-unknown-fields values such as a condition's key).
	default:
		fail("schema type %v not handled by this validator", schema["type"])
	}
	return errs
}

// decodeAll reads every document of a YAML stream.
func decodeAll(t *testing.T, b []byte) []map[string]any {
	t.Helper()
	dec := yaml.NewDecoder(bytes.NewReader(b))
	var docs []map[string]any
	for {
		var d map[string]any
		err := dec.Decode(&d)
		if errors.Is(err, io.EOF) {
			return docs
		}
		if err != nil {
			t.Fatalf("decoding YAML: %v", err)
		}
		docs = append(docs, d)
	}
}

// TestSchema validates every golden policy against the CRD of its kind:
// Kyverno's ClusterPolicy and ImageValidatingPolicy, policy-controller's
// ClusterImagePolicy and TrustRoot, taken from the engines' released
// modules.
func TestSchema(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "golden", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files: %v", err)
	}
	schemas := map[string][]map[string]any{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.HasPrefix(b, []byte("error: ")) {
			continue
		}
		t.Run(filepath.Base(f), func(t *testing.T) {
			for _, doc := range decodeAll(t, b) {
				av, _ := doc["apiVersion"].(string)
				kind, _ := doc["kind"].(string)
				key := av + "/" + kind
				if schemas[key] == nil {
					schemas[key] = loadSchemas(t, av, kind)
				}
				for i, schema := range schemas[key] {
					// The API server knows these at the root whether or not a
					// CRD's schema declares them (policy-controller's do not).
					d := map[string]any{}
					props, _ := schema["properties"].(map[string]any)
					for k, v := range doc {
						if _, ok := props[k]; ok || (k != "apiVersion" && k != "kind" && k != "metadata") {
							d[k] = v
						}
					}
					for _, err := range validate(d, schema, kind) {
						t.Errorf("%s: %v", crdFiles[key][i], err)
					}
				}
			}
		})
	}
}

// TestValidateRejects makes sure the validator is not vacuous.
func TestValidateRejects(t *testing.T) {
	schema := loadSchema(t, "kyverno.io/v1", "ClusterPolicy")
	ivp := loadSchema(t, "policies.kyverno.io/v1", "ImageValidatingPolicy")
	for _, tc := range []struct {
		name string
		doc  string
		want string
		ivp  bool
	}{
		{"ivp unknown field", "spec:\n  attestors:\n  - name: seal\n    cosign:\n      keyless:\n        identities: []\n        extensions: {}\n", `unknown field "extensions"`, true},
		{"unknown field", "spec:\n  rules:\n  - name: r\n    match: {}\n    verifyImages:\n    - typo: 1\n", `unknown field "typo"`, false},
		{"bad enum", "spec:\n  rules:\n  - name: r\n    match: {}\n    verifyImages:\n    - type: Cosing\n", "is not one of", false},
		{"missing required", "spec:\n  rules:\n  - match: {}\n", `missing required field "name"`, false},
		{"wrong type", "spec:\n  background: \"no\"\n", "want boolean", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var doc map[string]any
			if err := yaml.Unmarshal([]byte(tc.doc), &doc); err != nil {
				t.Fatal(err)
			}
			errs := validate(doc, schema, "ClusterPolicy")
			if tc.ivp {
				errs = validate(doc, ivp, "ImageValidatingPolicy")
			}
			if len(errs) == 0 || !strings.Contains(errors.Join(errs...).Error(), tc.want) {
				t.Errorf("validate() = %v, want an error containing %q", errs, tc.want)
			}
		})
	}
}
