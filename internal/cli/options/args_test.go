package options

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/spf13/pflag"
)

// TestArgs checks that the flags Args renders parse back into the same options, and that
// Defaults agrees with a command line without flags.
func TestArgs(t *testing.T) {
	parse := func(t *testing.T, args []string) *Attest {
		t.Helper()
		o := &Attest{}
		fs := pflag.NewFlagSet("attest", pflag.ContinueOnError)
		o.AddFlags(fs)
		if err := fs.Parse(args); err != nil {
			t.Fatalf("Parse(%q) = %v", args, err)
		}
		return o
	}
	if diff := cmp.Diff(parse(t, nil), Defaults[Attest]()); diff != "" {
		t.Errorf("Defaults[Attest]() differs from no flags (-want +got):\n%s", diff)
	}
	if got := Args(Defaults[Attest]()); len(got) != 0 {
		t.Errorf("Args(defaults) = %q, want none", got)
	}
	o := Defaults[Attest]()
	o.Provenance, o.Predicates, o.Types = true, []string{"a.json", "b, c.json"}, []string{"vuln"}
	o.Key, o.RekorVersion, o.Insecure, o.Audience = "env://INPUT_KEY", 2, []string{"localhost:5000"}, "other"
	args := Args(o)
	want := []string{"--provenance", "--predicate", "a.json", "--predicate", "b, c.json", "--type", "vuln",
		"--insecure-registry", "localhost:5000", "--key", "env://INPUT_KEY", "--rekor-version", "2", "--audience", "other"}
	if diff := cmp.Diff(want, args); diff != "" {
		t.Errorf("Args() (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(o, parse(t, args)); diff != "" {
		t.Errorf("Args() does not parse back (-want +got):\n%s", diff)
	}
}
