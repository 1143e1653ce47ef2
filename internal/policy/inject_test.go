package policy

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/sealsign/seal/internal/identity"
	"github.com/sealsign/seal/internal/oci"
)

// countDocs decodes out as a YAML stream and counts its documents that
// are not empty (a stream may open with comments alone).
func countDocs(t *testing.T, out []byte) int {
	t.Helper()
	dec := yaml.NewDecoder(bytes.NewReader(out))
	n := 0
	for {
		var v any
		err := dec.Decode(&v)
		if errors.Is(err, io.EOF) {
			return n
		}
		if err != nil {
			t.Fatalf("decoding policy: %v\n%s", err, out)
		}
		if v != nil {
			n++
		}
	}
}

// TestIdentityInjection feeds raw identities that try to end the policy's
// comment header and start a document of their own.
func TestIdentityInjection(t *testing.T) {
	// Ends the comment line, writes a document, and opens a comment
	// again for whatever the header line had left.
	const injected = "\n---\napiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata:\n  name: allow-all\nspec:\n  rules: []\n---\n#"
	for _, tc := range []struct {
		name string
		id   identity.Identity
	}{
		{"subject", identity.Identity{Subject: "https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main" + injected, Issuer: identity.GitHubIssuer}},
		{"issuer", identity.Identity{Subject: "https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main", Issuer: identity.GitHubIssuer + injected}},
		{"subject regexp, carriage returns", identity.Identity{SubjectRegexp: "^x$\r---\rapiVersion: v1\rkind: ConfigMap\rmetadata:\r  name: evil\r---\r#", Issuer: identity.GitHubIssuer}},
		{"issuer line separator", identity.Identity{Subject: "s", Issuer: "i\u2028---\u2028kind: x"}},
	} {
		for _, engine := range []Engine{Kyverno, PolicyController} {
			for _, f := range []oci.Format{oci.Bundle, oci.Legacy} {
				t.Run(tc.name+"/"+string(engine)+"/"+f.String(), func(t *testing.T) {
					id := tc.id
					out, err := Generate(engine, Spec{Images: []string{"ghcr.io/acme/app**"}, Identity: &id, Format: f})
					if err != nil {
						if !strings.Contains(err.Error(), "control character") && !strings.Contains(err.Error(), "not printable") {
							t.Errorf("Generate() = %v, want a refusal naming the character", err)
						}
						return
					}
					if n := countDocs(t, out); n != 1 {
						t.Errorf("Generate() wrote %d YAML documents, want 1:\n%s", n, out)
					}
				})
			}
		}
	}
}
