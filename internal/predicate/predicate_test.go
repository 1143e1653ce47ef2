package predicate

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	intoto "github.com/in-toto/attestation/go/v1"
)

var now = time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC)

const (
	spdxDoc  = `{"spdxVersion":"SPDX-2.3","SPDXID":"SPDXRef-DOCUMENT","name":"x","packages":[]}`
	cdxDoc   = `{"bomFormat":"CycloneDX","specVersion":"1.5","components":[]}`
	trivyDoc = `{"SchemaVersion":2,"ArtifactName":"alpine:3.19","ArtifactType":"container_image","Trivy":{"Version":"0.58.1"},"Results":[]}`
	grypeDoc = `{"matches":[],"source":{},"descriptor":{"name":"grype","version":"0.86.1"}}`
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		name, doc, typ string
		wantType       string
		wantDetected   string
		wantErr        string
	}{
		{name: "spdx detected", doc: spdxDoc, wantType: SPDX, wantDetected: "SPDX 2.3"},
		{name: "spdx by cosign name", doc: spdxDoc, typ: "spdxjson", wantType: SPDX},
		{name: "cyclonedx detected", doc: cdxDoc, wantType: CycloneDX, wantDetected: "CycloneDX 1.5"},
		{name: "trivy detected", doc: trivyDoc, wantType: Vuln, wantDetected: "Trivy report"},
		{name: "grype as vuln", doc: grypeDoc, typ: "vuln", wantType: Vuln},
		{name: "custom uri", doc: `{"a":1}`, typ: "https://example.com/custom/v1", wantType: "https://example.com/custom/v1"},
		{name: "custom short", doc: `{"a":1}`, typ: "custom", wantType: Custom},
		{name: "unknown needs type", doc: `{"a":1}`, wantErr: "give --type"},
		{name: "not json", doc: `{"spdxVersion": "SPDX-2.3",`, wantErr: "not JSON"},
		{name: "array", doc: `[1,2]`, wantErr: "must be a JSON object"},
		{name: "spdx mislabelled", doc: cdxDoc, typ: "spdx", wantErr: "is a CycloneDX"},
		{name: "spdx missing id", doc: `{"spdxVersion":"SPDX-2.3"}`, wantErr: `no "SPDXID"`},
		{name: "vuln of sbom", doc: spdxDoc, typ: "vuln", wantErr: "is a SPDX"},
		{name: "bad type", doc: spdxDoc, typ: "sbom", wantErr: "unknown predicate type"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := Parse([]byte(tc.doc), tc.typ, now)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Parse() error = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse() = %v", err)
			}
			if d.Type != tc.wantType || d.Detected != tc.wantDetected {
				t.Errorf("Parse() = type %q detected %q, want %q %q", d.Type, d.Detected, tc.wantType, tc.wantDetected)
			}
			if !json.Valid(d.JSON) {
				t.Error("Parse() returned invalid JSON")
			}
		})
	}
}

func TestVulnWrapping(t *testing.T) {
	d, err := Parse([]byte(trivyDoc), "", now)
	if err != nil {
		t.Fatal(err)
	}
	var p struct {
		Scanner struct {
			URI     string          `json:"uri"`
			Version string          `json:"version"`
			Result  json.RawMessage `json:"result"`
		} `json:"scanner"`
		Metadata struct {
			ScanFinishedOn string `json:"scanFinishedOn"`
		} `json:"metadata"`
	}
	if err := json.Unmarshal(d.JSON, &p); err != nil {
		t.Fatal(err)
	}
	if p.Scanner.URI != "pkg:github/aquasecurity/trivy" || p.Scanner.Version != "0.58.1" || !strings.Contains(string(p.Scanner.Result), "alpine:3.19") || p.Metadata.ScanFinishedOn != "2026-11-22T08:00:00Z" {
		t.Errorf("vuln predicate = %s", d.JSON)
	}
}

// TestTooLarge: a predicate Parse accepts at the size limit is refused one
// byte over it, for its size. (The padding is JSON whitespace, so that the
// document is valid either way and cheap to parse.)
func TestTooLarge(t *testing.T) {
	padded := func(size int) []byte {
		const doc = `{"data":"x"}`
		return append([]byte(doc), bytes.Repeat([]byte(" "), size-len(doc))...)
	}
	if _, err := Parse(padded(maxSize), "custom", now); err != nil {
		t.Fatalf("Parse(%d bytes) = %v, want it accepted", maxSize, err)
	}
	_, err := Parse(padded(maxSize+1), "custom", now)
	if want := fmt.Sprintf("document is %d bytes, more than the %d limit", maxSize+1, maxSize); !errors.Is(err, ErrInvalid) || err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("Parse(%d bytes) = %v, want ErrInvalid saying %q", maxSize+1, err, want)
	}
}

func FuzzParse(f *testing.F) {
	for _, d := range []string{spdxDoc, cdxDoc, trivyDoc, grypeDoc, `{}`, `{"scanner":1}`} {
		f.Add([]byte(d), "")
		f.Add([]byte(d), "vuln")
	}
	f.Fuzz(func(t *testing.T, data []byte, typ string) {
		d, err := Parse(data, typ, now)
		if err == nil && !json.Valid(d.JSON) {
			t.Fatalf("Parse accepted and returned invalid JSON: %q", d.JSON)
		}
	})
}

// TestResolveType: cosign's short names (and Seal's vsa), URIs as given,
// and a clear refusal otherwise.
func TestResolveType(t *testing.T) {
	for in, want := range map[string]string{
		"slsaprovenance":                SLSAProvenanceV02,
		"slsaprovenance1":               SLSAProvenanceV1,
		"spdxjson":                      SPDX,
		"cyclonedx":                     CycloneDX,
		"vuln":                          Vuln,
		"vsa":                           VSA,
		"https://example.com/custom/v1": "https://example.com/custom/v1",
	} {
		got, err := ResolveType(in)
		if err != nil || got != want {
			t.Errorf("ResolveType(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := ResolveType("sbom"); err == nil || !strings.Contains(err.Error(), "vsa") {
		t.Errorf("ResolveType(sbom) = %v, want an error listing the short names", err)
	}
}

// TestRequired: as a requirement, cosign's "slsaprovenance" (v0.2) is met
// by either version; every other name by its one type.
func TestRequired(t *testing.T) {
	for in, want := range map[string][]string{
		"slsaprovenance":          {SLSAProvenanceV1, SLSAProvenanceV02},
		"SLSAProvenance":          {SLSAProvenanceV1, SLSAProvenanceV02},
		"slsaprovenance02":        {SLSAProvenanceV02},
		"slsaprovenance1":         {SLSAProvenanceV1},
		"spdx":                    {SPDX},
		"https://example.com/x/1": {"https://example.com/x/1"},
	} {
		got, err := Required(in)
		if err != nil || strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("Required(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := Required("sbom"); err == nil {
		t.Error(`Required("sbom") = nil error, want an unknown type`)
	}
}

func TestStatement(t *testing.T) {
	sub := &intoto.ResourceDescriptor{Name: "ghcr.io/acme/app", Digest: map[string]string{"sha256": strings.Repeat("ab", 32)}}
	// Large integers and HTML characters pass through as written.
	pred := json.RawMessage(`{"size": 12345678901234567890, "note": "<a & b>"}`)
	b, err := Statement(SPDX, pred, sub)
	if err != nil {
		t.Fatalf("Statement() = %v", err)
	}
	want := `{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"ghcr.io/acme/app","digest":{"sha256":"` + strings.Repeat("ab", 32) + `"}}],"predicateType":"https://spdx.dev/Document","predicate":{"size":12345678901234567890,"note":"<a & b>"}}`
	if string(b) != want {
		t.Errorf("Statement() =\n%s\nwant\n%s", b, want)
	}
	for _, tc := range []struct {
		name string
		typ  string
		pred string
		subs []*intoto.ResourceDescriptor
		want string
	}{
		{"no subject", SPDX, `{}`, nil, "at least one subject required"},
		{"subject without digest", SPDX, `{}`, []*intoto.ResourceDescriptor{{Name: "x"}}, "invalid in-toto statement"},
		{"bad digest", SPDX, `{}`, []*intoto.ResourceDescriptor{{Digest: map[string]string{"sha256": "xyz"}}}, "invalid in-toto statement"},
		{"no predicate type", "", `{}`, []*intoto.ResourceDescriptor{sub}, "predicate type required"},
		{"predicate not an object", SPDX, `[1]`, []*intoto.ResourceDescriptor{sub}, "is not a JSON object"},
		{"predicate not JSON", SPDX, `{"a":`, []*intoto.ResourceDescriptor{sub}, "is not a JSON object"},
	} {
		if _, err := Statement(tc.typ, json.RawMessage(tc.pred), tc.subs...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Statement() error = %v, want %q", tc.name, err, tc.want)
		}
	}
}
