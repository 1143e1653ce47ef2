package cli

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sealsign/seal/internal/action"
)

// TestPlanAction pins how a step's inputs become the command line of the verb it runs.
func TestPlanAction(t *testing.T) {
	dig := "sha256:" + strings.Repeat("4c", 32)
	img := "ghcr.io/acme/app@" + dig
	for _, tc := range []struct {
		name    string
		verb    string
		inputs  map[string]string
		env     map[string]string
		require bool
		want    []string
		offline bool
		err     string
	}{{
		name:   "all, keyless, with SBOM",
		verb:   "all",
		inputs: map[string]string{"IMAGE": "ghcr.io/acme/app:1.0", "DIGEST": dig, "SBOM": "sbom.spdx.json", "OUTPUT_DIR": "/tmp/o"},
		want:   []string{"attest", "--sign", "--provenance", "--predicate", "sbom.spdx.json", "--format", "both", "--output-dir", "/tmp/o", "--json", img},
	}, {
		name:   "all, signing and provenance turned off",
		verb:   "all",
		inputs: map[string]string{"IMAGE": img, "SIGN": "false", "PROVENANCE": "false", "SBOM": "bom.json", "SBOM_TYPE": "cyclonedx"},
		want:   []string{"attest", "--predicate", "bom.json", "--type", "cyclonedx", "--format", "both", "--output-dir", "seal", "--json", img},
	}, {
		name: "sign with a key, recursive, private Sigstore",
		verb: "sign",
		inputs: map[string]string{"IMAGE": img, "KEY": "env://COSIGN_PRIVATE_KEY", "RECURSIVE": "true", "FORMAT": "legacy", "TLOG": "false", "TIMESTAMP": "false",
			"FULCIO_URL": "https://fulcio.internal", "REKOR_URL": "https://rekor.internal", "REKOR_VERSION": "1", "INSECURE_REGISTRY": "localhost:5000", "AUDIENCE": "sigstore"},
		want: []string{"sign", "--format", "legacy", "--recursive", "--insecure-registry", "localhost:5000",
			"--key", "env://COSIGN_PRIVATE_KEY", "--fulcio-url", "https://fulcio.internal", "--rekor-url", "https://rekor.internal", "--rekor-version", "1", "--no-tlog", "--no-timestamp", "--audience", "sigstore", "--output-dir", "seal", "--json", img},
	}, {
		name:   "a key given as the input's value is read from the input's variable",
		verb:   "sign",
		inputs: map[string]string{"IMAGE": img, "KEY": "-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\nPLANTED\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n"},
		want:   []string{"sign", "--format", "both", "--key", "env://INPUT_KEY", "--output-dir", "seal", "--json", img},
	}, {
		name:   "a base64 key as input",
		verb:   "all",
		inputs: map[string]string{"IMAGE": img, "KEY": "LS0tLS1CRUdJTiBFTkNSWVBURUQgU0lHU1RPUkUgUFJJVkFURSBLRVktLS0tLQo="},
		want:   []string{"attest", "--sign", "--provenance", "--format", "both", "--key", "env://INPUT_KEY", "--output-dir", "seal", "--json", img},
	}, {
		name:   "verify with a public key PEM as input",
		verb:   "verify",
		inputs: map[string]string{"IMAGE": img, "KEY": "-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----"},
		want:   []string{"verify", img, "--json", "--key", "env://INPUT_KEY"},
	}, {
		name:   "attest files",
		verb:   "provenance",
		inputs: map[string]string{"SUBJECT_PATH": "dist/*.tar.gz\ndist/*.zip", "SLSA_VERSION": "0.2", "TLOG": "true"},
		want:   []string{"attest", "--subject-path", "dist/*.tar.gz", "--subject-path", "dist/*.zip", "--provenance", "--slsa-version", "0.2", "--tlog", "--output-dir", "seal", "--json"},
	}, {
		name:    "attest without pushing",
		verb:    "attest",
		inputs:  map[string]string{"IMAGE": img, "PUSH_TO_REGISTRY": "false", "PROVENANCE": "true"},
		want:    []string{"attest", "--provenance", "--output-dir", "seal", "--json"},
		offline: true,
	}, {
		name:    "attest without pushing needs a digest",
		verb:    "attest",
		inputs:  map[string]string{"IMAGE": "ghcr.io/acme/app:1.0", "PUSH_TO_REGISTRY": "false", "PROVENANCE": "true"},
		err:     "give the image by digest",
		offline: true,
	}, {
		name:   "predicates with types in order",
		verb:   "attest",
		inputs: map[string]string{"IMAGE": img, "PREDICATE": "trivy.json\nvex.json", "PREDICATE_TYPE": "vuln, openvex"},
		want:   []string{"attest", "--predicate", "trivy.json", "--predicate", "vex.json", "--type", "vuln", "--type", "openvex", "--format", "both", "--output-dir", "seal", "--json", img},
	}, {
		name:   "a detected type before a given one",
		verb:   "attest",
		inputs: map[string]string{"IMAGE": img, "SBOM": "sbom.json", "PREDICATE": "trivy.json", "PREDICATE_TYPE": "vuln"},
		err:    "predicate 1 has no type",
	}, {
		name:   "more types than predicates",
		verb:   "attest",
		inputs: map[string]string{"IMAGE": img, "PREDICATE": "a.json", "PREDICATE_TYPE": "vuln,spdx"},
		err:    "2 predicate-type entries for 1 predicate files",
	}, {
		name:   "nothing to attest",
		verb:   "attest",
		inputs: map[string]string{"IMAGE": img},
		err:    "nothing to attest",
	}, {
		name:   "no image",
		verb:   "sign",
		inputs: map[string]string{},
		err:    "input image is required",
	}, {
		name:    "GitLab requires a digest",
		verb:    "sign",
		inputs:  map[string]string{"IMAGE": "registry.gitlab.com/g/p:1.0"},
		require: true,
		err:     "is not pinned by digest",
	}, {
		name:   "both image and files",
		verb:   "attest",
		inputs: map[string]string{"IMAGE": img, "SUBJECT_PATH": "dist/*"},
		err:    "not both",
	}, {
		name:   "verify in GitHub defaults to this repository",
		verb:   "verify",
		inputs: map[string]string{"IMAGE": img, "ATTESTATIONS": "slsaprovenance1,spdx", "SIGNATURE": "false", "TLOG": "false"},
		env:    map[string]string{"GITHUB_ACTIONS": "true", "GITHUB_REPOSITORY": "acme/app"},
		want:   []string{"verify", img, "--json", "--github-repo", "acme/app", "--attestation", "slsaprovenance1", "--attestation", "spdx", "--no-signature", "--no-tlog"},
	}, {
		name:   "sign with GitHub's own Sigstore instance",
		verb:   "sign",
		inputs: map[string]string{"IMAGE": img, "SIGSTORE": "github"},
		want:   []string{"sign", "--format", "both", "--sigstore", "github", "--output-dir", "seal", "--json", img},
	}, {
		name: "verify with the provenance and runner checks",
		verb: "verify",
		inputs: map[string]string{"IMAGE": img, "GITLAB_PROJECT": "g/p", "REF": "refs/heads/main", "PROTECTED_REF_ONLY": "true", "HOSTED_RUNNERS_ONLY": "true",
			"BUILDER_ID": "https://gitlab.com/g/p//.gitlab-ci.yml@refs/heads/main", "SOURCE_REPO": "https://gitlab.com/g/p", "SOURCE_REF": "refs/heads/main"},
		want: []string{"verify", img, "--json", "--gitlab-project", "g/p", "--ref", "refs/heads/main", "--builder-id", "https://gitlab.com/g/p//.gitlab-ci.yml@refs/heads/main",
			"--source-repo", "https://gitlab.com/g/p", "--source-ref", "refs/heads/main", "--protected-ref-only", "--hosted-runners-only"},
	}, {
		name:   "verify with a malformed boolean",
		verb:   "verify",
		inputs: map[string]string{"IMAGE": img, "GITHUB_REPO": "acme/app", "HOSTED_RUNNERS_ONLY": "yes please"},
		err:    "hosted-runners-only",
	}, {
		name:   "verify in GitLab defaults to this project",
		verb:   "verify",
		inputs: map[string]string{"IMAGE": img, "CERTIFICATE_OIDC_ISSUER": "https://gitlab.example.com"},
		env:    map[string]string{"GITLAB_CI": "true", "CI_PROJECT_PATH": "g/p", "CI_SERVER_HOST": "gitlab.example.com"},
		want:   []string{"verify", img, "--json", "--certificate-oidc-issuer", "https://gitlab.example.com", "--gitlab-project", "g/p", "--gitlab-host", "gitlab.example.com"},
	}, {
		name:   "verify with a key",
		verb:   "verify",
		inputs: map[string]string{"IMAGE": img, "KEY": "env://COSIGN_PUBLIC_KEY", "RECURSIVE": "true"},
		env:    map[string]string{"GITHUB_ACTIONS": "true", "GITHUB_REPOSITORY": "acme/app"},
		want:   []string{"verify", img, "--json", "--key", "env://COSIGN_PUBLIC_KEY", "--recursive"},
	}, {
		name:   "verify outside CI needs a signer",
		verb:   "verify",
		inputs: map[string]string{"IMAGE": img},
		err:    "say who must have signed",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{}
			for k, v := range tc.inputs {
				env["INPUT_"+k] = v
			}
			for k, v := range tc.env {
				env[k] = v
			}
			getenv := func(k string) string { return env[k] }
			p, err := planAction(tc.verb, action.NewInputs(getenv), getenv, tc.require)
			if tc.err != "" {
				var ue *usageError
				if err == nil || !strings.Contains(err.Error(), tc.err) || !errors.As(err, &ue) {
					t.Fatalf("planAction() error = %v, want a usage error with %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("planAction() = %v", err)
			}
			if diff := cmp.Diff(tc.want, p.args); diff != "" {
				t.Errorf("args (-want +got):\n%s", diff)
			}
			if p.offline != tc.offline {
				t.Errorf("offline = %v, want %v", p.offline, tc.offline)
			}
		})
	}
}

// TestActionUnknownStep checks that the hidden verb refuses a step it does not know.
func TestActionUnknownStep(t *testing.T) {
	clearCI(t)
	_, stderr, code := run(t, "action", "publish")
	if code != 2 || !strings.Contains(stderr, `unknown step "publish"`) {
		t.Errorf("seal action publish: exit %d, stderr %q", code, stderr)
	}
}

// TestActionLoggedCommand checks what the step's log shows of the command line it runs.
func TestActionLoggedCommand(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"sign", "--key", "env://COSIGN_PRIVATE_KEY", "--fulcio-url", "https://fulcio.internal", "app@sha256:ab"},
			"seal sign --key env://COSIGN_PRIVATE_KEY --fulcio-url https://fulcio.internal app@sha256:ab"},
		{[]string{"sign", "--key", "-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\nPLANTED"}, "seal sign --key (redacted)"},
		{[]string{"sign", "--key", "LS0tLS1CRUdJTiBQUklWQVRFIEtFWS0tLS0tCg=="}, "seal sign --key (redacted)"},
		{[]string{"sign", "--rekor-url", "https://user:PLANTEDpass@rekor.internal/?token=PLANTEDtok#x"}, "seal sign --rekor-url https://redacted@rekor.internal/?redacted"},
		{[]string{"sign", "--key", "hashivault://PLANTED%zz"}, "seal sign --key (redacted)"},
	} {
		if got := loggedCommand(tc.args); got != tc.want {
			t.Errorf("loggedCommand(%q) = %q, want %q", tc.args, got, tc.want)
		}
	}
}
