// Package version reports Seal's version: the value set at link time with
// -ldflags "-X github.com/sealsign/seal/internal/version.version=v1.2.3", or,
// for `go install`/`go run` builds, the module version and VCS revision that
// the Go toolchain recorded in the binary.
package version

import (
	"runtime/debug"
)

// version is set by the release build through -ldflags -X.
var version = ""

// Get returns the version of the running binary, never the empty string.
func Get() string {
	if version != "" {
		return version
	}
	return fromBuildInfo(debug.ReadBuildInfo())
}

func fromBuildInfo(bi *debug.BuildInfo, ok bool) string {
	if !ok || bi == nil {
		return "devel"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var rev, dirty string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "-dirty"
			}
		}
	}
	if rev != "" {
		if len(rev) > 12 {
			rev = rev[:12]
		}
		return "devel-" + rev + dirty
	}
	return "devel"
}
