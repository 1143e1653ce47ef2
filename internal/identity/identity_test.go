package identity

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/sigstore/sigstore-go/pkg/fulcio/certificate"
)

func TestFromGitHub(t *testing.T) {
	for _, tc := range []struct {
		name                   string
		host, repo, wf, ref    string
		hosted                 bool
		wantIssuer, wantRegexp string
		wantExt                certificate.Extensions
	}{
		{
			name: "any workflow, any ref", repo: "acme/app",
			wantIssuer: GitHubIssuer,
			wantRegexp: `^https://github\.com/acme/app/\.github/workflows/[^/@]+@refs/.+$`,
			wantExt:    certificate.Extensions{SourceRepositoryURI: "https://github.com/acme/app"},
		},
		{
			name: "workflow, branch name, hosted", repo: "acme/app", wf: ".github/workflows/release.yml", ref: "main", hosted: true,
			wantIssuer: GitHubIssuer,
			wantRegexp: `^https://github\.com/acme/app/\.github/workflows/release\.yml@refs/heads/main$`,
			wantExt:    certificate.Extensions{SourceRepositoryURI: "https://github.com/acme/app", SourceRepositoryRef: "refs/heads/main", RunnerEnvironment: "github-hosted"},
		},
		{
			name: "tag prefix", repo: "acme/app", wf: "release.yaml", ref: "refs/tags/v*",
			wantIssuer: GitHubIssuer,
			wantRegexp: `^https://github\.com/acme/app/\.github/workflows/release\.yaml@refs/tags/v.*$`,
			wantExt:    certificate.Extensions{SourceRepositoryURI: "https://github.com/acme/app"},
		},
		{
			name: "in-repository workflow pinned with @", repo: "acme/app", wf: "acme/app/.github/workflows/release.yml@refs/heads/main",
			wantIssuer: GitHubIssuer,
			wantRegexp: `^https://github\.com/acme/app/\.github/workflows/release\.yml@refs/heads/main$`,
			wantExt:    certificate.Extensions{SourceRepositoryURI: "https://github.com/acme/app", SourceRepositoryRef: "refs/heads/main"},
		},
		{
			name: "reusable workflow", repo: "acme/app", wf: "acme/shared/.github/workflows/build.yml@refs/tags/v3", ref: "refs/heads/main",
			wantIssuer: GitHubIssuer,
			wantRegexp: `^https://github\.com/acme/shared/\.github/workflows/build\.yml@refs/tags/v3$`,
			wantExt:    certificate.Extensions{SourceRepositoryURI: "https://github.com/acme/app", SourceRepositoryRef: "refs/heads/main"},
		},
		{
			name: "reusable workflow, any version", repo: "acme/app", wf: "acme/shared/.github/workflows/build.yml",
			wantIssuer: GitHubIssuer,
			wantRegexp: `^https://github\.com/acme/shared/\.github/workflows/build\.yml@.+$`,
			wantExt:    certificate.Extensions{SourceRepositoryURI: "https://github.com/acme/app"},
		},
		{
			name: "GitHub Enterprise Server", host: "github.example.com", repo: "platform/api",
			wantIssuer: "https://github.example.com/_services/token",
			wantRegexp: `^https://github\.example\.com/platform/api/\.github/workflows/[^/@]+@refs/.+$`,
			wantExt:    certificate.Extensions{SourceRepositoryURI: "https://github.example.com/platform/api"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id, err := FromGitHubHost(tc.host, tc.repo, tc.wf, tc.ref, tc.hosted)
			if err != nil {
				t.Fatalf("FromGitHubHost() = %v", err)
			}
			if err := id.Validate(); err != nil {
				t.Errorf("Validate() = %v", err)
			}
			got := []any{id.Issuer, id.IssuerRegexp, id.Subject, id.SubjectRegexp, id.Extensions}
			want := []any{tc.wantIssuer, "", "", tc.wantRegexp, tc.wantExt}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("identity (-want +got):\n%s", diff)
			}
			// Seal's provenance names the signing identity as builder id.
			if got := id.Source.builder.Regexp(); got != id.SubjectRegexp {
				t.Errorf("builder regexp = %q, want the subject regexp %q", got, id.SubjectRegexp)
			}
		})
	}
}

func TestFromGitLab(t *testing.T) {
	id, err := FromGitLab("acme-group/platform/checkout", "", "refs/heads/main", true, true)
	if err != nil {
		t.Fatal(err)
	}
	want := Identity{
		Issuer:        GitLabIssuer,
		SubjectRegexp: `^https://gitlab\.com/acme-group/platform/checkout//[^@]+@refs/heads/main$`,
		Extensions: certificate.Extensions{
			SourceRepositoryURI: "https://gitlab.com/acme-group/platform/checkout",
			SourceRepositoryRef: "refs/heads/main",
			RunnerEnvironment:   "gitlab-hosted",
		},
		Source: &Source{
			CI: CIGitLab, Repository: "acme-group/platform/checkout", RepositoryURI: "https://gitlab.com/acme-group/platform/checkout",
			Ref: "refs/heads/main", RunnerEnvironment: "gitlab-hosted", RefProtected: true,
		},
	}
	if diff := cmp.Diff(want, id, cmp.AllowUnexported(Source{}), cmp.FilterPath(func(p cmp.Path) bool {
		return p.Last().String() == ".builder" || p.Last().String() == ".ref"
	}, cmp.Ignore())); diff != "" {
		t.Errorf("FromGitLab() (-want +got):\n%s", diff)
	}
	self, err := FromGitLab("platform/checkout", "gitlab.example.com:8443", "", false, false)
	if err != nil {
		t.Fatal(err)
	}
	if self.Issuer != "https://gitlab.example.com:8443" || !strings.HasPrefix(self.SubjectRegexp, `^https://gitlab\.example\.com:8443/platform/checkout//`) {
		t.Errorf("self-managed identity = %+v", self)
	}
}

// TestSubjectMatches runs the presets' regexps against the SANs Fulcio
// writes for the real CI and for the look-alikes an attacker can get.
func TestSubjectMatches(t *testing.T) {
	gh, err := FromGitHub("acme/app", "", "main", false)
	if err != nil {
		t.Fatal(err)
	}
	tags, err := FromGitHub("acme/app", "release.yml", "refs/tags/v*", false)
	if err != nil {
		t.Fatal(err)
	}
	gl, err := FromGitLab("acme/app", "", "", false, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		id   Identity
		san  string
		want bool
	}{
		{gh, "https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main", true},
		{gh, "https://github.com/acme/app/.github/workflows/ci.yaml@refs/heads/main", true},
		{gh, "https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main2", false},
		{gh, "https://github.com/acme/app/.github/workflows/release.yml@refs/heads/feature", false},
		{gh, "https://github.com/acme/app-evil/.github/workflows/release.yml@refs/heads/main", false},
		{gh, "https://github.com/acme/ap/.github/workflows/release.yml@refs/heads/main", false},
		{gh, "https://github.com/evil/acme/app/.github/workflows/release.yml@refs/heads/main", false},
		{gh, "https://github.com/acme/app/.github/workflows/sub/x.yml@refs/heads/main", false},
		{gh, "https://github.com.evil.com/acme/app/.github/workflows/release.yml@refs/heads/main", false},
		{gh, "https://githubXcom/acme/app/.github/workflows/release.yml@refs/heads/main", false},
		{tags, "https://github.com/acme/app/.github/workflows/release.yml@refs/tags/v1.2.0", true},
		{tags, "https://github.com/acme/app/.github/workflows/release.yml@refs/heads/v1", false},
		{tags, "https://github.com/acme/app/.github/workflows/other.yml@refs/tags/v1.2.0", false},
		{gl, "https://gitlab.com/acme/app//.gitlab-ci.yml@refs/heads/main", true},
		{gl, "https://gitlab.com/acme/app//ci/release.yml@refs/tags/v1", true},
		{gl, "https://gitlab.com/acme/app2//.gitlab-ci.yml@refs/heads/main", false},
		{gl, "https://gitlab.com/acme/app/sub//.gitlab-ci.yml@refs/heads/main", false},
		{gl, "https://gitlab.com/other/ci//templates/app.yml@refs/heads/main", false},
		// Subjects another repository gets by calling acme/app's reusable
		// workflow, or by taking acme/app's file as its CI configuration:
		// they match, which is why every preset requires the Source
		// Repository URI extension too.
		{gh, "https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main", true},
		{gl, "https://gitlab.com/acme/app//.gitlab-ci.yml@refs/heads/main", true},
	} {
		t.Run(tc.san, func(t *testing.T) {
			if got := regexp.MustCompile(tc.id.SubjectRegexp).MatchString(tc.san); got != tc.want {
				t.Errorf("%s matches %s = %v, want %v", tc.id.SubjectRegexp, tc.san, got, tc.want)
			}
		})
	}
}

// TestPresets: the presets as `seal verify` and `seal policy` take them
// from their flags, refused triggers and numeric ids included.
func TestPresets(t *testing.T) {
	for _, tc := range []struct {
		name        string
		id          func() (Identity, error)
		wantRefused []string
		wantRepoID  string
		wantOwnerID string
	}{
		{"github refuses outsiders' triggers", GitHub{Repo: "acme/app"}.Identity, []string{"pull_request_target", "workflow_run"}, "", ""},
		{"github allows one", GitHub{Repo: "acme/app", AllowTriggers: []string{"workflow_run"}}.Identity, []string{"pull_request_target"}, "", ""},
		{"github allows both", GitHub{Repo: "acme/app", AllowTriggers: []string{"pull_request_target", "workflow_run"}}.Identity, []string{}, "", ""},
		{"github ids", GitHub{Repo: "acme/app", RepoID: "123", OwnerID: "456"}.Identity, []string{"pull_request_target", "workflow_run"}, "123", "456"},
		{"gitlab refuses no trigger", GitLab{Project: "acme/app", ProjectID: "7"}.Identity, nil, "7", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id, err := tc.id()
			if err != nil {
				t.Fatalf("Identity() = %v", err)
			}
			if err := id.Validate(); err != nil {
				t.Errorf("Validate() = %v", err)
			}
			got := []any{id.RefuseTriggers, id.Extensions.SourceRepositoryIdentifier, id.Extensions.SourceRepositoryOwnerIdentifier}
			want := []any{tc.wantRefused, tc.wantRepoID, tc.wantOwnerID}
			if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("preset (-want +got):\n%s", diff)
			}
		})
	}
	// The preset's events list the refused ones, so that an engine
	// matching a list of allowed events can leave them out.
	for _, t0 := range RefusedGitHubTriggers() {
		if !slices.Contains(GitHubEvents(), t0) {
			t.Errorf("GitHubEvents() lacks the refused %q", t0)
		}
	}
	// Callers may edit what they get.
	r := RefusedGitHubTriggers()
	r[0] = "push"
	if RefusedGitHubTriggers()[0] != "pull_request_target" {
		t.Error("RefusedGitHubTriggers() shares its slice")
	}
}

func TestIdentityErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  func() error
		want string
	}{
		{"repo without owner", func() error { _, err := FromGitHub("app", "", "", false); return err }, "want OWNER/REPO"},
		{"repo with host", func() error { _, err := FromGitHub("github.com/acme/app", "", "", false); return err }, "want OWNER/REPO"},
		{"bad workflow", func() error { _, err := FromGitHub("acme/app", "x/y/z", "", false); return err }, "workflow"},
		{"bad ref", func() error { _, err := FromGitHub("acme/app", "", "refs/heads/a b", false); return err }, "ref"},
		{"star inside ref", func() error { _, err := FromGitHub("acme/app", "", "refs/*/main", false); return err }, "ref"},
		{"reusable with ref prefix", func() error {
			_, err := FromGitHub("acme/app", "acme/shared/.github/workflows/b.yml", "refs/tags/v*", false)
			return err
		}, "matches exactly"},
		{"pinned workflow disagrees with ref", func() error {
			_, err := FromGitHub("acme/app", "acme/app/.github/workflows/b.yml@refs/heads/a", "refs/heads/b", false)
			return err
		}, "pinned"},
		{"project without group", func() error { _, err := FromGitLab("app", "", "", false, false); return err }, "GROUP/PROJECT"},
		{"bad host", func() error { _, err := FromGitLab("a/b", "https://gitlab.example.com", "", false, false); return err }, "HOST"},
		{"two subjects", func() error { return Identity{Subject: "a", SubjectRegexp: "b", Issuer: "c"}.Validate() }, "subject"},
		{"no issuer", func() error { return Identity{Subject: "a"}.Validate() }, "issuer"},
		{"bad regexp", func() error { return Identity{SubjectRegexp: "(", Issuer: "c"}.Validate() }, "regexp"},
		{"newline in subject", func() error { return Identity{Subject: "a\n---\nkind: x", Issuer: "c"}.Validate() }, "control character U+000A"},
		{"carriage return in subject regexp", func() error { return Identity{SubjectRegexp: "^a\r$", Issuer: "c"}.Validate() }, "control character U+000D"},
		{"NEL in issuer", func() error { return Identity{Subject: "a", Issuer: "c\u0085d"}.Validate() }, "control character U+0085"},
		{"line separator in issuer regexp", func() error { return Identity{Subject: "a", IssuerRegexp: "c\u2028d"}.Validate() }, "U+2028 at byte 1 is not printable"},
		{"invalid UTF-8", func() error { return Identity{Subject: "a\xff", Issuer: "c"}.Validate() }, "UTF-8"},
		{"allowing a trigger the preset accepts", func() error {
			_, err := GitHub{Repo: "acme/app", AllowTriggers: []string{"push"}}.Identity()
			return err
		}, "refuses only pull_request_target and workflow_run"},
		{"repository id not a number", func() error { _, err := GitHub{Repo: "acme/app", RepoID: "acme"}.Identity(); return err }, `GitHub repository id "acme": want a number`},
		{"namespace id not a number", func() error { _, err := GitLab{Project: "a/b", NamespaceID: "-1"}.Identity(); return err }, `GitLab namespace id "-1": want a number`},
		{"empty refused trigger", func() error { return Identity{Subject: "a", Issuer: "c", RefuseTriggers: []string{""}}.Validate() }, "empty trigger"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.err()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestPrintable(t *testing.T) {
	for s, ok := range map[string]bool{
		"https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main": true,
		"dev@example.com":               true,
		"^https://gitlab\\.com/a b/.*$": true,
		"Müller/日本":                     true,
		"\uFFFD":                        true, // the replacement character itself is text
		"a\tb":                          false,
		"a\nb":                          false,
		"a\u0085b":                      false,
		"a\u2028b":                      false,
		"a\u2029b":                      false,
		"a\u200bb":                      false, // zero-width space: a format character
		"a\ufeffb":                      false,
		"a\xffb":                        false,
		"a\x00b":                        false,
	} {
		if err := Printable(s); (err == nil) != ok {
			t.Errorf("Printable(%q) = %v, want ok %v", s, err, ok)
		}
	}
}
