package options

import "github.com/spf13/pflag"

// Identity says who may have signed, in the words users think in.
type Identity struct {
	// GitHubRepo (OWNER/REPO) selects the GitHub preset.
	GitHubRepo string
	// GitHubWorkflow pins the workflow file that signed.
	GitHubWorkflow string
	// GitHubHost is a GitHub Enterprise Server host.
	GitHubHost string
	// GitLabProject (GROUP/PROJECT) selects the GitLab preset.
	GitLabProject string
	// GitLabHost is a self-managed GitLab host.
	GitLabHost string
	// Ref pins the source ref (refs/heads/main; a bare name is a branch).
	Ref string
	// HostedRunnersOnly refuses self-hosted runners.
	HostedRunnersOnly bool
	// ProtectedRefOnly (GitLab) requires provenance from a protected ref.
	ProtectedRefOnly bool
	// CertificateIdentity and CertificateOIDCIssuer are cosign's raw flags.
	CertificateIdentity, CertificateIdentityRegexp     string
	CertificateOIDCIssuer, CertificateOIDCIssuerRegexp string
	// AllowTriggers are events a GitHub preset accepts although it refuses
	// them by default (pull_request_target, workflow_run).
	AllowTriggers []string
	// GitHubRepoID and GitHubOwnerID pin GitHub's numeric repository and
	// owner ids; GitLabProjectID and GitLabNamespaceID GitLab's.
	GitHubRepoID, GitHubOwnerID        string
	GitLabProjectID, GitLabNamespaceID string
	// Key verifies keyed signatures (file, env://NAME, KMS URI).
	Key string
}

// AddFlags registers the flags.
func (o *Identity) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.GitHubRepo, "github-repo", "", "accept signatures from GitHub Actions workflows of OWNER/REPO")
	fs.StringVar(&o.GitHubWorkflow, "github-workflow", "", "with --github-repo: only this workflow file (.github/workflows/release.yml)")
	fs.StringVar(&o.GitHubHost, "github-host", "", "with --github-repo: a GitHub Enterprise Server host (default github.com)")
	fs.StringVar(&o.GitLabProject, "gitlab-project", "", "accept signatures from GitLab CI pipelines of GROUP/PROJECT")
	fs.StringVar(&o.GitLabHost, "gitlab-host", "", "with --gitlab-project: a self-managed GitLab host (default gitlab.com)")
	fs.StringVar(&o.Ref, "ref", "", "only runs for this source ref (refs/heads/main, refs/tags/v1; a bare name means a branch)")
	fs.BoolVar(&o.HostedRunnersOnly, "hosted-runners-only", false, "refuse signatures made on self-hosted runners")
	fs.BoolVar(&o.ProtectedRefOnly, "protected-ref-only", false, "GitLab: require provenance showing a protected ref. No certificate carries that fact: it rests on the signer's own claim, which any job of the project can make about its own ref; pin the ref with --ref, which the certificate proves")
	fs.StringVar(&o.CertificateIdentity, "certificate-identity", "", "exact certificate identity (SAN)")
	fs.StringVar(&o.CertificateIdentityRegexp, "certificate-identity-regexp", "", "certificate identity pattern")
	fs.StringVar(&o.CertificateOIDCIssuer, "certificate-oidc-issuer", "", "OIDC issuer of the certificate (with a preset: another issuer, e.g. GHES, self-managed GitLab)")
	fs.StringVar(&o.CertificateOIDCIssuerRegexp, "certificate-oidc-issuer-regexp", "", "OIDC issuer pattern")
	fs.StringVar(&o.Key, "key", "", "verify keyed signatures with this public key: file, env://NAME or KMS URI")
	fs.StringArrayVar(&o.AllowTriggers, "allow-trigger", nil, "with --github-repo: accept signatures from runs of this event, which is refused by default (pull_request_target, workflow_run; repeatable)")
	fs.StringVar(&o.GitHubRepoID, "github-repo-id", "", "with --github-repo: the repository's numeric id, which survives renames (certificate Source Repository Identifier)")
	fs.StringVar(&o.GitHubOwnerID, "github-owner-id", "", "with --github-repo: the owner's numeric id (certificate Source Repository Owner Identifier)")
	fs.StringVar(&o.GitLabProjectID, "gitlab-project-id", "", "with --gitlab-project: the project's numeric id (certificate Source Repository Identifier)")
	fs.StringVar(&o.GitLabNamespaceID, "gitlab-namespace-id", "", "with --gitlab-project: the namespace's numeric id (certificate Source Repository Owner Identifier)")
}

// Verify configures `seal verify`.
type Verify struct {
	Identity
	// Attestations are predicate types that must be attested.
	Attestations []string
	// VSACheck is what a required Verification Summary must say.
	VSACheck
	// NoSignature does not require an image signature.
	NoSignature bool
	// SourceRepo, SourceRef and BuilderID are checked in SLSA provenance
	// and, keylessly, in the signer's certificate.
	SourceRepo, SourceRef, BuilderID string
	// TrustedRoot is a private instance's trusted_root.json.
	TrustedRoot string
	// NoTlog accepts keyless signatures without a transparency-log entry
	// (timestamp-authority only), as private instances make them.
	NoTlog bool
	// Recursive verifies every platform of an index too.
	Recursive bool
	// JSON prints the report as JSON.
	JSON bool
	// Jobs bounds how many images are verified at once.
	Jobs int
	// Bundles are saved bundle files; the arguments are then files, not images.
	Bundles []string
	// VSA is where to write a SLSA Verification Summary of the run, as an
	// unsigned in-toto statement for `seal attest --vsa` to sign.
	VSA string
	// Deployment records a passing verification in GitHub's deployment records.
	Deployment
	Registry
	Timeout
}

// Deployment is a GitHub deployment record of the images a deploy gate let through.
type Deployment struct {
	// Environment is the logical environment (production, staging); empty writes no record.
	Environment string
	// PhysicalEnvironment (a region) and Cluster are optional.
	PhysicalEnvironment, Cluster string
	// Name is the deployment's name within the cluster (default: the image repository's
	// last path element).
	Name string
}

// AddFlags registers the flags.
func (o *Deployment) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.Environment, "github-deployment-record", "", "after a passing verification, in GitHub Actions, record each image as deployed to this logical environment (production, staging) in the artifact metadata of the organisation owning GITHUB_REPOSITORY, with GITHUB_TOKEN (artifact-metadata: write); a failed verification records nothing")
	fs.StringVar(&o.PhysicalEnvironment, "github-physical-environment", "", "with --github-deployment-record: the physical environment (a region, eu-west-1)")
	fs.StringVar(&o.Cluster, "github-cluster", "", "with --github-deployment-record: the cluster deployed to")
	fs.StringVar(&o.Name, "github-deployment-name", "", "with --github-deployment-record: the deployment's name, unique within the environments and cluster (default: the image repository's last path element; one image only)")
}

// AddFlags registers the flags.
func (o *Verify) AddFlags(fs *pflag.FlagSet) {
	o.Identity.AddFlags(fs)
	fs.StringArrayVar(&o.Attestations, "attestation", nil, "require an attestation of this type: slsaprovenance, slsaprovenance1, spdx, cyclonedx, vuln, vsa (a PASSED verification summary of this digest from Seal, or see --vsa-verifier) or a URI (repeatable)")
	o.VSACheck.AddFlags(fs)
	fs.BoolVar(&o.NoSignature, "no-signature", false, "do not require an image signature (attestations only)")
	fs.StringVar(&o.SourceRepo, "source-repo", "", "provenance must name this source repository URL, and a keyless signer's certificate too (Source Repository URI)")
	fs.StringVar(&o.SourceRef, "source-ref", "", "provenance must name this source ref, and a keyless signer's certificate too (Source Repository Ref)")
	fs.StringVar(&o.BuilderID, "builder-id", "", "provenance must name this builder id, and a keyless signer's certificate too (Build Signer URI)")
	fs.StringVar(&o.TrustedRoot, "trusted-root", "", "trusted_root.json of a private Sigstore instance (default: the embedded public-good root)")
	fs.BoolVar(&o.NoTlog, "no-tlog", false, "accept keyless signatures without a transparency-log entry (a timestamp is still required)")
	fs.BoolVar(&o.Recursive, "recursive", false, "for an index, verify every platform image too")
	fs.BoolVar(&o.JSON, "json", false, "print the report as JSON on stdout")
	fs.IntVar(&o.Jobs, "jobs", 8, "how many images to verify at once")
	fs.StringArrayVar(&o.Bundles, "bundle", nil, "verify FILE arguments against these saved bundle files instead of images in a registry (repeatable; offline)")
	fs.StringVar(&o.VSA, "vsa", "", "write a SLSA Verification Summary (https://slsa.dev/verification_summary/v1) of this verification, PASSED or FAILED, to FILE as an unsigned in-toto statement; sign and publish it with seal attest --vsa FILE IMAGE")
	o.Deployment.AddFlags(fs)
	o.Registry.AddFlags(fs)
	o.Timeout.AddFlags(fs)
}
