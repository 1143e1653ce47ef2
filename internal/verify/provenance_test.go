package verify

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/sigstore/sigstore-go/pkg/fulcio/certificate"

	"github.com/sealsign/seal/internal/predicate"
)

// The provenance Seal writes for a GitLab job on main, and the certificate
// Fulcio issues to the same job (testbed's claims).
const gitlabProvenance = `{
  "buildDefinition": {
    "buildType": "https://github.com/sealsign/seal/blob/main/docs/buildtypes/gitlab-ci/v1.md",
    "externalParameters": {
      "configSource": {"digest": {"gitCommit": "8d3e"}, "path": ".gitlab-ci.yml", "uri": "https://gitlab.com/acme-group/checkout//.gitlab-ci.yml@refs/heads/main"},
      "entryPoint": "sign", "pipelineSource": "push", "ref": "refs/heads/main", "source": "https://gitlab.com/acme-group/checkout"
    },
    "internalParameters": {
      "gitlab": {"job_id": "8800000001", "namespace_id": "4455667", "namespace_path": "acme-group", "project_id": "7788990",
        "project_visibility": "public", "ref_protected": "true", "ref_type": "branch", "runner_environment": "gitlab-hosted"},
      "job": "8800000001"
    },
    "resolvedDependencies": [{"digest": {"gitCommit": "8d3e"}, "uri": "git+https://gitlab.com/acme-group/checkout@refs/heads/main"}]
  },
  "runDetails": {
    "builder": {"id": "https://gitlab.com/acme-group/checkout//.gitlab-ci.yml@refs/heads/main"},
    "metadata": {"invocationId": "https://gitlab.com/acme-group/checkout/-/jobs/8800000001"}
  }
}`

var gitlabCertificate = certificate.Summary{
	SubjectAlternativeName: "https://gitlab.com/acme-group/checkout//.gitlab-ci.yml@refs/heads/main",
	Extensions: certificate.Extensions{
		Issuer:                              "https://gitlab.com",
		BuildSignerURI:                      "https://gitlab.com/acme-group/checkout//.gitlab-ci.yml@refs/heads/main",
		BuildSignerDigest:                   "8d3e",
		RunnerEnvironment:                   "gitlab-hosted",
		SourceRepositoryURI:                 "https://gitlab.com/acme-group/checkout",
		SourceRepositoryDigest:              "8d3e",
		SourceRepositoryRef:                 "refs/heads/main",
		SourceRepositoryIdentifier:          "7788990",
		SourceRepositoryOwnerURI:            "https://gitlab.com/acme-group",
		SourceRepositoryOwnerIdentifier:     "4455667",
		BuildConfigURI:                      "https://gitlab.com/acme-group/checkout//.gitlab-ci.yml@refs/heads/main",
		BuildConfigDigest:                   "8d3e",
		BuildTrigger:                        "push",
		RunInvocationURI:                    "https://gitlab.com/acme-group/checkout/-/jobs/8800000001",
		SourceRepositoryVisibilityAtSigning: "public",
	},
}

// set returns doc with the field at a dotted path replaced.
func set(t *testing.T, doc, path string, v any) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(doc), &m); err != nil {
		t.Fatal(err)
	}
	var cur any = m
	parts := strings.Split(path, ".")
	for i, p := range parts {
		switch c := cur.(type) {
		case map[string]any:
			if i == len(parts)-1 {
				c[p] = v
			} else {
				cur = c[p]
			}
		case []any:
			cur = c[0]
		}
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestCrossCheck: every provenance field the certificate also carries must
// agree with it.
func TestCrossCheck(t *testing.T) {
	pf, err := ProvenanceFacts(predicate.SLSAProvenanceV1, []byte(gitlabProvenance))
	if err != nil {
		t.Fatal(err)
	}
	if err := crossCheck(pf, &gitlabCertificate); err != nil {
		t.Fatalf("honest provenance: %v", err)
	}
	bd, id := "buildDefinition.", "buildDefinition.internalParameters.gitlab."
	for _, tc := range []struct {
		path string
		v    any
		want string
	}{
		{bd + "resolvedDependencies.0.uri", "git+https://gitlab.com/acme-group/checkout@refs/heads/other", "source ref"},
		{bd + "resolvedDependencies.0.digest.gitCommit", "ffff", "commit"},
		{bd + "externalParameters.ref", "refs/heads/other", "source ref"},
		{bd + "externalParameters.source", "https://gitlab.com/acme-group/other", "source repository"},
		{bd + "externalParameters.configSource.uri", "https://gitlab.com/acme-group/checkout//x.yml@refs/heads/main", "build config"},
		{bd + "externalParameters.pipelineSource", "schedule", "trigger"},
		{"runDetails.builder.id", "https://gitlab.com/x/y//.gitlab-ci.yml@refs/heads/main", "builder"},
		{"runDetails.metadata.invocationId", "https://gitlab.com/acme-group/checkout/-/jobs/1", "invocation"},
		{id + "runner_environment", "self-hosted", "runner environment"},
		{id + "project_id", "1", "repository id"},
		{id + "project_id", 1, "repository id"}, // a number is read as written
		{id + "namespace_id", "1", "owner id"},
		{id + "namespace_path", "other", "owner"},
		{id + "project_visibility", "private", "visibility"},
		{id + "ref_type", "tag", "ref type"},
		{id + "job_id", "1", "job"},
		{bd + "internalParameters.job", "1", "job"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			pf, err := ProvenanceFacts(predicate.SLSAProvenanceV1, set(t, gitlabProvenance, tc.path, tc.v))
			if err != nil {
				t.Fatal(err)
			}
			err = crossCheck(pf, &gitlabCertificate)
			if err == nil || !strings.Contains(err.Error(), "provenance names "+tc.want+" ") {
				t.Fatalf("crossCheck() = %v, want a refusal naming %s", err, tc.want)
			}
		})
	}
	t.Run("an object where another buildType has one", func(t *testing.T) {
		pf, err := ProvenanceFacts(predicate.SLSAProvenanceV1, set(t, gitlabProvenance, bd+"externalParameters.source", map[string]any{"repository": "https://x.example/y"}))
		if err != nil {
			t.Fatal(err)
		}
		if err := crossCheck(pf, &gitlabCertificate); err != nil {
			t.Fatalf("crossCheck() = %v, want the object ignored", err)
		}
	})
}

// TestProtectedRef: --protected-ref-only needs the provenance to say the
// ref was protected and to name it; the ref is held to the certificate.
func TestProtectedRef(t *testing.T) {
	c := &checker{p: Policy{Provenance: &ProvenanceCheck{ProtectedRef: true}}}
	statement := func(pred []byte) []byte {
		return []byte(`{"_type":"https://in-toto.io/Statement/v1","subject":[{"digest":{"sha256":"` + strings.TrimPrefix(testDigest, "sha256:") + `"}}],"predicateType":"` + predicate.SLSAProvenanceV1 + `","predicate":` + string(pred) + `}`)
	}
	feature := gitlabCertificate
	feature.SourceRepositoryRef = "refs/heads/feature-x"
	noRef := set(t, string(set(t, gitlabProvenance, "buildDefinition.resolvedDependencies.0.uri", "git+https://gitlab.com/acme-group/checkout")), "buildDefinition.externalParameters.ref", nil)
	for _, tc := range []struct {
		name string
		pred []byte
		cert *certificate.Summary
		want string
	}{
		{"protected main, signed on main", []byte(gitlabProvenance), &gitlabCertificate, ""},
		{"protected main, signed on feature-x", []byte(gitlabProvenance), &feature, `source ref "refs/heads/main"`},
		{"not protected", set(t, gitlabProvenance, "buildDefinition.internalParameters.gitlab.ref_protected", "false"), &gitlabCertificate, "does not show a protected ref"},
		{"protected, no ref named", noRef, &feature, "names no ref"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &Finding{Kind: "attestation", Statement: statement(tc.pred), Certificate: tc.cert}
			err := c.statement(f, digestBytes(t))
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("statement() = %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("statement() = %v, want %q", err, tc.want)
			}
		})
	}
}
