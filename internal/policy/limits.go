package policy

import (
	"fmt"
	"strings"

	"github.com/sigstore/sigstore-go/pkg/fulcio/certificate"

	"github.com/sealsign/seal/internal/identity"
	"github.com/sealsign/seal/internal/oci"
)

// pinSource refuses a preset identity that engine, in p's format, cannot
// tie to its repository through the certificate. The subject cannot do it
// (see identity.Identity): it names the workflow or CI configuration file
// that ran, which other repositories can run too. Only the Source
// Repository URI extension, or GitHub's deprecated workflow-repository
// extension, names the repository that ran, and what the engines read of
// a certificate is:
//
//   - Kyverno, Cosign type (legacy): issuer, subject, and through
//     keyless.additionalExtensions the GitHub workflow extensions cosign's
//     CertExtensions knows (trigger, sha, name, repository, ref).
//   - Kyverno, SigstoreBundle type: issuer and subject (sigstore-go's
//     NewShortCertificateIdentity); additionalExtensions is ignored and
//     attestation conditions see the statement only.
//   - policy-controller, legacy: issuer and subject in an authority, and
//     the same GitHub extensions in the CIP-level policy's input
//     (authorityMatches.NAME.signatures[].githubWorkflowRepo).
//   - policy-controller v0.13.1 and v0.15.1, bundle: issuer and subject;
//     cosign (v2.5 and v3.0 inside) hands it each verified bundle as a bare
//     attestation without its certificate, so the CIP-level policy sees no
//     extension at all.
//
// So only GitHub identities in the legacy format can be pinned. Seal's
// provenance cannot stand in: it is what the signer says, and the
// signer is who is in question.
func (p *prepared) pinSource(engine Engine) error {
	if p.Identity == nil || p.Identity.Source == nil {
		return nil
	}
	src := p.Identity.Source
	if src.CI == identity.CIGitHub && p.Format == oci.Legacy {
		return nil
	}
	var reads string
	switch {
	case engine == Kyverno && p.Format == oci.Bundle:
		reads = "kyverno's SigstoreBundle verifier (--format bundle) checks only a certificate's issuer and subject: it ignores keyless.additionalExtensions, and its attestation conditions see no certificate field"
	case engine == Kyverno:
		reads = "kyverno's Cosign verifier (--format legacy) reads only GitHub's workflow extensions (keyless.additionalExtensions), which a GitLab certificate does not have"
	case p.Format == oci.Bundle:
		reads = "policy-controller v0.13.1 and v0.15.1 (--format bundle) check only a bundle's certificate issuer and subject, and hands its policies none of the certificate's extensions"
	default:
		reads = "policy-controller (--format legacy) hands its policies only GitHub's workflow extensions, which a GitLab certificate does not have"
	}
	// `seal verify` takes the same identity flags.
	verify := "seal verify --github-repo " + src.Repository
	if src.CI == identity.CIGitLab {
		verify = "seal verify --gitlab-project " + src.Repository
	}
	if host := strings.TrimPrefix(strings.TrimSuffix(src.RepositoryURI, "/"+src.Repository), "https://"); host != "github.com" && host != "gitlab.com" {
		verify += " --" + src.CI + "-host " + host
	}
	var why, instead string
	if src.CI == identity.CIGitHub {
		why = "the subject names the workflow file that ran, and any repository can call a workflow of " + src.Repository +
			" that is `on: workflow_call` and get a certificate with this subject; only the Source Repository URI extension names the repository that ran"
		instead = "use --format legacy, where " + string(engine) + " checks GitHub's workflow-repository extension (Seal publishes both formats by default), or check images with `" + verify + "`"
	} else {
		why = "the subject names the CI configuration file, and any project can take a file of " + src.Repository +
			" as its CI configuration and get a certificate with this subject; only the Source Repository URI extension names the project that ran"
		instead = "check images with `" + verify + "` before they are deployed: no " + string(engine) + " policy can check this in either format"
	}
	return fmt.Errorf("%s cannot tell signatures of %s from another repository's in the %s format: %s; %s (the provenance the signer attests is its own claim, not evidence). Instead, %s",
		engine, src.RepositoryURI, p.Format, reads, why, instead)
}

// needProvenance refuses a preset requirement the engine cannot check in
// the certificate when no provenance is attested to check it in instead.
// What is left to the provenance comes from a run of the repository the
// certificate names (pinSource), so only that repository's own runs can
// claim it falsely.
func (p *prepared) needProvenance(engine Engine) error {
	if p.Identity == nil || p.Identity.Source == nil || p.provenance {
		return nil
	}
	src := p.Identity.Source
	var why []string
	if src.RefProtected {
		why = append(why, "no certificate field says whether the ref is protected")
	}
	if src.RunnerEnvironment != "" {
		why = append(why, string(engine)+" cannot read the certificate's Runner Environment extension")
	}
	if len(why) == 0 {
		return nil
	}
	if p.NoSignature {
		// The summary is the promotion job's, whose own runner and ref the
		// policy would have to check; the engines can read neither.
		return fmt.Errorf("%s cannot check this of the promotion job that attested the verification summary, and no provenance is attested with a summary: %s; drop --hosted-runners-only and --protected-ref-only", engine, strings.Join(why, "; "))
	}
	return fmt.Errorf("this identity needs --attestation slsaprovenance, so that the policy checks it in Seal's provenance: %s", strings.Join(why, "; "))
}

// pinExtensions refuses a preset requirement on a certificate extension
// that engine cannot read and the provenance cannot stand in for. Of a
// certificate the engines read, beyond issuer and subject, only GitHub's
// workflow extensions (pinSource): the repository and ref are checked
// there, the refused triggers in the workflow-trigger extension, and the
// runner in the provenance (needProvenance). The numeric repository and
// owner ids (Source Repository Identifier and Owner Identifier) are in no
// extension an engine reads, and the provenance cannot stand in for them:
// they tell a repository from another one re-created under its name,
// whose runs attest what they like.
func (p *prepared) pinExtensions(engine Engine) error {
	if p.Identity == nil || p.Identity.Source == nil {
		return nil
	}
	rest := p.Identity.Extensions
	rest.SourceRepositoryURI, rest.SourceRepositoryRef, rest.RunnerEnvironment = "", "", ""
	if rest == (certificate.Extensions{}) {
		return nil
	}
	src := p.Identity.Source
	flags, verify := "--github-repo-id and --github-owner-id", "seal verify --github-repo "+src.Repository
	if src.CI == identity.CIGitLab {
		flags, verify = "--gitlab-project-id and --gitlab-namespace-id", "seal verify --gitlab-project "+src.Repository
	}
	if ids := rest.SourceRepositoryIdentifier != "" || rest.SourceRepositoryOwnerIdentifier != ""; ids {
		rest.SourceRepositoryIdentifier, rest.SourceRepositoryOwnerIdentifier = "", ""
		if rest == (certificate.Extensions{}) {
			return fmt.Errorf("%s cannot check the numeric repository and owner ids (%s): of a certificate's extensions it reads only GitHub's workflow extensions (trigger, sha, name, repository, ref), not Source Repository Identifier (1.3.6.1.4.1.57264.1.15) or Source Repository Owner Identifier (1.3.6.1.4.1.57264.1.17); the provenance cannot stand in, being the claim of whoever signed, and a repository re-created under the name signs as it likes. Drop the id flags for the policy (it then pins the repository by name) and check images with `%s` and the ids before they are deployed",
				engine, flags, verify)
		}
	}
	return fmt.Errorf("%s cannot check the certificate extensions %+v that this identity requires", engine, rest)
}
