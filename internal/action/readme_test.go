package action

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sealsign/seal/internal/testbed"
)

// The third-party actions the README's workflow uses, as it pins them.
const (
	loginActionPin = "docker/login-action@74a5d142397b4f367a81961eba4e8cd7edddf772"
	buildActionPin = "docker/build-push-action@263435318d21b8e681c14492fe198d362a7d2c83"
	sbomActionPin  = "anchore/sbom-action@17ae1740179002c89186b61233e0f892c3118b11"
)

// TestReadmeWorkflow runs the GitHub Actions workflow of the README as users copy it, with act
// (as TestActWorkflow does), and checks with cosign v3 that the image it built is signed and
// carries its provenance and SBOM, and that GitHub's attestations received both.
//
// What the test changes, and nothing else:
//   - sealsign/seal@<commit-sha> names a commit that act takes from the checkout itself
//     (--local-repository), as GitHub would fetch that commit of Seal;
//   - ghcr.io is the testbed's registry;
//   - the job's `artifact-metadata: write` permission is left out: act v0.2.89's workflow schema
//     does not know it yet ("Unknown Property artifact-metadata") and refuses the workflow;
//     GitHub knows it, and actionlint v1.7.10 and later check it (.ci/packaging.sh);
//   - lines appended after the snippet's last input (Seal's step's last) give Seal this
//     testbed's Sigstore (its Fulcio and timestamp authority, no transparency log) and its
//     plain-HTTP registry, where the workflow as written uses the public instance;
//   - act runs the third-party actions as stand-ins, offline: docker/login-action checks its
//     inputs, docker/build-push-action outputs the digest of the image the test pushed under
//     the tag it names (read from the registry), anchore/sbom-action writes an SPDX SBOM.
//
// The job's permissions are the snippet's; act does not enforce them, so they are checked
// here against what the steps need (id-token: write for keyless signing, packages: write for
// ghcr.io, attestations: write for GitHub's attestations, artifact-metadata: write for the
// storage record, whose request the test checks as the snippet makes it).
func TestReadmeWorkflow(t *testing.T) {
	snippet := testbed.DocSnippet(t, filepath.Join(repoRoot(t), "README.md"), "github-actions")
	for _, want := range []string{"      id-token: write", "      packages: write", "      attestations: write", "      artifact-metadata: write", "  - uses: sealsign/seal@<commit-sha>\n"} {
		if !strings.Contains(snippet, want) {
			t.Errorf("the README's workflow does not have %q", strings.TrimSpace(want))
		}
	}
	lines := strings.Split(strings.TrimRight(snippet, "\n"), "\n")
	last := lines[len(lines)-1]
	indent := last[:len(last)-len(strings.TrimLeft(last, " "))]
	if len(indent) < 10 || !strings.Contains(snippet, "with:\n"+indent) {
		t.Fatalf("the README workflow's last line %q is not an input of the last step: the test cannot add the testbed's inputs after it", last)
	}

	// The checkout's commit cannot be named in a workflow it contains: <commit-sha> becomes a
	// commit id that act maps to the checkout.
	const sealPin = "sealsign/seal@" + "5ea15ea15ea15ea15ea15ea15ea15ea15ea15ea1"
	j := newActJob(t, ".github/workflows/release.yml", "release", func(j *actJob) []byte {
		workflow := strings.ReplaceAll(snippet, "sealsign/seal@<commit-sha>", sealPin)
		workflow = artifactMetadataPermission.ReplaceAllString(workflow, "")
		workflow = strings.ReplaceAll(workflow, "ghcr.io", j.reg.Host)
		return []byte(workflow + indent + "# Added by the test: the testbed's Sigstore and registry.\n" +
			indent + "fulcio-url: " + j.ful.URL + "\n" +
			indent + "timestamp-url: " + j.tsa.TimestampURL() + "\n" +
			indent + "tlog: 'false'\n" +
			indent + "insecure-registry: " + j.reg.Host + "\n")
	})
	j.localRepos[sealPin] = j.dir

	digest := pushImage(t, j.reg, actRepository, "latest")
	image := j.reg.Repo(actRepository) + "@" + digest
	j.localRepos[loginActionPin] = standInAction(t, loginStandIn(j.reg.Host), nil)
	j.localRepos[buildActionPin] = standInAction(t, buildStandIn, nil)
	j.localRepos[sbomActionPin] = standInAction(t, sbomStandIn(image), map[string]string{"sbom.spdx.json": spdxSBOM})

	log := j.run(t, nil)
	checkNoSecrets(t, "act log", log, j.idToken, j.requestToken, j.githubToken)
	if len(j.api.bundles) != 2 {
		t.Errorf("stored %d attestations in GitHub, want 2 (provenance, SBOM)", len(j.api.bundles))
	}
	// The storage record, on by default: the organisation of the repository, the job's token.
	wantRecord := []metadataRequest{{"/orgs/" + strings.Split(actRepository, "/")[0] + "/artifacts/metadata/storage-record", "Bearer " + j.githubToken, "2022-11-28", map[string]any{
		"name": j.reg.Repo(actRepository), "digest": digest, "registry_url": "http://" + j.reg.Host,
		"repository": actRepository, "status": "active",
	}}}
	if diff := cmp.Diff(wantRecord, j.api.records); diff != "" {
		t.Errorf("artifact metadata requests (-want +got):\n%s", diff)
	}

	identity := "https://github.com/" + j.claim("workflow_ref")
	keyless := []string{"--certificate-identity", identity, "--certificate-oidc-issuer", j.iss.GitHub,
		"--trusted-root", j.trustedRoot, "--insecure-ignore-tlog=true", "--insecure-ignore-sct=true"}
	cosign3 := testbed.Bin(t, testbed.BinCosignV3)
	env := []string{"TUF_ROOT=" + t.TempDir()}
	runCmd(t, env, cosign3, append([]string{"verify", image}, keyless...)...)
	for _, typ := range []string{"slsaprovenance1", "spdxjson"} {
		runCmd(t, env, cosign3, append([]string{"verify-attestation", "--type", typ, image}, keyless...)...)
	}
}

// artifactMetadataPermission is the permission line act v0.2.89 refuses.
var artifactMetadataPermission = regexp.MustCompile(`(?m)^ *artifact-metadata: write.*\n`)

// standInAction writes a composite action (action.yml) and its files into a new directory,
// for act to run instead of a remote action.
func standInAction(t *testing.T, action string, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	all := map[string]string{"action.yml": action}
	for name, content := range files {
		all[name] = content
	}
	for name, content := range all {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func loginStandIn(registry string) string {
	return `name: docker/login-action stand-in
description: Checks the inputs; the testbed's registry needs no login.
inputs:
  registry: {description: registry}
  username: {description: user}
  password: {description: token}
runs:
  using: composite
  steps:
    - shell: bash
      env:
        REGISTRY: ${{ inputs.registry }}
        USERNAME: ${{ inputs.username }}
        PASSWORD: ${{ inputs.password }}
      run: |
        test "$REGISTRY" = "` + registry + `" || { echo "::error::registry $REGISTRY"; exit 1; }
        test -n "$USERNAME" && test -n "$PASSWORD" || { echo "::error::no credentials"; exit 1; }
`
}

// buildStandIn outputs, as docker/build-push-action does, the digest of the image it pushed
// under tags: the test pushed it there, and the stand-in reads it back from the registry.
const buildStandIn = `name: docker/build-push-action stand-in
description: Outputs the digest of the image under tags.
inputs:
  push: {description: push}
  tags: {description: tags}
outputs:
  digest:
    description: digest
    value: ${{ steps.push.outputs.digest }}
runs:
  using: composite
  steps:
    - id: push
      shell: bash
      env:
        PUSH: ${{ inputs.push }}
        TAGS: ${{ inputs.tags }}
      run: |
        test "$PUSH" = true || { echo "::error::push is $PUSH"; exit 1; }
        ref=$(printf '%s\n' "$TAGS" | head -n 1); name=${ref%:*}; tag=${ref##*:}
        digest=$(curl -fsS --head -H 'Accept: application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json' \
          "http://${name%%/*}/v2/${name#*/}/manifests/$tag" | tr -d '\r' | sed -n 's/^[Dd]ocker-[Cc]ontent-[Dd]igest: //p')
        test -n "$digest" || { echo "::error::no image $ref"; exit 1; }
        echo "digest=$digest" >> "$GITHUB_OUTPUT"
`

func sbomStandIn(image string) string {
	return `name: anchore/sbom-action stand-in
description: Writes an SPDX SBOM of the image.
inputs:
  image: {description: image}
  format: {description: format}
  output-file: {description: file}
runs:
  using: composite
  steps:
    - shell: bash
      env:
        IMAGE: ${{ inputs.image }}
        FORMAT: ${{ inputs.format }}
        OUTPUT_FILE: ${{ inputs.output-file }}
      run: |
        test "$IMAGE" = "` + image + `" || { echo "::error::image $IMAGE"; exit 1; }
        test "$FORMAT" = spdx-json || { echo "::error::format $FORMAT"; exit 1; }
        cp "$GITHUB_ACTION_PATH/sbom.spdx.json" "$OUTPUT_FILE"
`
}
