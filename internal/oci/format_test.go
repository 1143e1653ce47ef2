package oci

import (
	"encoding/json"
	"testing"
)

func TestFormat(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Format
	}{{"bundle", Bundle}, {"legacy", Legacy}, {"both", Both}} {
		f, err := ParseFormat(tc.in)
		if err != nil || f != tc.want || f.String() != tc.in {
			t.Errorf("ParseFormat(%q) = %v, %v; want %v", tc.in, f, err, tc.want)
		}
		var back Format
		if b, err := json.Marshal(f); err != nil || json.Unmarshal(b, &back) != nil || back != f {
			t.Errorf("JSON round trip of %v: %s, %v, got %v", f, b, err, back)
		}
	}
	for _, bad := range []string{"", "sig", "Bundle", "all"} {
		if _, err := ParseFormat(bad); err == nil {
			t.Errorf("ParseFormat(%q) succeeded", bad)
		}
	}
	if !Both.Has(Bundle) || !Both.Has(Legacy) || Bundle.Has(Legacy) || Legacy.Has(Both) || Bundle.Has(0) {
		t.Error("Has() is wrong")
	}
	if Format(0).Valid() || Format(4).Valid() || !Both.Valid() {
		t.Error("Valid() is wrong")
	}
	if _, err := json.Marshal(Format(0)); err == nil {
		t.Error("Marshal(Format(0)) succeeded")
	}
}
