package policy

import (
	"encoding/json"
	"fmt"
	"github.com/sealsign/seal/internal/identity"
	"strings"
)

// Build types of the provenance Seal writes (package provenance), which
// fix where the provenance names the source repository and ref.
const (
	BuildTypeGitHub = "https://actions.github.io/buildtypes/workflow/v1"
	BuildTypeGitLab = "https://github.com/sealsign/seal/blob/main/docs/buildtypes/gitlab-ci/v1.md"
)

// check is one requirement on the SLSA v1 provenance predicate Seal
// writes: the field at path equals value, or matches pat.
type check struct {
	path  []string
	value string
	pat   identity.Pattern
	// what the requirement means, for messages.
	what string
}

// provenanceChecks are what a preset identity requires of the provenance:
// the buildType (which fixes where the other fields are), the source
// repository, the ref, the builder (Seal writes the signing identity as
// runDetails.builder.id), and the runner and ref protection when asked.
// A raw identity says nothing about the build, so it has none.
func (p *prepared) provenanceChecks() []check {
	if !p.provenance || p.Identity == nil || p.Identity.Source == nil {
		return nil
	}
	src := p.Identity.Source
	bd := func(path ...string) []string { return append([]string{"buildDefinition"}, path...) }
	var cs []check
	switch src.CI {
	case identity.CIGitHub:
		cs = append(cs,
			check{path: bd("buildType"), value: BuildTypeGitHub, what: "built by GitHub Actions"},
			check{path: bd("externalParameters", "workflow", "repository"), value: src.RepositoryURI, what: "built from " + src.RepositoryURI},
		)
		if src.Ref != "" {
			cs = append(cs, check{path: bd("externalParameters", "workflow", "ref"), pat: src.RefPattern(), what: "built from ref " + src.Ref})
		}
		if src.RunnerEnvironment != "" {
			cs = append(cs, check{path: bd("internalParameters", "github", "runner_environment"), value: src.RunnerEnvironment, what: "built on a " + src.RunnerEnvironment + " runner"})
		}
	case identity.CIGitLab:
		cs = append(cs,
			check{path: bd("buildType"), value: BuildTypeGitLab, what: "built by GitLab CI"},
			check{path: bd("externalParameters", "source"), value: src.RepositoryURI, what: "built from " + src.RepositoryURI},
		)
		if src.Ref != "" {
			cs = append(cs, check{path: bd("externalParameters", "ref"), pat: src.RefPattern(), what: "built from ref " + src.Ref})
		}
		if src.RunnerEnvironment != "" {
			cs = append(cs, check{path: bd("internalParameters", "gitlab", "runner_environment"), value: src.RunnerEnvironment, what: "built on a " + src.RunnerEnvironment + " runner"})
		}
		if src.RefProtected {
			cs = append(cs, check{path: bd("internalParameters", "gitlab", "ref_protected"), value: "true", what: "built from a protected ref"})
		}
	default:
		return nil
	}
	cs = append(cs, check{path: []string{"runDetails", "builder", "id"}, pat: src.Builder(), what: "built by " + src.Builder().Glob()})
	return cs
}

// rego is the provenance checks as a policy-controller Rego policy over
// the in-toto statement: package sigstore, rule isCompliant, Rego v0
// syntax, as cosign evaluates it. An absent field leaves the rule
// undefined, which the default makes false.
func regoPolicy(predicateType string, cs []check) string {
	var b strings.Builder
	b.WriteString("package sigstore\n\ndefault isCompliant = false\n\nisCompliant {\n")
	fmt.Fprintf(&b, "  input.predicateType == %s\n", regoString(predicateType))
	for _, c := range cs {
		field := "input.predicate." + strings.Join(c.path, ".")
		if v, ok := c.pat.Literal(); ok || c.pat == nil {
			if c.pat == nil {
				v = c.value
			}
			fmt.Fprintf(&b, "  %s == %s\n", field, regoString(v))
		} else {
			fmt.Fprintf(&b, "  regex.match(%s, %s)\n", regoString(c.pat.Regexp()), field)
		}
	}
	b.WriteString("}\n")
	return b.String()
}

// regoString quotes s as a Rego string, whose syntax is JSON's.
func regoString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
