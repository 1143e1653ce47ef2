package identity

import (
	"reflect"
	"regexp"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/sigstore/sigstore-go/pkg/fulcio/certificate"
)

// TestFromCertificate: the preset read back from a certificate is the one
// seal verify is told to use, and its identity matches that certificate
// in every field it checks.
func TestFromCertificate(t *testing.T) {
	summary := func(san, issuer, repo, ref, wfRepo, wfRef string) certificate.Summary {
		return certificate.Summary{SubjectAlternativeName: san, Extensions: certificate.Extensions{
			Issuer: issuer, SourceRepositoryURI: repo, SourceRepositoryRef: ref, GithubWorkflowRepository: wfRepo, GithubWorkflowRef: wfRef,
		}}
	}
	for _, tc := range []struct {
		name string
		cert certificate.Summary
		want Preset
	}{
		{"GitHub, a workflow of the repository",
			summary("https://github.com/acme/app/.github/workflows/release.yml@refs/tags/v1", GitHubIssuer, "https://github.com/acme/app", "refs/tags/v1", "acme/app", "refs/tags/v1"),
			Preset{GitHub: &GitHub{Repo: "acme/app", Workflow: "release.yml", Ref: "refs/tags/v1"}}},
		{"GitHub, a reusable workflow",
			summary("https://github.com/sealsign/seal/.github/workflows/attest-image.yml@refs/tags/v1.2.3", GitHubIssuer, "https://github.com/acme/app", "refs/heads/main", "acme/app", "refs/heads/main"),
			Preset{GitHub: &GitHub{Repo: "acme/app", Workflow: "sealsign/seal/.github/workflows/attest-image.yml@refs/tags/v1.2.3", Ref: "refs/heads/main"}}},
		{"GitHub Enterprise Server, older certificate",
			summary("https://ghe.example.com/acme/app/.github/workflows/r.yml@refs/heads/main", "https://ghe.example.com/_services/token", "", "", "acme/app", "refs/heads/main"),
			Preset{GitHub: &GitHub{Host: "ghe.example.com", Repo: "acme/app", Workflow: "r.yml", Ref: "refs/heads/main"}}},
		{"GitHub, a test issuer",
			summary("https://github.com/acme/app/.github/workflows/r.yml@refs/heads/main", "http://127.0.0.1:1/github", "https://github.com/acme/app", "refs/heads/main", "acme/app", "refs/heads/main"),
			Preset{GitHub: &GitHub{Repo: "acme/app", Workflow: "r.yml", Ref: "refs/heads/main"}, Issuer: "http://127.0.0.1:1/github"}},
		{"GitLab",
			summary("https://gitlab.com/g/app//.gitlab-ci.yml@refs/heads/main", GitLabIssuer, "https://gitlab.com/g/app", "refs/heads/main", "", ""),
			Preset{GitLab: &GitLab{Project: "g/app", Ref: "refs/heads/main"}}},
		{"self-managed GitLab",
			summary("https://gitlab.example.com/g/sub/app//ci/build.yml@refs/tags/v2", "https://gitlab.example.com", "https://gitlab.example.com/g/sub/app", "refs/tags/v2", "", ""),
			Preset{GitLab: &GitLab{Host: "gitlab.example.com", Project: "g/sub/app", Ref: "refs/tags/v2"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := FromCertificate(tc.cert)
			if !ok {
				t.Fatal("FromCertificate() = not a preset")
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("FromCertificate() (-want +got):\n%s", diff)
			}
			id, err := got.Identity()
			if err != nil {
				t.Fatalf("Identity() = %v", err)
			}
			if id.Issuer != tc.cert.Issuer {
				t.Errorf("issuer = %q, want the certificate's %q", id.Issuer, tc.cert.Issuer)
			}
			if !regexp.MustCompile(id.SubjectRegexp).MatchString(tc.cert.SubjectAlternativeName) {
				t.Errorf("subject %s does not match %s", tc.cert.SubjectAlternativeName, id.SubjectRegexp)
			}
			want, have := reflect.ValueOf(id.Extensions), reflect.ValueOf(tc.cert.Extensions)
			for i := 0; i < want.NumField(); i++ {
				if w := want.Field(i).String(); w != "" && w != have.Field(i).String() && tc.cert.SourceRepositoryURI != "" {
					t.Errorf("extension %s = %q, the certificate says %q", want.Type().Field(i).Name, w, have.Field(i).String())
				}
			}
		})
	}
	for _, tc := range []struct {
		name string
		cert certificate.Summary
	}{
		{"not a CI job", summary("dev@example.com", "https://accounts.example.com", "", "", "", "")},
		{"GitHub, no repository named", summary("https://github.com/acme/app/.github/workflows/r.yml@refs/heads/main", GitHubIssuer, "", "", "", "")},
		{"GitHub, extensions disagree", summary("https://github.com/acme/app/.github/workflows/r.yml@refs/heads/main", GitHubIssuer, "https://github.com/acme/app", "", "evil/app", "")},
		{"GitLab, another project's configuration", summary("https://gitlab.com/g/ci-templates//build.yml@refs/heads/main", GitLabIssuer, "https://gitlab.com/g/app", "refs/heads/main", "", "")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if p, ok := FromCertificate(tc.cert); ok {
				t.Errorf("FromCertificate() = %+v, want not a preset", p)
			}
		})
	}
}
