package provenance

import (
	"errors"
	"strings"

	slsa02 "github.com/in-toto/attestation/go/predicates/provenance/v02"
	slsa1 "github.com/in-toto/attestation/go/predicates/provenance/v1"

	"github.com/sealsign/seal/internal/ci"
)

// github follows actions/attest field for field, then adds what the
// buildType's community spec defines and GitHub omits (inputs, timestamps).
func github(md *ci.Metadata) (*build, error) {
	if md.Repository == "" {
		return nil, errors.New("GitHub provenance needs the repository (GITHUB_REPOSITORY or the token's repository claim)")
	}
	repoURL := md.ServerURL + "/" + md.Repository
	b := &build{
		buildType: BuildTypeGitHub,
		external: params{}.set("workflow", params{}.
			set("ref", md.Ref).
			set("repository", repoURL).
			set("path", md.ConfigPath)).
			set("inputs", md.Inputs),
		internal: params{}.set("github", params{}.
			set("event_name", md.Event).
			set("repository_id", md.RepositoryID).
			set("repository_owner_id", md.OwnerID).
			set("runner_environment", md.RunnerEnvironment)),
		deps:         sourceDep("git+"+repoURL+"@"+md.Ref, md.Commit),
		invocationID: md.RunURL,
		configURI:    "git+" + repoURL + "@" + md.Ref,
		configDigest: md.ConfigSHA,
		entryPoint:   md.ConfigPath,
	}
	if md.BuilderRef != "" {
		b.builderID = md.ServerURL + "/" + md.BuilderRef
	}
	return b, nil
}

// gitlab is Seal's GitLab CI buildType (docs/buildtypes/gitlab-ci/v1.md),
// aligned with GitLab runner's own provenance where the two overlap
// (source, entryPoint, internalParameters name/executor/architecture/job).
func gitlab(md *ci.Metadata) (*build, error) {
	if md.Repository == "" {
		return nil, errors.New("GitLab provenance needs the project (CI_PROJECT_PATH or the token's project_path claim)")
	}
	repoURL := md.ServerURL + "/" + md.Repository
	cfg := params{}.set("path", md.ConfigPath)
	if md.ConfigRef != "" {
		cfg.set("uri", "https://"+md.ConfigRef)
	}
	if md.ConfigSHA != "" {
		cfg.set("digest", map[string]any{"gitCommit": md.ConfigSHA})
	}
	b := &build{
		buildType: BuildTypeGitLab,
		external: params{}.
			set("source", repoURL).
			set("ref", md.Ref).
			set("entryPoint", md.JobName).
			set("configSource", cfg).
			set("pipelineSource", md.Event).
			set("variableNames", strings2any(md.VariableNames)),
		internal: params{}.
			set("name", md.RunnerName).
			set("executor", md.Executor).
			set("architecture", md.RunnerArch).
			set("job", md.JobID).
			set("gitlab", params{}.
				set("project_id", md.RepositoryID).
				set("namespace_id", md.OwnerID).
				set("namespace_path", md.Owner).
				set("project_visibility", md.Visibility).
				set("ref_type", md.RefType).
				set("ref_protected", md.RefProtected).
				set("pipeline_id", md.RunID).
				set("pipeline_url", md.RunURL).
				set("job_id", md.JobID).
				set("runner_id", md.RunnerID).
				set("runner_environment", md.RunnerEnvironment).
				set("environment", md.Environment).
				set("config_bound", boolString(md.Bound && md.ConfigSHA != ""))),
		deps:         sourceDep("git+"+repoURL+"@"+md.Ref, md.Commit),
		invocationID: md.JobURL,
		configURI:    "git+" + repoURL + "@" + md.Ref,
		configDigest: md.ConfigSHA,
		entryPoint:   md.JobName,
	}
	if md.BuilderRef != "" {
		b.builderID = "https://" + md.BuilderRef
	}
	if md.RunnerVersion != "" {
		b.builderVersion = map[string]string{"gitlab-runner": md.RunnerVersion}
	}
	return b, nil
}

func boolString(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

// local is Seal's buildType for builds outside CI
// (docs/buildtypes/local/v1.md): it records the checkout as found and
// claims nothing about who built it.
func local(md *ci.Metadata) (*build, error) {
	src := params{}.
		set("repository", md.RepositoryURL).
		set("ref", md.Ref).
		set("commit", md.Commit)
	if md.Dirty {
		src.set("dirty", true)
	}
	if md.Commit == "" {
		// Not a git checkout: say so, since SLSA requires some parameter.
		src.set("vcs", "none")
	}
	b := &build{
		buildType: BuildTypeLocal,
		external:  params{}.set("source", src),
		internal:  params{}.set("os", md.RunnerOS).set("arch", md.RunnerArch),
		builderID: LocalBuilderID,
	}
	if md.RepositoryURL != "" {
		uri := "git+" + md.RepositoryURL
		if md.Ref != "" {
			uri += "@" + md.Ref
		}
		b.deps = sourceDep(uri, md.Commit)
		b.configURI = uri
	}
	return b, nil
}

// toV02 maps a v1 predicate to v0.2 the way the SLSA migration notes do:
// external parameters become invocation.parameters, internal ones
// invocation.environment, resolved dependencies materials.
func toV02(p *slsa1.Provenance, b *build) *slsa02.Provenance {
	bd, rd := p.GetBuildDefinition(), p.GetRunDetails()
	out := &slsa02.Provenance{
		Builder:   &slsa02.Builder{Id: rd.GetBuilder().GetId()},
		BuildType: bd.GetBuildType(),
		Invocation: &slsa02.Invocation{
			Parameters:  bd.GetExternalParameters(),
			Environment: bd.GetInternalParameters(),
		},
		Metadata: &slsa02.Metadata{
			BuildInvocationId: rd.GetMetadata().GetInvocationId(),
			BuildStartedOn:    rd.GetMetadata().GetStartedOn(),
			BuildFinishedOn:   rd.GetMetadata().GetFinishedOn(),
		},
	}
	if b.configURI != "" {
		cs := &slsa02.ConfigSource{Uri: b.configURI, EntryPoint: b.entryPoint}
		if b.configDigest != "" {
			cs.Digest = map[string]string{"sha1": b.configDigest}
		}
		out.Invocation.ConfigSource = cs
	}
	for _, d := range bd.GetResolvedDependencies() {
		m := &slsa02.Material{Uri: d.GetUri(), Digest: map[string]string{}}
		for k, v := range d.GetDigest() {
			if k == "gitCommit" {
				k = "sha1" // v0.2 predates gitCommit
			}
			m.Digest[k] = v
		}
		out.Materials = append(out.Materials, m)
	}
	if strings.TrimSpace(out.Builder.Id) == "" {
		out.Builder = nil
	}
	return out
}
