package identity

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/sigstore/sigstore-go/pkg/fulcio/certificate"
)

// OIDC issuers of the presets' public CI services.
const (
	GitHubIssuer = "https://token.actions.githubusercontent.com"
	GitLabIssuer = "https://gitlab.com"
)

// CI names a preset's CI service, in Source.CI.
const (
	CIGitHub = "github"
	CIGitLab = "gitlab"
)

// Identity is who must have signed, keylessly: what the Fulcio certificate
// must say. Exactly one of Subject and SubjectRegexp is set, and exactly one
// of Issuer and IssuerRegexp; regexps are Go (RE2) syntax and anchored.
//
// For a CI identity the subject names the workflow file (GitHub) or CI
// configuration file (GitLab) that ran, not the repository that ran it: a
// GitHub workflow that is `on: workflow_call` can be called from any
// repository allowed to see it, and a GitLab project can take another
// project's file as its CI configuration, and either way the certificate
// carries the file owner's subject. Only the Source Repository URI
// extension (and, for GitHub, the deprecated workflow-repository extension
// 1.3.6.1.4.1.57264.1.5) names the repository that ran, so a preset is
// worth no more than the checker's ability to read Extensions.
//
// The presets (FromGitHub, FromGitLab) fill every field; a raw identity
// (from --certificate-identity and --certificate-oidc-issuer) has only the
// four matchers and no Source. To use one with sigstore-go:
//
//	san, _ := verify.NewSANMatcher(id.Subject, id.SubjectRegexp)
//	iss, _ := verify.NewIssuerMatcher(id.Issuer, id.IssuerRegexp)
//	ci, _ := verify.NewCertificateIdentity(san, iss, id.Extensions)
type Identity struct {
	// Issuer is the OIDC issuer the certificate must name exactly.
	Issuer string
	// IssuerRegexp is the alternative to Issuer.
	IssuerRegexp string
	// Subject is the certificate's subject alternative name, exactly.
	Subject string
	// SubjectRegexp is the alternative to Subject.
	SubjectRegexp string
	// Extensions are Fulcio certificate extensions that must hold these
	// exact values (sigstore-go's certificate.Extensions, whose unset
	// fields are not checked). Issuer is never set here.
	Extensions certificate.Extensions
	// RefuseTriggers are events whose certificates are refused, as the
	// Build Trigger extension (1.3.6.1.4.1.57264.1.20; GitHub's event_name,
	// GitLab's pipeline_source) or, in certificates from before it,
	// GitHub's workflow-trigger extension (1.3.6.1.4.1.57264.1.2) names
	// them. The GitHub preset refuses RefusedGitHubTriggers unless
	// GitHub.AllowTriggers names them.
	RefuseTriggers []string
	// Source is the build a preset stands for; nil for raw identities.
	Source *Source
}

// Source is what a preset identity says about the build, as Fulcio's
// extensions and Seal's SLSA provenance record it.
type Source struct {
	// CI is CIGitHub or CIGitLab.
	CI string
	// Repository is "OWNER/REPO" or "GROUP/SUBGROUP/PROJECT".
	Repository string
	// RepositoryURI is the repository's web URL, as the Source Repository
	// URI extension and the provenance's externalParameters name it.
	RepositoryURI string
	// Ref is the git ref the build must have run for: "" for any, a full
	// ref ("refs/heads/main"), or a prefix ending in "*" ("refs/tags/v*").
	Ref string
	// RunnerEnvironment is "github-hosted" when only GitHub's own runners
	// may sign, else "".
	RunnerEnvironment string
	// RefProtected requires a protected branch or tag (GitLab). No
	// certificate field carries it: only the provenance does.
	RefProtected bool

	// builder is the subject pattern, which is also the provenance's
	// runDetails.builder.id: Seal writes the signing identity there.
	builder Pattern
	// ref is Ref as a pattern, for engines that take globs.
	ref Pattern
}

var (
	githubOwnerRepo = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$`)
	workflowFile    = regexp.MustCompile(`^[A-Za-z0-9._-]+\.ya?ml$`)
	reusableWF      = regexp.MustCompile(`^([^/@]+/[^/@]+)/\.github/workflows/([^/@]+)(?:@(.+))?$`)
	gitlabPath      = regexp.MustCompile(`^[A-Za-z0-9_.][A-Za-z0-9_.-]*(?:/[A-Za-z0-9_.][A-Za-z0-9_.-]*)+$`)
	hostPort        = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?(?::[0-9]{1,5})?$`)
	refChars        = regexp.MustCompile(`^refs/[A-Za-z0-9._/+-]*\*?$`)
	wfRefChars      = regexp.MustCompile(`^[A-Za-z0-9._/+-]+$`)
)

// FromGitHub is FromGitHubHost for github.com.
func FromGitHub(repo, workflow, ref string, hostedOnly bool) (Identity, error) {
	return FromGitHubHost("", repo, workflow, ref, hostedOnly)
}

// GitHub is the GitHub preset as `seal verify` and `seal policy` take it
// from their flags: FromGitHubHost's parameters, the numeric ids to pin
// and the refused triggers to accept after all.
type GitHub struct {
	// Host is "" for github.com, or a GitHub Enterprise Server host[:port].
	Host string
	// Repo is "OWNER/REPO"; Workflow and Ref read as for FromGitHubHost.
	Repo, Workflow, Ref string
	// HostedRunnersOnly refuses self-hosted runners.
	HostedRunnersOnly bool
	// RepoID and OwnerID are GitHub's numeric repository and owner ids
	// (Source Repository Identifier and Owner Identifier extensions):
	// unlike names, which a new owner can take once a repository is
	// renamed or deleted, ids are never reused.
	RepoID, OwnerID string
	// AllowTriggers are events of RefusedGitHubTriggers to accept.
	AllowTriggers []string
}

// Identity is the preset's identity: FromGitHubHost's, refusing the
// RefusedGitHubTriggers that AllowTriggers does not name, with the ids
// pinned.
func (g GitHub) Identity() (Identity, error) {
	id, err := FromGitHubHost(g.Host, g.Repo, g.Workflow, g.Ref, g.HostedRunnersOnly)
	if err != nil {
		return Identity{}, err
	}
	for _, t := range g.AllowTriggers {
		if !slices.Contains(RefusedGitHubTriggers(), t) {
			return Identity{}, fmt.Errorf("allowed trigger %q: the GitHub preset refuses only %s, and accepts every other event", t, strings.Join(RefusedGitHubTriggers(), " and "))
		}
	}
	id.RefuseTriggers = slices.DeleteFunc(id.RefuseTriggers, func(t string) bool { return slices.Contains(g.AllowTriggers, t) })
	if err := id.pinIDs("GitHub repository id", g.RepoID, "GitHub owner id", g.OwnerID); err != nil {
		return Identity{}, err
	}
	return id, nil
}

// RefusedGitHubTriggers are the events whose runs the GitHub preset
// refuses: they hold the repository's token and secrets while running code
// (pull_request_target: the pull request's) or acting on events
// (workflow_run: another workflow's, perhaps a fork's) from outside the
// repository.
func RefusedGitHubTriggers() []string { return []string{"pull_request_target", "workflow_run"} }

// GitHubEvents are the events GitHub Actions names as a run's event_name,
// from GitHub's "Events that trigger workflows" (November 2025) and
// "dynamic", the event of the workflows GitHub runs itself (Dependabot,
// code scanning's default setup), the most common first. An engine that
// can only match a trigger against a list accepts these less the refused
// ones, and refuses an event GitHub adds later.
func GitHubEvents() []string {
	return []string{
		"push", "workflow_dispatch", "release", "schedule", "merge_group", "pull_request", "repository_dispatch",
		"branch_protection_rule", "check_run", "check_suite", "create", "delete", "deployment", "deployment_status",
		"discussion", "discussion_comment", "dynamic", "fork", "gollum", "image_version", "issue_comment", "issues",
		"label", "milestone", "page_build", "public", "pull_request_review", "pull_request_review_comment",
		"pull_request_target", "registry_package", "status", "watch", "workflow_call", "workflow_run",
	}
}

// GitLab is the GitLab preset as `seal verify` and `seal policy` take it
// from their flags: FromGitLab's parameters and the numeric ids to pin.
type GitLab struct {
	// Host is "" for gitlab.com, or a self-managed instance's host[:port].
	Host string
	// Project is "GROUP/[SUBGROUP/]PROJECT"; Ref reads as for FromGitLab.
	Project, Ref string
	// HostedRunnersOnly refuses self-managed runners; ProtectedRefOnly
	// requires provenance calling the ref protected (Source.RefProtected).
	HostedRunnersOnly, ProtectedRefOnly bool
	// ProjectID and NamespaceID are GitLab's numeric project and
	// namespace ids (Source Repository Identifier and Owner Identifier).
	ProjectID, NamespaceID string
}

// Identity is the preset's identity: FromGitLab's, with the ids pinned.
func (g GitLab) Identity() (Identity, error) {
	id, err := FromGitLab(g.Project, g.Host, g.Ref, g.HostedRunnersOnly, g.ProtectedRefOnly)
	if err != nil {
		return Identity{}, err
	}
	if err := id.pinIDs("GitLab project id", g.ProjectID, "GitLab namespace id", g.NamespaceID); err != nil {
		return Identity{}, err
	}
	return id, nil
}

// pinIDs requires the numeric repository and owner ids, where given.
func (id *Identity) pinIDs(repoWhat, repo, ownerWhat, owner string) error {
	for _, v := range []struct{ what, val string }{{repoWhat, repo}, {ownerWhat, owner}} {
		if v.val == "" {
			continue
		}
		if _, err := strconv.ParseUint(v.val, 10, 64); err != nil {
			return fmt.Errorf("%s %q: want a number", v.what, v.val)
		}
	}
	id.Extensions.SourceRepositoryIdentifier = repo
	id.Extensions.SourceRepositoryOwnerIdentifier = owner
	return nil
}

// FromGitHubHost is the identity of a GitHub Actions workflow of repo
// ("OWNER/REPO", spelled as GitHub shows it) on host ("" for github.com, or
// a GitHub Enterprise Server host[:port]) signing with its Fulcio
// certificate:
//
//   - Issuer GitHubIssuer; for a GHES host https://HOST/_services/token.
//   - SubjectRegexp ^https://HOST/OWNER/REPO/\.github/workflows/FILE@REF$
//     where FILE is any workflow file ([^/@]+) unless workflow names one,
//     and REF is ref (a trailing "*" becomes .*) or any ref (refs/.+).
//   - Extensions.SourceRepositoryURI https://HOST/OWNER/REPO; with an
//     exact ref also SourceRepositoryRef; with hostedOnly RunnerEnvironment
//     "github-hosted".
//   - RefuseTriggers RefusedGitHubTriggers (GitHub.AllowTriggers accepts
//     them).
//
// ref is "" (any), a full ref ("refs/tags/v1.2.0"), a branch name
// ("main" means refs/heads/main), or either ending in "*" for a prefix
// ("refs/tags/v*"). workflow is "" (any workflow of the repository), a file
// name or path in it ("release.yml", ".github/workflows/release.yml"), or
// a reusable workflow in another repository
// ("ORG/SHARED/.github/workflows/build.yml", optionally "@REF" to pin its
// version). The subject is always the workflow's (Fulcio's Build Signer
// URI), for a reusable workflow pinned to its "@REF" or any version; only
// the extensions tie the signature to repo and ref, for an in-repository
// workflow too (see Identity). A ref prefix is refused for a reusable
// workflow because the extensions, which alone carry the caller's ref,
// match exactly.
func FromGitHubHost(host, repo, workflow, ref string, hostedOnly bool) (Identity, error) {
	issuer := GitHubIssuer
	switch {
	case host == "" || host == "github.com":
		host = "github.com"
	case !hostPort.MatchString(host):
		return Identity{}, fmt.Errorf("GitHub host %q: want HOST or HOST:PORT", host)
	default:
		issuer = "https://" + host + "/_services/token"
	}
	if !githubOwnerRepo.MatchString(repo) {
		return Identity{}, fmt.Errorf("GitHub repository %q: want OWNER/REPO", repo)
	}
	ref, err := QualifyRef(ref)
	if err != nil {
		return Identity{}, err
	}
	server := "https://" + host + "/"
	src := &Source{CI: CIGitHub, Repository: repo, RepositoryURI: server + repo, Ref: ref, ref: refPattern(ref)}
	id := Identity{Issuer: issuer, Source: src}
	id.Extensions.SourceRepositoryURI = src.RepositoryURI

	wfRepo, file, wfRef := repo, "", ""
	switch {
	case workflow == "":
	case workflowFile.MatchString(workflow):
		file = workflow
	case strings.HasPrefix(workflow, ".github/workflows/"):
		file = strings.TrimPrefix(workflow, ".github/workflows/")
		if !workflowFile.MatchString(file) {
			return Identity{}, fmt.Errorf("workflow %q: want .github/workflows/NAME.yml", workflow)
		}
	default:
		m := reusableWF.FindStringSubmatch(workflow)
		if m == nil || !githubOwnerRepo.MatchString(m[1]) || !workflowFile.MatchString(m[2]) {
			return Identity{}, fmt.Errorf("workflow %q: want NAME.yml, .github/workflows/NAME.yml or OWNER/REPO/.github/workflows/NAME.yml[@REF]", workflow)
		}
		wfRepo, file, wfRef = m[1], m[2], m[3]
		if wfRef != "" && !wfRefChars.MatchString(wfRef) {
			return Identity{}, fmt.Errorf("workflow %q: invalid ref %q", workflow, wfRef)
		}
	}

	san := Pattern{lit(server + wfRepo + "/.github/workflows/")}
	if file == "" {
		san = append(san, wild(`[^/@]+`))
	} else {
		san = append(san, lit(file))
	}
	san = append(san, lit("@"))
	if wfRepo == repo {
		// Run by its own repository, an in-repository workflow runs at
		// the ref of the run, so a workflow@REF suffix can only repeat
		// --ref. Called from another repository it runs at whatever ref
		// the caller names: the subject proves neither, the extensions
		// do.
		if wfRef != "" {
			if ref != "" && ref != wfRef {
				return Identity{}, fmt.Errorf("workflow %q is pinned to %s but the ref is %s", workflow, wfRef, ref)
			}
			if _, err := QualifyRef(wfRef); err != nil || !strings.HasPrefix(wfRef, "refs/") {
				return Identity{}, fmt.Errorf("workflow %q: an in-repository workflow runs at a full ref (refs/heads/main)", workflow)
			}
			src.Ref, src.ref = wfRef, refPattern(wfRef)
		}
		san = append(san, src.ref...)
	} else {
		if strings.HasSuffix(ref, "*") {
			return Identity{}, fmt.Errorf("ref %q: a reusable workflow's caller ref is only in a certificate extension, which matches exactly; give a full ref", ref)
		}
		if wfRef != "" {
			san = append(san, lit(wfRef))
		} else {
			san = append(san, wild(`.+`))
		}
	}
	if src.Ref != "" && !strings.HasSuffix(src.Ref, "*") {
		id.Extensions.SourceRepositoryRef = src.Ref
	}
	if hostedOnly {
		src.RunnerEnvironment = "github-hosted"
		id.Extensions.RunnerEnvironment = "github-hosted"
	}
	src.builder = san
	id.SubjectRegexp = san.Regexp()
	id.RefuseTriggers = RefusedGitHubTriggers()
	return id, nil
}

// FromGitLab is the identity of a GitLab CI pipeline of project
// ("GROUP/[SUBGROUP/]PROJECT") on host ("" for gitlab.com; a self-managed
// instance's host[:port]) signing with its Fulcio certificate:
//
//   - Issuer https://HOST (GitLabIssuer for gitlab.com).
//   - SubjectRegexp ^https://HOST/GROUP/PROJECT//[^@]+@REF$: a CI
//     configuration file (any path) of the project, at ref (a trailing "*"
//     becomes .*) or any ref (refs/.+). The project's own pipeline whose
//     configuration comes from another project does not match; a pipeline
//     of another project that takes this project's file as its
//     configuration does, and only Extensions.SourceRepositoryURI tells it
//     apart.
//   - Extensions.SourceRepositoryURI https://HOST/GROUP/PROJECT,
//     SourceRepositoryRef for an exact ref, and with hostedOnly
//     RunnerEnvironment "gitlab-hosted".
//
// ref reads as for FromGitHubHost. protectedOnly sets Source.RefProtected:
// GitLab puts ref_protected in the token but Fulcio copies it into no
// certificate field, so only Seal's provenance
// (internalParameters.gitlab.ref_protected) records it.
func FromGitLab(project, host, ref string, hostedOnly, protectedOnly bool) (Identity, error) {
	if host == "" {
		host = "gitlab.com"
	}
	if !hostPort.MatchString(host) {
		return Identity{}, fmt.Errorf("GitLab host %q: want HOST or HOST:PORT", host)
	}
	if !gitlabPath.MatchString(project) {
		return Identity{}, fmt.Errorf("GitLab project %q: want GROUP/PROJECT", project)
	}
	ref, err := QualifyRef(ref)
	if err != nil {
		return Identity{}, err
	}
	server := "https://" + host + "/"
	src := &Source{CI: CIGitLab, Repository: project, RepositoryURI: server + project, Ref: ref, ref: refPattern(ref), RefProtected: protectedOnly}
	san := append(Pattern{lit(server + project + "//"), wild(`[^@]+`), lit("@")}, src.ref...)
	src.builder = san
	id := Identity{Issuer: "https://" + host, SubjectRegexp: san.Regexp(), Source: src}
	id.Extensions.SourceRepositoryURI = src.RepositoryURI
	if ref != "" && !strings.HasSuffix(ref, "*") {
		id.Extensions.SourceRepositoryRef = ref
	}
	if hostedOnly {
		src.RunnerEnvironment = "gitlab-hosted"
		id.Extensions.RunnerEnvironment = "gitlab-hosted"
	}
	return id, nil
}

// Validate checks that the identity has one subject and one issuer matcher,
// that its regexps compile, and that every matcher is printable text: no
// certificate field Fulcio writes holds a control character or a line
// separator, and a value with one could end a line of a policy file.
func (id Identity) Validate() error {
	if (id.Subject == "") == (id.SubjectRegexp == "") {
		return errors.New("identity needs exactly one of subject and subject regexp")
	}
	if (id.Issuer == "") == (id.IssuerRegexp == "") {
		return errors.New("identity needs exactly one of issuer and issuer regexp")
	}
	for _, f := range []struct{ what, v string }{
		{"subject", id.Subject}, {"subject regexp", id.SubjectRegexp},
		{"issuer", id.Issuer}, {"issuer regexp", id.IssuerRegexp},
	} {
		if err := Printable(f.v); err != nil {
			return fmt.Errorf("identity %s %q: %w", f.what, f.v, err)
		}
	}
	for _, re := range []string{id.SubjectRegexp, id.IssuerRegexp} {
		if re == "" {
			continue
		}
		if _, err := regexp.Compile(re); err != nil {
			return fmt.Errorf("identity regexp %q: %w", re, err)
		}
	}
	if id.Extensions.Issuer != "" {
		return errors.New("identity extensions must not set the issuer: use Issuer")
	}
	for _, t := range id.RefuseTriggers {
		if t == "" {
			return errors.New("identity refuses an empty trigger")
		}
		if err := Printable(t); err != nil {
			return fmt.Errorf("identity refused trigger %q: %w", t, err)
		}
	}
	return nil
}

// Printable refuses a string that is not valid UTF-8 or holds a character
// other than a space that Unicode does not call printable: control
// characters (newline, carriage return, NEL), the line and paragraph
// separators YAML also breaks lines at, format characters and the like.
func Printable(s string) error {
	for i, r := range s {
		switch {
		case r == utf8.RuneError && !strings.HasPrefix(s[i:], string(utf8.RuneError)):
			return fmt.Errorf("not valid UTF-8 at byte %d", i)
		case unicode.IsControl(r):
			return fmt.Errorf("control character %U at byte %d is not allowed", r, i)
		case r != ' ' && !unicode.IsPrint(r):
			return fmt.Errorf("character %U at byte %d is not printable", r, i)
		}
	}
	return nil
}

// QualifyRef checks ref and makes a branch name a full ref.
func QualifyRef(ref string) (string, error) {
	if ref == "" {
		return "", nil
	}
	if !strings.HasPrefix(ref, "refs/") {
		ref = "refs/heads/" + ref
	}
	if !refChars.MatchString(ref) || strings.Contains(ref, "..") || strings.Contains(ref, "//") {
		return "", fmt.Errorf("ref %q: want a full git ref (refs/heads/main, refs/tags/v1.2.0), a branch name, or either ending in * (refs/tags/v*)", ref)
	}
	return ref, nil
}

func refPattern(ref string) Pattern {
	switch {
	case ref == "":
		return Pattern{lit("refs/"), wild(`.+`)}
	case strings.HasSuffix(ref, "*"):
		return Pattern{lit(strings.TrimSuffix(ref, "*")), wild(`.*`)}
	default:
		return Pattern{lit(ref)}
	}
}

// Pattern is a string made of literal and wildcard parts, so that one
// definition renders both as an anchored Go regexp and as the glob Kyverno
// matches with ("*" for any run of characters).
type Pattern []part

type part struct {
	lit string // literal text, or
	re  string // a wildcard's regexp
}

func lit(s string) part   { return part{lit: s} }
func wild(re string) part { return part{re: re} }

func (p Pattern) Regexp() string {
	var b strings.Builder
	b.WriteString("^")
	for _, x := range p {
		if x.re != "" {
			b.WriteString(x.re)
		} else {
			b.WriteString(regexp.QuoteMeta(x.lit))
		}
	}
	b.WriteString("$")
	return b.String()
}

func (p Pattern) Glob() string {
	var b strings.Builder
	for _, x := range p {
		if x.re != "" {
			b.WriteString("*")
		} else {
			b.WriteString(x.lit)
		}
	}
	return b.String()
}

// Literal returns the pattern's text when it has no wildcard.
func (p Pattern) Literal() (string, bool) {
	var b strings.Builder
	for _, x := range p {
		if x.re != "" {
			return "", false
		}
		b.WriteString(x.lit)
	}
	return b.String(), p != nil
}

// Builder is the subject pattern, which is also what Seal's provenance
// names as runDetails.builder.id: Seal writes the signing identity there.
func (s *Source) Builder() Pattern { return s.builder }

// RefPattern is Ref as a pattern, for engines that take globs.
func (s *Source) RefPattern() Pattern { return s.ref }
