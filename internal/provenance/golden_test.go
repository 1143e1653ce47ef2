package provenance

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sealsign/seal/internal/ci"
	"github.com/sealsign/seal/internal/oidc"
	"github.com/sealsign/seal/internal/subject"
)

var update = flag.Bool("update", false, "rewrite golden files")

// fixture is a recorded-shape CI job: its environment, its token's claims,
// and (GitHub) its event payload.
type fixture struct {
	Provider string            `json:"provider"`
	Env      map[string]string `json:"env"`
	Claims   map[string]any    `json:"claims"`
	Event    json.RawMessage   `json:"event"`
	Subjects []string          `json:"subjects"`
}

var (
	started  = time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC)
	finished = started.Add(97 * time.Second)
)

// unsignedJWT makes a token with the given claims; Seal reads claims and
// leaves signature checks to Fulcio, so the signature part is a dummy.
func unsignedJWT(t testing.TB, claims map[string]any) string {
	t.Helper()
	b, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"RS256","typ":"JWT"}`)) + "." + enc(b) + ".c2ln"
}

func loadFixture(t *testing.T, path string) (fixture, ci.Provider, *oidc.Token) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var f fixture
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var tok *oidc.Token
	if f.Claims != nil {
		raw := unsignedJWT(t, f.Claims)
		if f.Provider == "gitlab" {
			f.Env["SIGSTORE_ID_TOKEN"] = raw
		}
		if tok, err = oidc.Parse(raw); err != nil {
			t.Fatal(err)
		}
	}
	if len(f.Event) > 0 {
		ev := filepath.Join(t.TempDir(), "event.json")
		if err := os.WriteFile(ev, f.Event, 0o600); err != nil {
			t.Fatal(err)
		}
		f.Env["GITHUB_EVENT_PATH"] = ev
	}
	p, err := ci.Detect(ci.WithEnv(f.Env), ci.WithClock(func() time.Time { return started }))
	if err != nil {
		t.Fatal(err)
	}
	if p.Name() != f.Provider {
		t.Fatalf("Detect() = %s, fixture is %s", p.Name(), f.Provider)
	}
	return f, p, tok
}

func subjects(t *testing.T, ss []string) []subject.Subject {
	var out []subject.Subject
	for _, s := range ss {
		sub, err := subject.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, sub)
	}
	return out
}

func TestGolden(t *testing.T) {
	paths, _ := filepath.Glob("testdata/fixtures/*.json")
	if len(paths) < 9 {
		t.Fatalf("found %d fixtures, want at least 9", len(paths))
	}
	for _, path := range paths {
		name := strings.TrimSuffix(filepath.Base(path), ".json")
		t.Run(name, func(t *testing.T) {
			f, p, tok := loadFixture(t, path)
			md, err := p.Metadata(context.Background(), tok)
			if err != nil {
				t.Fatalf("Metadata() = %v", err)
			}
			for _, v := range []Version{V1, V02} {
				prov, err := Generate(md, subjects(t, f.Subjects), WithVersion(v), WithFinishedOn(finished))
				if err != nil {
					t.Fatalf("Generate(%s) = %v", v, err)
				}
				got, err := prov.Statement()
				if err != nil {
					t.Fatal(err)
				}
				golden := filepath.Join("testdata", "golden", name+".json")
				if v == V02 {
					golden = filepath.Join("testdata", "golden", "v0.2", name+".json")
				}
				compareGolden(t, golden, got)
			}
		})
	}
}

func compareGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading golden file (run go test -update): %v", err)
	}
	if d := cmp.Diff(string(want), string(got)); d != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", path, d)
	}
}
