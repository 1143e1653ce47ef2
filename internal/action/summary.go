package action

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/sigstore/sigstore-go/pkg/fulcio/certificate"

	"github.com/sealsign/seal/internal/identity"
	"github.com/sealsign/seal/internal/oci"
	"github.com/sealsign/seal/internal/predicate"
	"github.com/sealsign/seal/internal/publish"
)

// TrustedRootPlaceholder stands in the verify commands for the trusted root of a private
// Sigstore instance, which the verifier must be given.
const TrustedRootPlaceholder = "trusted_root.json"

// Commands are shell commands that verify what a step wrote.
type Commands struct {
	// Seal is `seal verify` for the image (one command).
	Seal []string
	// Cosign are cosign v3 commands: `cosign verify` for the signature, one
	// `cosign verify-attestation` per predicate type, or `cosign verify-blob-attestation` per
	// bundle file.
	Cosign []string
	// CosignLegacy are the same image commands with --new-bundle-format=false, which check
	// cosign's .sig/.att tags when the image also has bundles: cosign v2.5 and later check
	// the bundles then, unless told not to.
	CosignLegacy []string
}

// VerifyCommands returns the commands that verify r, pinned to its signer: the keyless
// identity of the certificate or the public key matching the signing key (written as
// cosign.pub).
//
// A keyless signer is pinned by the repository the job ran for, not only by the certificate's
// subject: a reusable GitHub workflow has the same subject in every repository that calls it,
// and so has a GitLab CI configuration file run by another project's pipeline. `seal verify`
// gets the CI preset (--github-repo or --gitlab-project, with the workflow and the ref), which
// checks the certificate's Source Repository URI; cosign gets the subject and, for GitHub, the
// caller's repository and ref in the extensions it can check. cosign has no flag for GitLab's:
// the summary says so.
func (r *Result) VerifyCommands() Commands {
	if r.Verb == "verify" || (r.Identity == nil && r.Key == "") {
		return Commands{}
	}
	var trust, sealTrust []string
	if r.Identity != nil {
		trust = append(trust, "--certificate-identity", r.Identity.Subject, "--certificate-oidc-issuer", r.Identity.Issuer)
		if repo := r.Identity.GitHubWorkflowRepository; repo != "" {
			trust = append(trust, "--certificate-github-workflow-repository", repo)
			if ref := r.Identity.GitHubWorkflowRef; ref != "" {
				trust = append(trust, "--certificate-github-workflow-ref", ref)
			}
		}
		if sealTrust = r.Identity.preset(); sealTrust == nil {
			sealTrust = []string{"--certificate-identity", r.Identity.Subject, "--certificate-oidc-issuer", r.Identity.Issuer}
		}
	} else {
		trust = []string{"--key", "cosign.pub"}
		sealTrust = []string{"--key", "cosign.pub"}
	}
	if r.CustomSigstore {
		trust = append(trust, "--trusted-root", TrustedRootPlaceholder)
		sealTrust = append(sealTrust, "--trusted-root", TrustedRootPlaceholder)
	}
	var cosignExtra []string
	if !r.Tlog {
		cosignExtra = append(cosignExtra, "--insecure-ignore-tlog=true")
	}
	if r.Identity != nil && !r.Identity.SCT {
		cosignExtra = append(cosignExtra, "--insecure-ignore-sct=true")
	}
	var c Commands
	types := r.predicateTypes()
	if r.Image != "" && len(r.Items) > 0 {
		args := []string{"seal", "verify", r.Image}
		args = append(args, sealTrust...)
		if !r.Tlog && r.Identity != nil {
			args = append(args, "--no-tlog")
		}
		if !r.signed() {
			args = append(args, "--no-signature")
		}
		for _, t := range types {
			args = append(args, "--attestation", cosignType(t))
		}
		if r.hasPlatforms() {
			args = append(args, "--recursive")
		}
		c.Seal = append(c.Seal, shellJoin(args))
		both := r.hasFormat(oci.Bundle) && r.hasFormat(oci.Legacy)
		add := func(cmd ...string) {
			c.Cosign = append(c.Cosign, shellJoin(slices.Concat(cmd, trust, cosignExtra)))
			if both {
				legacy := slices.Insert(slices.Clone(cmd), 2, "--new-bundle-format=false")
				c.CosignLegacy = append(c.CosignLegacy, shellJoin(slices.Concat(legacy, trust, cosignExtra)))
			}
		}
		if r.signed() {
			add("cosign", "verify", r.Image)
		}
		for _, t := range types {
			add("cosign", "verify-attestation", "--type", cosignType(t), r.Image)
		}
	}
	for _, f := range r.Files {
		subject := []string{f.Subject}
		if r.Image != "" {
			// An image attested without pushing: the bundle's statement names its digest.
			alg, hex, _ := strings.Cut(r.Digest(), ":")
			subject = []string{"--digest", hex, "--digestAlg", alg}
		}
		c.Cosign = append(c.Cosign, shellJoin(slices.Concat([]string{"cosign", "verify-blob-attestation", "--bundle", f.Bundle, "--new-bundle-format", "--type", cosignType(f.PredicateType)}, trust, cosignExtra, subject)))
	}
	return c
}

// preset returns the `seal verify` flags that pin id by the repository its job ran for (the
// certificate's Source Repository URI), the workflow and the ref (identity.FromCertificate);
// nil when the certificate is not one Fulcio issued to a GitHub or GitLab job, or does not name
// the repository.
func (id *Identity) preset() []string {
	p, ok := identity.FromCertificate(certificate.Summary{SubjectAlternativeName: id.Subject, Extensions: certificate.Extensions{
		Issuer: id.Issuer, SourceRepositoryURI: id.Repository, SourceRepositoryRef: id.SourceRef,
		GithubWorkflowRepository: id.GitHubWorkflowRepository, GithubWorkflowRef: id.GitHubWorkflowRef,
	}})
	if !ok {
		return nil
	}
	var args []string
	if g := p.GitHub; g != nil {
		args = []string{"--github-repo", g.Repo}
		if g.Host != "" {
			args = append(args, "--github-host", g.Host)
		}
		args = append(args, "--github-workflow", g.Workflow)
		if g.Ref != "" {
			args = append(args, "--ref", g.Ref)
		}
	} else {
		g := p.GitLab
		args = []string{"--gitlab-project", g.Project}
		if g.Host != "" {
			args = append(args, "--gitlab-host", g.Host)
		}
		args = append(args, "--ref", g.Ref)
	}
	if p.Issuer != "" {
		args = append(args, "--certificate-oidc-issuer", p.Issuer)
	}
	return args
}

// cosignPinsSource reports whether cosign's flags pin the repository the job ran for (or the
// certificate names none): for GitHub through the caller's repository extension; GitLab's
// has no cosign flag.
func (id *Identity) cosignPinsSource() bool {
	return id.GitHubWorkflowRepository != "" || id.Repository == ""
}

func (r *Result) signed() bool {
	return slices.ContainsFunc(r.Items, func(it publish.Item) bool { return it.Kind == "signature" })
}

// hasFormat reports whether something was written in format (bundle or legacy).
func (r *Result) hasFormat(format oci.Format) bool {
	return slices.ContainsFunc(r.Items, func(it publish.Item) bool { return it.Format == format })
}

func (r *Result) hasPlatforms() bool {
	return slices.ContainsFunc(r.Items, func(it publish.Item) bool { return it.Platform != "" })
}

// predicateTypes lists the attested predicate types, in the order first written.
func (r *Result) predicateTypes() []string {
	var ts []string
	add := func(t string) {
		if t != "" && !slices.Contains(ts, t) {
			ts = append(ts, t)
		}
	}
	for _, it := range r.Items {
		if it.Kind == "attestation" {
			add(it.PredicateType)
		}
	}
	for _, f := range r.Files {
		add(f.PredicateType)
	}
	return ts
}

// cosignType is the short name `cosign verify-attestation --type` and `seal verify
// --attestation` take for a predicate type, or the type itself.
func cosignType(t string) string {
	switch t {
	case predicate.SLSAProvenanceV1:
		return "slsaprovenance1"
	case predicate.SLSAProvenanceV02:
		return "slsaprovenance"
	case predicate.SPDX:
		return "spdxjson"
	case predicate.CycloneDX:
		return "cyclonedx"
	case predicate.Vuln:
		return "vuln"
	}
	return t
}

// shellJoin quotes what a POSIX shell would split or expand.
func shellJoin(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, " \t\n'\"\\$`!*?[]{}()<>|&;#~") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		out[i] = a
	}
	return strings.Join(out, " ")
}

// Summary renders r as the Markdown of a job summary: what was signed, attested or verified,
// where it was written, by whom, and how to verify it.
func (r *Result) Summary() string {
	var b strings.Builder
	switch {
	case r.Verb == "verify":
		fmt.Fprintf(&b, "## Seal: verified `%s`\n\n", r.Image)
		if len(r.Findings) > 0 {
			b.WriteString("| Subject | Kind | Format | Signer |\n| --- | --- | --- | --- |\n")
			for _, f := range r.Findings {
				kind := f.Kind
				if f.PredicateType != "" {
					kind += " `" + f.PredicateType + "`"
				}
				fmt.Fprintf(&b, "| `%s` | %s | %s | `%s` |\n", short(f.Subject), kind, f.Format, f.Signer)
			}
			b.WriteString("\n")
		}
		for _, d := range r.DeploymentRecords {
			fmt.Fprintf(&b, "Recorded in GitHub's artifact metadata as deployed to `%s`: `%s` (deployment record %s)\n\n", d.Environment, d.Image, idList(d.IDs))
		}
		return b.String()
	case r.Image != "":
		fmt.Fprintf(&b, "## Seal: %s `%s`\n\n", r.done(), r.Image)
	default:
		fmt.Fprintf(&b, "## Seal: %s %d file attestation(s)\n\n", r.done(), len(r.Files))
	}
	if r.Tag != "" {
		fmt.Fprintf(&b, "The tag `%s` was resolved to this digest once; only the digest was signed.\n\n", r.Tag)
	}
	if len(r.Items) > 0 {
		// One row per subject and document, its formats side by side.
		type row struct{ subject, platform, kind string }
		var rows []row
		where := map[row][]string{}
		for _, it := range r.Items {
			k := row{short(it.Subject), it.Platform, it.Kind}
			if it.Kind == "attestation" {
				k.kind += " `" + it.PredicateType + "`"
			}
			if _, ok := where[k]; !ok {
				rows = append(rows, k)
			}
			w := it.Format.String() + ": `" + it.Ref + "`"
			if it.Existed {
				w += " (already there)"
			}
			where[k] = append(where[k], w)
		}
		b.WriteString("| Subject | Platform | Document | Written to |\n| --- | --- | --- | --- |\n")
		for _, k := range rows {
			fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", k.subject, k.platform, k.kind, strings.Join(where[k], "<br>"))
		}
		b.WriteString("\n")
	}
	if len(r.Files) > 0 {
		b.WriteString("| Subject | Predicate type | Bundle |\n| --- | --- | --- |\n")
		for _, f := range r.Files {
			fmt.Fprintf(&b, "| `%s` | `%s` | `%s` |\n", f.Subject, f.PredicateType, filepath.Base(f.Bundle))
		}
		b.WriteString("\n")
	}
	switch {
	case r.Identity != nil:
		fmt.Fprintf(&b, "Signed keyless as `%s` (OIDC issuer `%s`).", r.Identity.Subject, r.Identity.Issuer)
	case r.KeyFromInput:
		b.WriteString("Signed with the key given in the `key` input.")
	case r.Key != "":
		fmt.Fprintf(&b, "Signed with the key `%s`.", r.Key)
	}
	if !r.Tlog {
		b.WriteString(" Not recorded in a transparency log.")
	}
	b.WriteString("\n\n")
	for _, s := range r.Stored {
		fmt.Fprintf(&b, "Stored in GitHub's attestations: [%s](%s)\n\n", s.PredicateType, s.URL)
	}
	for _, s := range r.StorageRecords {
		fmt.Fprintf(&b, "Recorded in GitHub's artifact metadata (storage record %s): `%s`\n\n", idList(s.IDs), s.Image)
	}
	c := r.VerifyCommands()
	if len(c.Seal) > 0 || len(c.Cosign) > 0 {
		b.WriteString("### Verify\n\n")
		if r.Key != "" && r.Identity == nil {
			b.WriteString("`cosign.pub` is the public key of the signing key.\n")
		}
		if r.CustomSigstore {
			fmt.Fprintf(&b, "`%s` is the trusted root of the Sigstore instance that signed.\n", TrustedRootPlaceholder)
		}
		if len(c.Seal) > 0 {
			b.WriteString("\n```sh\n" + strings.Join(c.Seal, "\n") + "\n```\n")
		}
		if len(c.Cosign) > 0 {
			b.WriteString("\nor with cosign:\n\n```sh\n" + strings.Join(c.Cosign, "\n") + "\n```\n")
			if len(c.CosignLegacy) > 0 {
				b.WriteString("\ncosign v2.5 and later (v3 included) check the Sigstore bundles when an image has them, as this one does: they then take the Sigstore instance's trusted root from `--trusted-root` (for the public instance, from its TUF repository, online) and refuse `--ca-roots` and `--certificate-chain`. To check cosign's `.sig`/`.att` tags instead, which cosign before 2.5, Kyverno's `Cosign` type and policy-controller read:\n\n```sh\n" + strings.Join(c.CosignLegacy, "\n") + "\n```\n")
			}
			if r.Identity != nil && !r.Identity.cosignPinsSource() {
				fmt.Fprintf(&b, "\ncosign's check pins only the certificate's identity, the CI configuration file or workflow that ran (`%s`), not the repository the job ran for (`%s`): another project's pipeline can run the same file, and cosign has no flag for the certificate's Source Repository URI. `seal verify` above checks both.\n", r.Identity.Subject, r.Identity.Repository)
			}
		}
	}
	return b.String()
}

// idList is a record's ids for the summary.
func idList(ids []int64) string {
	if len(ids) == 0 {
		return "without an id"
	}
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = fmt.Sprintf("`%d`", id)
	}
	return strings.Join(s, ", ")
}

func (r *Result) done() string {
	signed, attested := r.signed(), len(r.predicateTypes()) > 0
	switch {
	case signed && attested:
		return "signed and attested"
	case signed:
		return "signed"
	default:
		return "attested"
	}
}

// short abbreviates a repository@digest to its last path element and 12 hex digits, which
// is enough to tell subjects apart in a table.
func short(ref string) string {
	name, dig, ok := strings.Cut(ref, "@")
	if !ok {
		return ref
	}
	if i := strings.LastIndex(name, "/"); i >= 0 {
		name = name[i+1:]
	}
	if len(dig) > len("sha256:")+12 {
		dig = dig[:len("sha256:")+12]
	}
	return name + "@" + dig
}
