package identity

import (
	"regexp"
	"strings"

	"github.com/sigstore/sigstore-go/pkg/fulcio/certificate"
)

// Preset is a GitHub or GitLab preset (one of the two is set) with the
// issuer its certificate named when that is not the preset's own, as
// `seal verify --certificate-oidc-issuer` takes it next to a preset.
type Preset struct {
	GitHub *GitHub
	GitLab *GitLab
	// Issuer is "" for the preset's own issuer (FromGitHubHost,
	// FromGitLab), else the certificate's.
	Issuer string
}

// Identity is the preset's identity, with Issuer in place of the preset's
// own.
func (p Preset) Identity() (Identity, error) {
	var (
		id  Identity
		err error
	)
	if p.GitHub != nil {
		id, err = p.GitHub.Identity()
	} else {
		id, err = p.GitLab.Identity()
	}
	if err == nil && p.Issuer != "" {
		id.Issuer, id.IssuerRegexp = p.Issuer, ""
	}
	return id, err
}

var (
	// githubSubject is a GitHub workflow's Build Signer URI:
	// https://HOST/OWNER/REPO/.github/workflows/FILE@REF, the workflow
	// that ran (a reusable one lives in another repository than the
	// caller's).
	githubSubject = regexp.MustCompile(`^https://([^/]+)/([^/]+/[^/]+)/\.github/workflows/([^/@]+)@(.+)$`)
	// gitlabSubject is a GitLab job's: https://HOST/PATH//CONFIG@REF, the
	// CI configuration file that ran.
	gitlabSubject = regexp.MustCompile(`^https://([^/]+)/(.+?)//([^@]+)@(refs/.+)$`)
)

// FromCertificate is the preset that pins the CI job a Fulcio certificate
// was issued to: the repository it ran for (Source Repository URI, or for
// GitHub the workflow-repository extension), the workflow (GitHub: the
// file of the repository, or a reusable workflow at its version) and the
// ref. Its Identity matches the certificate. ok is false when the
// certificate is not a GitHub or GitLab job's, or does not name the
// repository, or ran a GitLab project's CI configuration from another
// project, which the GitLab preset does not take.
func FromCertificate(s certificate.Summary) (p Preset, ok bool) {
	if m := githubSubject.FindStringSubmatch(s.SubjectAlternativeName); m != nil {
		host, wfRepo, file, wfRef := m[1], m[2], m[3], m[4]
		server := "https://" + host + "/"
		repo := s.GithubWorkflowRepository
		if u, ok := strings.CutPrefix(s.SourceRepositoryURI, server); ok && repo == "" {
			repo = u
		}
		if repo == "" || s.SourceRepositoryURI != "" && s.SourceRepositoryURI != server+repo {
			return Preset{}, false
		}
		g := &GitHub{Repo: repo}
		issuer := GitHubIssuer
		if host != "github.com" {
			g.Host, issuer = host, "https://"+host+"/_services/token"
		}
		ref := s.SourceRepositoryRef
		if ref == "" {
			ref = s.GithubWorkflowRef
		}
		switch {
		case wfRepo == repo && !strings.HasPrefix(wfRef, "refs/"):
			return Preset{}, false
		case wfRepo == repo:
			// A workflow of the repository itself runs at the caller's
			// ref, which its subject names.
			g.Workflow, g.Ref = file, wfRef
		default:
			g.Workflow, g.Ref = wfRepo+"/.github/workflows/"+file+"@"+wfRef, ref
		}
		p = Preset{GitHub: g}
		if s.Issuer != issuer {
			p.Issuer = s.Issuer
		}
		return p, true
	}
	if m := gitlabSubject.FindStringSubmatch(s.SubjectAlternativeName); m != nil {
		host, project, ref := m[1], m[2], m[4]
		// The GitLab preset expects the project's own CI configuration.
		if s.SourceRepositoryURI != "https://"+host+"/"+project {
			return Preset{}, false
		}
		if s.SourceRepositoryRef != "" {
			ref = s.SourceRepositoryRef
		}
		g := &GitLab{Project: project, Ref: ref}
		if host != "gitlab.com" {
			g.Host = host
		}
		p = Preset{GitLab: g}
		if s.Issuer != "https://"+host {
			p.Issuer = s.Issuer
		}
		return p, true
	}
	return Preset{}, false
}
