package testbed

import (
	"os"
	"regexp"
	"testing"
)

// snippetRE finds a fenced code block marked for tests: the line `<!-- snippet: NAME ... -->`,
// then the block, which is returned without its fences.
var snippetRE = regexp.MustCompile("(?ms)^<!-- snippet: ([a-z0-9-]+)\\b[^\n]*-->\n```[a-z]*\n(.*?)^```\n")

// DocSnippet returns the code block that the Markdown file marks as snippet name, exactly as
// written there, so that a test can run what users copy. It fails the test unless the file
// marks exactly one block with that name.
func DocSnippet(t testing.TB, file, name string) string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var found []string
	for _, m := range snippetRE.FindAllStringSubmatch(string(b), -1) {
		if m[1] == name {
			found = append(found, m[2])
		}
	}
	if len(found) != 1 {
		t.Fatalf("%s marks %d code blocks as snippet %q (<!-- snippet: %s --> on the line before the fence), want 1", file, len(found), name, name)
	}
	return found[0]
}
