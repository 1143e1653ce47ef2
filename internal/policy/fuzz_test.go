package policy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/sealsign/seal/internal/identity"
	"github.com/sealsign/seal/internal/oci"
)

// FuzzGenerate feeds arbitrary identities, image globs, names, log URLs
// and attestation types to Generate for every engine and format, with and
// without a private trusted root. Whatever it writes must be the expected
// documents (the policy, after its TrustRoot for policy-controller with a
// private root) under a header of comment lines, in which the given values
// read back unchanged; a refusal is fine, a panic is not.
//
//	go test ./internal/policy -run '^$' -fuzz FuzzGenerate -fuzztime 60s
func FuzzGenerate(f *testing.F) {
	const (
		subject = "https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main"
		issuer  = identity.GitHubIssuer
	)
	for _, seed := range []struct {
		mode                                uint8
		subject, issuer, image, name, rekor string
		attestation                         string
		private                             bool
	}{
		{0, subject, issuer, "ghcr.io/acme/app**", "", "", "", false},
		{2, "acme/app", "main", "ghcr.io/acme/app**", "", "", "slsaprovenance", true},
		{0, subject + "\n---\n#", issuer, "a/**", "", "", "", true},
		{1, `^https://github\.com/acme/app/.+$`, issuer, "ghcr.io/acme/*", "my-policy", "https://rekor.example.com", "slsaprovenance", false},
		{2, "acme/app", "", "ghcr.io/acme/app**", "", "", "spdx", false},
		{3, "acme-group/app", "", "registry.gitlab.com/**", "", "", "slsaprovenance", false},
		{0, subject + "\n---\nkind: ClusterPolicy\n---\n#", issuer, "a/**", "", "", "", false},
		{0, subject, issuer + "\r---\r#", "a/**", "", "", "", false},
		{0, "s\u2028---\u2028kind: x", "i\u0085#", "a/**", "", "", "", false},
		{0, "{{ request.object.metadata.name }}", "'\"&*!|>%@`", "a/**", "x", "", "", false},
		{1, "^a$(b)?", "i", "a/**", "", "https://r\n", "https://example.com/x\n---", false},
		{0, "\xff\xfe", "\ufeffi", "a/**", "", "", "", false},
		{0, "- a: b", "? c", "a/**", "", "", "https://x/#y", false},
		{1, `^https://github\.com/acme/app/.+$`, issuer, "a/**", "", "", "https://1.example.com/v1", true},
	} {
		f.Add(seed.mode, seed.subject, seed.issuer, seed.image, seed.name, seed.rekor, seed.attestation, seed.private)
	}
	trustedRoot, err := os.ReadFile(filepath.Join("testdata", "trusted_root.json"))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, mode uint8, subject, issuer, image, name, rekor, attestation string, private bool) {
		var id identity.Identity
		switch mode % 4 {
		case 0:
			id = identity.Identity{Subject: subject, Issuer: issuer}
		case 1:
			id = identity.Identity{SubjectRegexp: subject, Issuer: issuer}
		case 2: // presets take the issuer string as their ref
			var err error
			if id, err = identity.FromGitHub(subject, "", issuer, false); err != nil {
				return
			}
		case 3:
			var err error
			if id, err = identity.FromGitLab(subject, "", issuer, false, false); err != nil {
				return
			}
		}
		for _, target := range []struct {
			engine Engine
			kind   KyvernoKind
		}{{Kyverno, ""}, {Kyverno, ImageValidatingPolicyKind}, {PolicyController, ""}} {
			engine := target.engine
			for _, format := range []oci.Format{oci.Bundle, oci.Legacy} {
				id := id
				s := Spec{Name: name, Images: []string{image}, Identity: &id, Format: format, RekorURL: rekor, KyvernoKind: target.kind}
				if attestation != "" {
					s.Attestations = []string{attestation}
				}
				if private {
					s.TrustedRoot = trustedRoot
				}
				out, err := Generate(engine, s)
				if err != nil {
					continue
				}
				if err := checkPolicy(engine, out, s); err != nil {
					t.Fatalf("Generate(%s, %s, %+v): %v\n%s", engine, format, id, err, out)
				}
			}
		}
	})
}

// checkPolicy checks that out holds the documents expected, the last one
// the policy, whose fields hold what s gave, under a header of comments
// that no value broke out of.
func checkPolicy(engine Engine, out []byte, s Spec) error {
	wantDocs := 1
	if engine == PolicyController && s.TrustedRoot != nil {
		wantDocs = 2 // the TrustRoot, then the ClusterImagePolicy
	}
	// Split where any YAML parser may break a line: YAML 1.1 (which
	// Kubernetes' parser follows) also breaks at NEL and the Unicode line
	// and paragraph separators.
	lines := yamlBreaks.Split(strings.TrimSuffix(string(out), "\n"), -1)
	body := 0
	for body < len(lines) && strings.HasPrefix(lines[body], "#") {
		body++
	}
	if body == 0 || !strings.HasPrefix(lines[body], "apiVersion: ") {
		return fmt.Errorf("the header is not comment lines followed by apiVersion (line %d)", body+1)
	}
	// kubectl splits a stream at any line starting with "---", inside a
	// block scalar or not, and ends a document at "...": only Seal's own
	// separators may.
	seps := 0
	for i, l := range lines {
		if l == "---" {
			seps++
		} else if strings.HasPrefix(l, "---") || strings.HasPrefix(l, "...") {
			return fmt.Errorf("line %d starts a new document: %q", i+1, l)
		}
	}
	if seps != wantDocs-1 {
		return fmt.Errorf("%d document separators, want %d", seps, wantDocs-1)
	}
	var docs []map[string]any
	dec := yaml.NewDecoder(bytes.NewReader(out))
	for {
		var d map[string]any
		err := dec.Decode(&d)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("decoding: %w", err)
		}
		docs = append(docs, d)
	}
	if len(docs) != wantDocs {
		return fmt.Errorf("%d documents, want %d", len(docs), wantDocs)
	}
	d := docs[len(docs)-1]
	id := s.Identity
	want := map[string]string{}
	if s.Name != "" {
		want["metadata.name"] = s.Name
	}
	var ident map[string]any
	switch {
	case engine == Kyverno && s.KyvernoKind == ImageValidatingPolicyKind:
		spec, _ := d["spec"].(map[string]any)
		want["image"] = kyvImages(s.Images)[0]
		c, _ := dig(spec, "attestors", 0, "cosign").(map[string]any)
		ident, _ = dig(c, "keyless", "identities", 0).(map[string]any)
		got := map[string]string{"image": str(dig(spec, "matchImageReferences", 0, "glob"))}
		if s.RekorURL != "" {
			want["rekor"] = s.RekorURL
			got["rekor"] = str(dig(c, "ctlog", "url"))
		}
		for i, a := range s.Attestations {
			t, _ := ResolveAttestation(a)
			want[fmt.Sprint("attestation ", i)] = t
			got[fmt.Sprint("attestation ", i)] = str(dig(spec, "attestations", i, "intoto", "type"))
			// The validation refers to the attestation by its name, which
			// must be a CEL identifier.
			n := str(dig(spec, "attestations", i, "name"))
			if !celIdent.MatchString(n) || !strings.Contains(str(dig(spec, "validations", i+1, "expression")), "attestations."+n+",") {
				return fmt.Errorf("attestation %d is named %q, which validation %d does not refer to as a CEL identifier", i, n, i+1)
			}
		}
		if err := same(want, got, d, ident, "subject", "subjectRegExp", "issuer", "issuerRegExp", id); err != nil {
			return err
		}
	case engine == Kyverno:
		v, _ := dig(d, "spec", "rules", 0, "verifyImages", 0).(map[string]any)
		want["image"] = kyvImages(s.Images)[0]
		ident, _ = dig(v, "attestors", 0, "entries", 0, "keyless").(map[string]any)
		got := map[string]string{"image": str(dig(v, "imageReferences", 0))}
		if s.RekorURL != "" {
			want["rekor"] = s.RekorURL
			got["rekor"] = str(dig(ident, "rekor", "url"))
		}
		for i, a := range s.Attestations {
			t, _ := ResolveAttestation(a)
			want[fmt.Sprint("attestation ", i)] = t
			got[fmt.Sprint("attestation ", i)] = str(dig(v, "attestations", i, "type"))
		}
		if err := same(want, got, d, ident, "subject", "subjectRegExp", "issuer", "issuerRegExp", id); err != nil {
			return err
		}
	case engine == PolicyController:
		spec, _ := d["spec"].(map[string]any)
		want["image"] = s.Images[0]
		ident, _ = dig(spec, "authorities", 0, "keyless", "identities", 0).(map[string]any)
		got := map[string]string{"image": str(dig(spec, "images", 0, "glob"))}
		if err := same(want, got, d, ident, "subject", "subjectRegExp", "issuer", "issuerRegExp", id); err != nil {
			return err
		}
	}
	return nil
}

var (
	yamlBreaks = regexp.MustCompile("\r\n|[\r\n\u0085\u2028\u2029]")
	celIdent   = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

// same compares want with got plus the identity's fields read from ident
// under the engine's names, and metadata.name.
func same(want, got map[string]string, doc, ident map[string]any, subj, subjRE, iss, issRE string, id *identity.Identity) error {
	if _, ok := want["metadata.name"]; ok {
		got["metadata.name"] = str(dig(doc, "metadata", "name"))
	}
	for k, v := range map[string]string{subj: id.Subject, subjRE: id.SubjectRegexp, iss: id.Issuer, issRE: id.IssuerRegexp} {
		want[k] = v
		got[k] = str(ident[k])
	}
	for k, v := range want {
		if got[k] != v {
			return fmt.Errorf("%s reads back as %q, want %q", k, got[k], v)
		}
	}
	return nil
}

// dig follows map keys and list indexes through decoded YAML.
func dig(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			v = m[k]
		case int:
			l, ok := v.([]any)
			if !ok || k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

func str(v any) string {
	s, _ := v.(string)
	return s
}
