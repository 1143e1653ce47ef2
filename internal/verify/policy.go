package verify

import (
	"crypto"
	"fmt"
	"regexp"
	"strings"

	"github.com/sigstore/sigstore-go/pkg/root"
)

// Policy says what must hold for an image to pass.
type Policy struct {
	// Key verifies keyed signatures; Identity keyless ones. Exactly one.
	Key      crypto.PublicKey
	Identity *Identity
	// Trusted holds the Fulcio CAs, timestamp authorities and logs that
	// keyless signatures chain to.
	Trusted root.TrustedMaterial
	// RequireTlog asks for a transparency-log entry on keyless signatures.
	RequireTlog bool
	// RequireSignature asks for an image signature.
	RequireSignature bool
	// Attestations lists predicate types that must be attested.
	Attestations []string
	// Provenance, when set, is checked on every SLSA provenance attestation.
	Provenance *ProvenanceCheck
}

// Identity is who may have signed, keylessly: the certificate's issuer and
// subject, and its Fulcio extensions. Empty fields are not checked.
type Identity struct {
	Issuer, IssuerRegexp string
	SAN, SANRegexp       string
	// SourceRepositoryURI is the repository the workflow ran in
	// (https://github.com/o/r, https://gitlab.com/g/p).
	SourceRepositoryURI string
	// SourceRepositoryRef is the ref the signing run was for (refs/heads/main).
	SourceRepositoryRef string
	// BuildSignerURI pins the workflow or CI configuration that signed.
	BuildSignerURI string
	// BuildSignerURIPrefix pins the workflow file regardless of its ref.
	BuildSignerURIPrefix string
	// RunnerEnvironment is github-hosted or gitlab-hosted when only hosted
	// runners may sign.
	RunnerEnvironment string
}

// ProvenanceCheck lists facts SLSA provenance must state.
type ProvenanceCheck struct {
	SourceRepo string // repository URL the provenance names as its source
	SourceRef  string // ref it names
	BuilderID  string // runDetails.builder.id (v1) / builder.id (v0.2)
	// ProtectedRef requires a GitLab provenance whose ref was protected
	// (Fulcio certificates do not carry that fact; Seal's provenance does,
	// bound to the token's ref_protected claim).
	ProtectedRef bool
}

// GitHubIdentity is the preset for workflows of one GitHub repository.
// host is the GitHub server ("github.com" or a GHES host), issuer the token
// issuer (default GitHub's). workflow (".github/workflows/release.yml")
// and ref ("refs/heads/main", or "main" for a branch) are optional.
func GitHubIdentity(repo, workflow, ref, host, issuer string, hostedOnly bool) (*Identity, error) {
	if !regexp.MustCompile(`^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$`).MatchString(repo) {
		return nil, fmt.Errorf("--github-repo %q: want OWNER/REPO", repo)
	}
	if host == "" {
		host = "github.com"
	}
	if issuer == "" {
		issuer = "https://token.actions.githubusercontent.com"
	}
	base := "https://" + host + "/" + repo
	id := &Identity{Issuer: issuer, SourceRepositoryURI: base, SourceRepositoryRef: qualifyRef(ref)}
	// The signer may be a reusable workflow in another repository: the SAN
	// is then that workflow. The repository the run belongs to is pinned
	// by the source repository extension either way.
	id.SANRegexp = "^" + regexp.QuoteMeta("https://"+host+"/")
	if workflow != "" {
		workflow = strings.TrimPrefix(workflow, "/")
		id.BuildSignerURIPrefix = base + "/" + workflow + "@"
		id.SANRegexp = "^" + regexp.QuoteMeta(id.BuildSignerURIPrefix)
	}
	if hostedOnly {
		id.RunnerEnvironment = "github-hosted"
	}
	return id, nil
}

// GitLabIdentity is the preset for pipelines of one GitLab project. host
// defaults to gitlab.com, issuer to https://HOST.
func GitLabIdentity(project, ref, host, issuer string, hostedOnly bool) (*Identity, error) {
	if !regexp.MustCompile(`^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)+$`).MatchString(project) {
		return nil, fmt.Errorf("--gitlab-project %q: want GROUP/PROJECT", project)
	}
	if host == "" {
		host = "gitlab.com"
	}
	if issuer == "" {
		issuer = "https://" + host
	}
	id := &Identity{
		Issuer:              issuer,
		SourceRepositoryURI: "https://" + host + "/" + project,
		SourceRepositoryRef: qualifyRef(ref),
		SANRegexp:           "^" + regexp.QuoteMeta("https://"+host+"/"),
	}
	if hostedOnly {
		id.RunnerEnvironment = "gitlab-hosted"
	}
	return id, nil
}

// qualifyRef turns a bare branch name into refs/heads/NAME.
func qualifyRef(ref string) string {
	if ref == "" || strings.HasPrefix(ref, "refs/") {
		return ref
	}
	return "refs/heads/" + ref
}
