package policy

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/sealsign/seal/internal/identity"
)

// fluxCRD is Flux's OCIRepository CRD in the peers cache (.ci/peers.sh).
const fluxCRD = "github.com/fluxcd/source-controller@v1.8.5/config/crd/bases/source.toolkit.fluxcd.io_ocirepositories.yaml"

// validatePatterns checks the pattern of every string field that has one, which validate
// leaves to the API server: Flux's url and interval are patterns.
func validatePatterns(doc any, schema map[string]any, path string) []error {
	var errs []error
	switch d := doc.(type) {
	case map[string]any:
		props, _ := schema["properties"].(map[string]any)
		for k, v := range d {
			if sub, ok := props[k].(map[string]any); ok {
				errs = append(errs, validatePatterns(v, sub, path+"."+k)...)
			}
		}
	case []any:
		items, _ := schema["items"].(map[string]any)
		for i, v := range d {
			errs = append(errs, validatePatterns(v, items, fmt.Sprintf("%s[%d]", path, i))...)
		}
	case string:
		if p, ok := schema["pattern"].(string); ok && !regexp.MustCompile(p).MatchString(d) {
			errs = append(errs, fmt.Errorf("%s: %q does not match %s", path, d, p))
		}
	}
	return errs
}

// TestFluxSchema writes seal policy flux's OCIRepository for a promotion key and for a
// keyless GitHub promotion job, and checks it against Flux's own CRD (source-controller
// v1.8.5): the fields, their types, the provider enum and the url and interval patterns;
// the key's Secret names it with the .pub suffix Flux reads keys by. The identity Flux
// matches is the promotion job's subject and issuer, anchored.
func TestFluxSchema(t *testing.T) {
	schema := loadSchemaFile(t, fluxCRD, "source.toolkit.fluxcd.io/v1", "OCIRepository")
	pub := readFile(t, "cosign.pub")
	promote, err := identity.FromGitHub("acme/promote", "promote.yml", "main", false)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		spec FluxSpec
		want []string
	}{
		{"key", FluxSpec{Image: "ghcr.io/acme/app-manifests:1.2.0", PublicKey: pub},
			[]string{"url: oci://ghcr.io/acme/app-manifests", "tag: 1.2.0", "provider: cosign", "name: seal-promoted-promotion-key", "promotion.pub: |", "BEGIN PUBLIC KEY"}},
		{"key-digest", FluxSpec{Name: "app", Namespace: "apps", Image: "registry.example.com:5000/app@sha256:" + strings.Repeat("ab", 32), PublicKey: pub, Interval: "1h30m"},
			[]string{"digest: sha256:abab", "namespace: apps", "interval: 1h30m"}},
		{"keyless", FluxSpec{Image: "ghcr.io/acme/app-manifests", Identity: &promote},
			[]string{"matchOIDCIdentity:", `issuer: ^https://token\.actions\.githubusercontent\.com$`,
				`subject: ^https://github\.com/acme/promote/\.github/workflows/promote\.yml@refs/heads/main$`, "not `on: workflow_call`"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := GenerateFlux(tc.spec)
			if err != nil {
				t.Fatalf("GenerateFlux() = %v", err)
			}
			for _, w := range tc.want {
				if !bytes.Contains(b, []byte(w)) {
					t.Errorf("the policy does not say %q:\n%s", w, b)
				}
			}
			docs := decodeAll(t, b)
			var found bool
			for _, doc := range docs {
				if doc["kind"] != "OCIRepository" {
					continue
				}
				found = true
				d := map[string]any{"spec": doc["spec"], "apiVersion": doc["apiVersion"], "kind": doc["kind"], "metadata": doc["metadata"]}
				for _, err := range append(validate(d, schema, "OCIRepository"), validatePatterns(d, schema, "OCIRepository")...) {
					t.Errorf("%s: %v\n%s", fluxCRD, err, b)
				}
				if doc["apiVersion"] != "source.toolkit.fluxcd.io/v1" {
					t.Errorf("apiVersion %v", doc["apiVersion"])
				}
			}
			if !found {
				t.Fatalf("no OCIRepository written:\n%s", b)
			}
			if len(tc.spec.PublicKey) > 0 && (len(docs) != 2 || docs[0]["kind"] != "Secret") {
				t.Errorf("want the key's Secret before the OCIRepository:\n%s", b)
			}
		})
	}

	// The validator is not vacuous on this CRD.
	for _, bad := range []struct {
		doc  map[string]any
		want string
	}{
		{map[string]any{"spec": map[string]any{"interval": "5m", "url": "oci://x/y", "verify": map[string]any{"provider": "cosing"}}}, "is not one of"},
		{map[string]any{"spec": map[string]any{"interval": "5m", "url": "oci://x/y", "verify": map[string]any{"provider": "cosign", "secretRef": map[string]any{}}}}, `missing required field "name"`},
		{map[string]any{"spec": map[string]any{"interval": "5m", "url": "oci://x/y", "verify": map[string]any{"provider": "cosign", "matchOIDCIdentity": []any{map[string]any{"issuer": "x", "subjet": "y"}}}}}, `unknown field "subjet"`},
	} {
		errs := validate(bad.doc, schema, "OCIRepository")
		if len(errs) == 0 || !strings.Contains(fmt.Sprint(errs), bad.want) {
			t.Errorf("validate(%v) = %v, want %q", bad.doc, errs, bad.want)
		}
	}
	if errs := validatePatterns(map[string]any{"spec": map[string]any{"url": "https://x/y", "interval": "5 minutes"}}, schema, "OCIRepository"); len(errs) != 2 {
		t.Errorf("validatePatterns() = %v, want the url and interval refused", errs)
	}
}

// TestFluxRefuses: what Flux, which checks a certificate's subject and issuer only, cannot
// be trusted with, and inputs that are not one artifact.
func TestFluxRefuses(t *testing.T) {
	pub := readFile(t, "cosign.pub")
	gh := func(workflow, ref string) *identity.Identity {
		id, err := identity.FromGitHub("acme/promote", workflow, ref, false)
		if err != nil {
			t.Fatal(err)
		}
		return &id
	}
	gl, err := identity.FromGitLab("acme-group/app", "", "main", false, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		spec FluxSpec
		want string
	}{
		{"gitlab keyless", FluxSpec{Image: "registry.gitlab.com/acme-group/app", Identity: &gl}, "any project that can read https://gitlab.com/acme-group/app can take as its own"},
		{"any workflow", FluxSpec{Image: "ghcr.io/acme/app", Identity: gh("", "main")}, "pin the promotion workflow of acme/promote with --github-workflow"},
		{"reusable workflow", FluxSpec{Image: "ghcr.io/acme/app", Identity: gh("acme/shared/.github/workflows/promote.yml", "main")}, "pin the promotion workflow of acme/promote"},
		{"any ref", FluxSpec{Image: "ghcr.io/acme/app", Identity: gh("promote.yml", "")}, "pin the promotion workflow's ref with --ref"},
		{"glob", FluxSpec{Image: "ghcr.io/acme/**", PublicKey: pub}, "no globs"},
		{"bad digest", FluxSpec{Image: "ghcr.io/acme/app@sha256:abc", PublicKey: pub}, "want a sha256:HEX digest"},
		{"no signer", FluxSpec{Image: "ghcr.io/acme/app"}, "no signer"},
		{"both signers", FluxSpec{Image: "ghcr.io/acme/app", PublicKey: pub, Identity: gh("promote.yml", "main")}, "not both"},
		{"bad interval", FluxSpec{Image: "ghcr.io/acme/app", PublicKey: pub, Interval: "soon"}, "interval"},
		{"control character", FluxSpec{Image: "ghcr.io/acme/app\n", PublicKey: pub}, "control character"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := GenerateFlux(tc.spec)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("GenerateFlux() = %v, want an error saying %q\n%s", err, tc.want, b)
			}
		})
	}
}
