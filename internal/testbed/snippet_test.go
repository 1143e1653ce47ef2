package testbed_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/sealsign/seal/internal/testbed"
)

func TestDocSnippet(t *testing.T) {
	doc := "# Title\n\n```yaml\nunmarked: 1\n```\n\n" +
		"<!-- snippet: first (run by some test) -->\n```yaml\na: 1\n\n  b: ${{ x }}\n```\n\n" +
		"<!-- snippet: first-and-more -->\n```sh\necho other\n```\n" +
		"<!-- snippet: second -->\n```\nplain\n```\n"
	file := filepath.Join(t.TempDir(), "README.md")
	if err := os.WriteFile(file, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{
		"first":          "a: 1\n\n  b: ${{ x }}\n",
		"first-and-more": "echo other\n",
		"second":         "plain\n",
	} {
		if got := testbed.DocSnippet(t, file, name); got != want {
			t.Errorf("DocSnippet(%q) = %q, want %q", name, got, want)
		}
	}
}
