package action

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/spf13/pflag"

	"github.com/sealsign/seal/internal/cli/options"
)

// TestPlan pins what a step's inputs become: the options of the verb it runs, shown as the
// command that does the same.
func TestPlan(t *testing.T) {
	dig := "sha256:" + strings.Repeat("4c", 32)
	img := "ghcr.io/acme/app@" + dig
	for _, tc := range []struct {
		name    string
		step    string
		inputs  map[string]string
		env     map[string]string
		require bool
		want    string
		offline bool
		err     string
	}{{
		name:   "all, keyless, with SBOM",
		step:   "all",
		inputs: map[string]string{"IMAGE": "ghcr.io/acme/app:1.0", "DIGEST": dig, "SBOM": "sbom.spdx.json", "OUTPUT_DIR": "/tmp/o"},
		want:   "seal attest --provenance --predicate sbom.spdx.json --sign --output-dir /tmp/o " + img,
	}, {
		name:   "all, signing and provenance turned off",
		step:   "all",
		inputs: map[string]string{"IMAGE": img, "SIGN": "false", "PROVENANCE": "false", "SBOM": "bom.json", "SBOM_TYPE": "cyclonedx"},
		want:   "seal attest --predicate bom.json --type cyclonedx --output-dir seal " + img,
	}, {
		name: "sign with a key, recursive, private Sigstore",
		step: "sign",
		inputs: map[string]string{"IMAGE": img, "KEY": "env://COSIGN_PRIVATE_KEY", "RECURSIVE": "true", "FORMAT": "legacy", "TLOG": "false", "TIMESTAMP": "false",
			"FULCIO_URL": "https://fulcio.internal", "REKOR_URL": "https://rekor.internal", "REKOR_VERSION": "1", "INSECURE_REGISTRY": "localhost:5000", "AUDIENCE": "other"},
		want: "seal sign --format legacy --recursive --output-dir seal --insecure-registry localhost:5000 --key env://COSIGN_PRIVATE_KEY" +
			" --fulcio-url https://fulcio.internal --rekor-url https://rekor.internal --rekor-version 1 --no-tlog --no-timestamp --audience other " + img,
	}, {
		name:   "a key given as the input's value is read from the input's variable",
		step:   "sign",
		inputs: map[string]string{"IMAGE": img, "KEY": "-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\nPLANTED\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n"},
		want:   "seal sign --output-dir seal --key env://INPUT_KEY " + img,
	}, {
		name:   "a base64 key as input",
		step:   "all",
		inputs: map[string]string{"IMAGE": img, "KEY": "LS0tLS1CRUdJTiBFTkNSWVBURUQgU0lHU1RPUkUgUFJJVkFURSBLRVktLS0tLQo="},
		want:   "seal attest --provenance --sign --output-dir seal --key env://INPUT_KEY " + img,
	}, {
		name:   "verify with a public key PEM as input",
		step:   "verify",
		inputs: map[string]string{"IMAGE": img, "KEY": "-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----"},
		want:   "seal verify --key env://INPUT_KEY " + img,
	}, {
		name:   "promote with a key, the checks this repository's CI",
		step:   "promote",
		inputs: map[string]string{"IMAGE": img, "KEY": "env://PROMOTION_KEY", "REF": "main", "ATTESTATIONS": "slsaprovenance1", "SIGN": "true"},
		env:    map[string]string{"GITHUB_ACTIONS": "true", "GITHUB_REPOSITORY": "acme/app"},
		want:   "seal promote --key env://PROMOTION_KEY --output-dir seal --sign --github-repo acme/app --ref main --attestation slsaprovenance1 " + img,
	}, {
		name:   "promote keyless, a key-signed image",
		step:   "promote",
		inputs: map[string]string{"IMAGE": img, "VERIFY_KEY": "cosign.pub", "VERIFY_TLOG": "false", "FORMAT": "legacy"},
		want:   "seal promote --format legacy --output-dir seal --verify-key cosign.pub --verify-no-tlog " + img,
	}, {
		name:   "promote files",
		step:   "promote",
		inputs: map[string]string{"SUBJECT_PATH": "dist/*"},
		err:    "input image is required: the image to promote",
	}, {
		name:   "all with promotion needs a promotion key",
		step:   "all",
		inputs: map[string]string{"IMAGE": img, "PROMOTE": "true"},
		err:    "input promote needs promotion-key",
	}, {
		name:   "attest files",
		step:   "provenance",
		inputs: map[string]string{"SUBJECT_PATH": "dist/*.tar.gz\ndist/*.zip", "SLSA_VERSION": "0.2", "TLOG": "true", "FORMAT": "not checked for files"},
		want:   "seal attest --provenance --slsa-version 0.2 --subject-path dist/*.tar.gz --subject-path dist/*.zip --output-dir seal --tlog",
	}, {
		name:   "attest the files of a checksums file",
		step:   "attest",
		inputs: map[string]string{"SUBJECT_CHECKSUMS": "dist/checksums.txt", "PROVENANCE": "true", "CREATE_STORAGE_RECORD": "true"},
		want:   "seal attest --provenance --subject-checksums dist/checksums.txt --output-dir seal",
	}, {
		name:   "an image and a checksums file",
		step:   "attest",
		inputs: map[string]string{"IMAGE": img, "SUBJECT_CHECKSUMS": "checksums.txt", "PROVENANCE": "true"},
		err:    "give the image input or subject-path/subject-checksums, not both",
	}, {
		name:   "create-storage-record is auto, true or false",
		step:   "all",
		inputs: map[string]string{"IMAGE": img, "CREATE_STORAGE_RECORD": "yes"},
		err:    `input create-storage-record: "yes" is not one of auto, true, false`,
	}, {
		name: "verify, then record the deployment",
		step: "verify",
		inputs: map[string]string{"IMAGE": img, "KEY": "cosign.pub", "GITHUB_DEPLOYMENT_RECORD": "production",
			"GITHUB_PHYSICAL_ENVIRONMENT": "eu-west-1", "GITHUB_CLUSTER": "prod-1", "GITHUB_DEPLOYMENT_NAME": "web"},
		want: "seal verify --key cosign.pub --github-deployment-record production --github-physical-environment eu-west-1 --github-cluster prod-1 --github-deployment-name web " + img,
	}, {
		name:    "attest without pushing",
		step:    "attest",
		inputs:  map[string]string{"IMAGE": img, "PUSH_TO_REGISTRY": "false", "PROVENANCE": "true", "RECURSIVE": "true"},
		want:    "seal attest --provenance --no-upload --output-dir seal " + img,
		offline: true,
	}, {
		name:   "attest without pushing needs a digest",
		step:   "attest",
		inputs: map[string]string{"IMAGE": "ghcr.io/acme/app:1.0", "PUSH_TO_REGISTRY": "false", "PROVENANCE": "true"},
		err:    "give the image by digest",
	}, {
		name:   "sign without pushing signs nothing",
		step:   "sign",
		inputs: map[string]string{"IMAGE": img, "PUSH_TO_REGISTRY": "false"},
		err:    "nothing to sign",
	}, {
		name:   "predicates with types in order",
		step:   "attest",
		inputs: map[string]string{"IMAGE": img, "PREDICATE": "trivy.json\nvex.json", "PREDICATE_TYPE": "vuln, openvex"},
		want:   "seal attest --predicate trivy.json --predicate vex.json --type vuln --type openvex --output-dir seal " + img,
	}, {
		name:   "a detected type after a given one",
		step:   "attest",
		inputs: map[string]string{"IMAGE": img, "SBOM": "sbom.json", "SBOM_TYPE": "spdx", "PREDICATE": "trivy.json"},
		want:   "seal attest --predicate sbom.json --predicate trivy.json --type spdx --output-dir seal " + img,
	}, {
		name:   "a detected type before a given one",
		step:   "attest",
		inputs: map[string]string{"IMAGE": img, "SBOM": "sbom.json", "PREDICATE": "trivy.json", "PREDICATE_TYPE": "vuln"},
		err:    "predicate 1 has no type",
	}, {
		name:   "more types than predicates",
		step:   "attest",
		inputs: map[string]string{"IMAGE": img, "PREDICATE": "a.json", "PREDICATE_TYPE": "vuln,spdx"},
		err:    "2 predicate-type entries for 1 predicate files",
	}, {
		name:   "nothing to attest",
		step:   "attest",
		inputs: map[string]string{"IMAGE": img},
		err:    "nothing to attest",
	}, {
		name:   "no image",
		step:   "sign",
		inputs: map[string]string{},
		err:    "input image is required",
	}, {
		name:    "GitLab requires a digest",
		step:    "sign",
		inputs:  map[string]string{"IMAGE": "registry.gitlab.com/g/p:1.0"},
		require: true,
		err:     "is not pinned by digest",
	}, {
		name:   "both image and files",
		step:   "attest",
		inputs: map[string]string{"IMAGE": img, "SUBJECT_PATH": "dist/*"},
		err:    "not both",
	}, {
		name:   "a malformed format",
		step:   "sign",
		inputs: map[string]string{"IMAGE": img, "FORMAT": "sigstore"},
		err:    "input format",
	}, {
		name:   "a malformed rekor-version",
		step:   "sign",
		inputs: map[string]string{"IMAGE": img, "REKOR_VERSION": "v2"},
		err:    "input rekor-version",
	}, {
		name:   "verify in GitHub defaults to this repository",
		step:   "verify",
		inputs: map[string]string{"IMAGE": img, "ATTESTATIONS": "slsaprovenance1,spdx", "SIGNATURE": "false", "TLOG": "false"},
		env:    map[string]string{"GITHUB_ACTIONS": "true", "GITHUB_REPOSITORY": "acme/app"},
		want:   "seal verify --github-repo acme/app --attestation slsaprovenance1 --attestation spdx --no-signature --no-tlog " + img,
	}, {
		name:   "verify on GitHub Enterprise Server defaults to this repository on this server",
		step:   "verify",
		inputs: map[string]string{"IMAGE": img},
		env:    map[string]string{"GITHUB_ACTIONS": "true", "GITHUB_REPOSITORY": "acme/app", "GITHUB_SERVER_URL": "https://github.example.com"},
		want:   "seal verify --github-repo acme/app --github-host github.example.com " + img,
	}, {
		name:   "verify on github.com names no host",
		step:   "verify",
		inputs: map[string]string{"IMAGE": img},
		env:    map[string]string{"GITHUB_ACTIONS": "true", "GITHUB_REPOSITORY": "acme/app", "GITHUB_SERVER_URL": "https://github.com"},
		want:   "seal verify --github-repo acme/app " + img,
	}, {
		name:   "a named repository is github.com's unless the inputs say otherwise",
		step:   "verify",
		inputs: map[string]string{"IMAGE": img, "GITHUB_REPO": "other/app"},
		env:    map[string]string{"GITHUB_ACTIONS": "true", "GITHUB_REPOSITORY": "acme/app", "GITHUB_SERVER_URL": "https://github.example.com"},
		want:   "seal verify --github-repo other/app " + img,
	}, {
		name:   "sign with GitHub's own Sigstore instance",
		step:   "sign",
		inputs: map[string]string{"IMAGE": img, "SIGSTORE": "github"},
		want:   "seal sign --output-dir seal --sigstore github " + img,
	}, {
		name: "verify with the provenance and runner checks",
		step: "verify",
		inputs: map[string]string{"IMAGE": img, "GITLAB_PROJECT": "g/p", "REF": "refs/heads/main", "PROTECTED_REF_ONLY": "true", "HOSTED_RUNNERS_ONLY": "true",
			"BUILDER_ID": "https://gitlab.com/g/p//.gitlab-ci.yml@refs/heads/main", "SOURCE_REPO": "https://gitlab.com/g/p", "SOURCE_REF": "refs/heads/main"},
		want: "seal verify --gitlab-project g/p --ref refs/heads/main --hosted-runners-only --protected-ref-only" +
			" --source-repo https://gitlab.com/g/p --source-ref refs/heads/main --builder-id https://gitlab.com/g/p//.gitlab-ci.yml@refs/heads/main " + img,
	}, {
		name: "verify on a verification summary alone, with seal policy's summary checks",
		step: "verify",
		inputs: map[string]string{"IMAGE": img, "KEY": "promote.pub", "ATTESTATIONS": "vsa", "SIGNATURE": "false",
			"VSA_VERIFIER": "https://verifier.example.com", "VSA_LEVEL": "SLSA_BUILD_LEVEL_2", "VSA_POLICY_DIGEST": "sha256:" + strings.Repeat("ab", 32)},
		want: "seal verify --key promote.pub --attestation vsa --vsa-verifier https://verifier.example.com --vsa-level SLSA_BUILD_LEVEL_2" +
			" --vsa-policy-digest sha256:" + strings.Repeat("ab", 32) + " --no-signature " + img,
	}, {
		name:   "verify with a malformed boolean",
		step:   "verify",
		inputs: map[string]string{"IMAGE": img, "GITHUB_REPO": "acme/app", "HOSTED_RUNNERS_ONLY": "yes please"},
		err:    "hosted-runners-only",
	}, {
		name:   "verify in GitLab defaults to this project",
		step:   "verify",
		inputs: map[string]string{"IMAGE": img, "CERTIFICATE_OIDC_ISSUER": "https://gitlab.example.com"},
		env:    map[string]string{"GITLAB_CI": "true", "CI_PROJECT_PATH": "g/p", "CI_SERVER_HOST": "gitlab.example.com"},
		want:   "seal verify --gitlab-project g/p --gitlab-host gitlab.example.com --certificate-oidc-issuer https://gitlab.example.com " + img,
	}, {
		name:   "verify with a key",
		step:   "verify",
		inputs: map[string]string{"IMAGE": img, "KEY": "env://COSIGN_PUBLIC_KEY", "RECURSIVE": "true"},
		env:    map[string]string{"GITHUB_ACTIONS": "true", "GITHUB_REPOSITORY": "acme/app"},
		want:   "seal verify --key env://COSIGN_PUBLIC_KEY --recursive " + img,
	}, {
		name:   "verify outside CI needs a signer",
		step:   "verify",
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
			p, err := NewPlan(tc.step, NewInputs(getenv), getenv, tc.require)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) || !errors.Is(err, ErrInput) {
					t.Fatalf("NewPlan() error = %v, want an input error with %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("NewPlan() = %v", err)
			}
			got := p.Command()
			if got != tc.want {
				t.Errorf("Command() =\n%s\nwant\n%s", got, tc.want)
			}
			if offline := p.Attest != nil && p.Attest.NoUpload; offline != tc.offline {
				t.Errorf("NoUpload = %v, want %v", offline, tc.offline)
			}
			checkCommandRuns(t, p, got)
		})
	}
}

// checkCommandRuns parses the command shown with the verb's own flags and checks that it
// gives the options the step runs with.
func checkCommandRuns(t *testing.T, p *Plan, command string) {
	t.Helper()
	args := strings.Fields(command)[2:]
	if p.Image != "" {
		if args[len(args)-1] != p.Image {
			t.Fatalf("command %q does not end with the image %s", command, p.Image)
		}
		args = args[:len(args)-1]
	}
	parse := func(o interface{ AddFlags(*pflag.FlagSet) }) {
		fs := pflag.NewFlagSet("step", pflag.ContinueOnError)
		o.AddFlags(fs)
		if err := fs.Parse(args); err != nil {
			t.Fatalf("parsing %q: %v", command, err)
		}
	}
	var diff string
	switch {
	case p.Sign != nil:
		o := &options.Publish{}
		parse(o)
		diff = cmp.Diff(p.Sign, o)
	case p.Attest != nil:
		o := &options.Attest{}
		parse(o)
		diff = cmp.Diff(p.Attest, o)
	case p.Verify != nil:
		o := &options.Verify{}
		parse(o)
		diff = cmp.Diff(p.Verify, o)
	case p.Promote != nil:
		o := &options.Promote{}
		parse(o)
		diff = cmp.Diff(p.Promote, o)
	}
	if diff != "" {
		t.Errorf("the command shown is not what the step runs (-planned +shown):\n%s", diff)
	}
}

// TestPlanKeyMaterial checks that a key given as the input's value is masked line by line and
// reaches neither the options nor the command shown.
// TestPlanInline checks a predicate and checksums given as the inputs' values, as
// actions/attest takes them: written to files in output-dir for the verb, which reads them there.
func TestPlanInline(t *testing.T) {
	sums := strings.Repeat("ab", 32) + "  app.tar.gz\n" + strings.Repeat("cd", 32) + " *app.zip"
	pred := `{"buildType": "x",
  "notes": "several lines"}`
	in := NewInputs(func(k string) string {
		return map[string]string{"INPUT_SUBJECT_CHECKSUMS": sums, "INPUT_PREDICATE": pred, "INPUT_PREDICATE_TYPE": "https://example.com/p/v1", "INPUT_OUTPUT_DIR": "/o"}[k]
	})
	p, err := NewPlan("attest", in, func(string) string { return "" }, false)
	if err != nil {
		t.Fatalf("NewPlan() = %v", err)
	}
	want := []InlineFile{{"/o/subject-checksums.txt", sums + "\n"}, {"/o/predicate.json", pred + "\n"}}
	if diff := cmp.Diff(want, p.Inline); diff != "" {
		t.Errorf("Inline (-want +got):\n%s", diff)
	}
	if got, want := p.Command(), "seal attest --predicate /o/predicate.json --type https://example.com/p/v1 --subject-checksums /o/subject-checksums.txt --output-dir /o"; got != want {
		t.Errorf("Command() = %q, want %q", got, want)
	}
	for v, want := range map[string]bool{
		sums: true, "SHA256 (a b) = " + strings.Repeat("ab", 32): true, `\` + strings.Repeat("ab", 32) + `  a\\b`: true,
		"dist/checksums.txt": false, "checksums.txt\nmore.txt": false, strings.Repeat("zz", 32) + "  x": false, "": false,
	} {
		if got := InlineChecksums(v); got != want {
			t.Errorf("InlineChecksums(%q) = %v, want %v", v, got, want)
		}
	}
}

// TestPlanGitHubServerURL: a GITHUB_SERVER_URL that names no host is refused rather than
// read as github.com.
func TestPlanGitHubServerURL(t *testing.T) {
	for _, u := range []string{"github.example.com", "http://github.example.com", "https://github.example.com/api/v3"} {
		env := map[string]string{"INPUT_IMAGE": "ghcr.io/acme/app@sha256:" + strings.Repeat("4c", 32),
			"GITHUB_ACTIONS": "true", "GITHUB_REPOSITORY": "acme/app", "GITHUB_SERVER_URL": u}
		getenv := func(k string) string { return env[k] }
		_, err := NewPlan("verify", NewInputs(getenv), getenv, false)
		if err == nil || !strings.Contains(err.Error(), "GITHUB_SERVER_URL") {
			t.Errorf("GITHUB_SERVER_URL=%s: NewPlan() = %v, want it refused", u, err)
		}
	}
}

func TestPlanKeyMaterial(t *testing.T) {
	key := "-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\nPLANTEDline1PLANTEDline1\nshort\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n"
	env := map[string]string{"INPUT_IMAGE": "ghcr.io/acme/app@sha256:" + strings.Repeat("ab", 32), "INPUT_KEY": key}
	getenv := func(k string) string { return env[k] }
	p, err := NewPlan("all", NewInputs(getenv), getenv, false)
	if err != nil {
		t.Fatalf("NewPlan() = %v", err)
	}
	if diff := cmp.Diff([]string{"PLANTEDline1PLANTEDline1", strings.TrimSpace(key)}, p.Secrets()); diff != "" {
		t.Errorf("Secrets() (-want +got):\n%s", diff)
	}
	if p.Key() != "env://INPUT_KEY" || p.Attest.Key != "env://INPUT_KEY" {
		t.Errorf("Key() = %q, options key %q: want env://INPUT_KEY", p.Key(), p.Attest.Key)
	}
	if c := p.Command(); strings.Contains(c, "PLANTED") {
		t.Errorf("Command() shows the key: %s", c)
	}
}

// TestPlanPromotionKey: the all step's promotion reads its key from promotion-key, masked
// like the signing key, and checks this repository's CI.
func TestPlanPromotionKey(t *testing.T) {
	key := "-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\nPROMOTIONline1PROMOTION\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n"
	// act also sets the input under its dashed name, which env:// cannot read.
	env := map[string]string{"INPUT_IMAGE": "ghcr.io/acme/app@sha256:" + strings.Repeat("ab", 32), "INPUT_PROMOTE": "true", "INPUT_PROMOTION_KEY": key, "INPUT_PROMOTION-KEY": key,
		"INPUT_PROMOTION_SIGN": "true", "GITHUB_ACTIONS": "true", "GITHUB_REPOSITORY": "acme/app"}
	getenv := func(k string) string { return env[k] }
	p, err := NewPlan("all", NewInputs(getenv), getenv, false)
	if err != nil {
		t.Fatalf("NewPlan() = %v", err)
	}
	if q, err := NewPlan("promote", NewInputs(getenv), getenv, false); err != nil || q.GitHubAttestations != "auto" {
		t.Errorf("the promote step's github-attestations = %q, %v; want auto (keyless summaries only, a refusal a warning)", q.GitHubAttestations, err)
	}
	if p.Promote == nil || p.Promote.Key != "env://INPUT_PROMOTION_KEY" || !p.Promote.Sign || p.Promote.Verify.GitHubRepo != "acme/app" || p.Attest.Key != "" {
		t.Fatalf("the all step's promotion: %+v, want the promotion key by reference, --sign, and this repository's checks", p.Promote)
	}
	if diff := cmp.Diff([]string{"PROMOTIONline1PROMOTION", strings.TrimSpace(key)}, p.Secrets()); diff != "" {
		t.Errorf("Secrets() (-want +got):\n%s", diff)
	}
}

// TestRedactedCommand checks what the step's log shows of a command line.
func TestRedactedCommand(t *testing.T) {
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
		if got := redactedCommand(tc.args); got != tc.want {
			t.Errorf("redactedCommand(%q) = %q, want %q", tc.args, got, tc.want)
		}
	}
}

// TestPlanGitHubToken checks which token stores attestations: the input, else the job's.
func TestPlanGitHubToken(t *testing.T) {
	img := "ghcr.io/acme/app@sha256:" + strings.Repeat("ab", 32)
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"INPUT_GITHUB_TOKEN": "from-input", "GITHUB_TOKEN": "from-job"}, "from-input"},
		{map[string]string{"GITHUB_TOKEN": "from-job"}, "from-job"},
	} {
		tc.env["INPUT_IMAGE"] = img
		getenv := func(k string) string { return tc.env[k] }
		p, err := NewPlan("all", NewInputs(getenv), getenv, false)
		if err != nil {
			t.Fatalf("NewPlan() = %v", err)
		}
		if p.GitHubToken != tc.want {
			t.Errorf("GitHubToken = %q, want %q", p.GitHubToken, tc.want)
		}
		if strings.Contains(p.Command(), tc.want) {
			t.Errorf("Command() shows the token: %s", p.Command())
		}
	}
}

// TestPlanTimeout: the timeout input bounds the step and reaches the verb's options; a value
// that is no duration is an input error.
func TestPlanTimeout(t *testing.T) {
	img := "ghcr.io/acme/app@sha256:" + strings.Repeat("4c", 32)
	for _, tc := range []struct {
		step, input string
		want        time.Duration
	}{{"sign", "", 3 * time.Minute}, {"attest", "90s", 90 * time.Second}, {"verify", "0", 0}} {
		env := map[string]string{"INPUT_IMAGE": img, "INPUT_TIMEOUT": tc.input, "INPUT_PROVENANCE": "true", "INPUT_KEY": "cosign.pub"}
		getenv := func(k string) string { return env[k] }
		p, err := NewPlan(tc.step, NewInputs(getenv), getenv, false)
		if err != nil {
			t.Fatalf("%s with timeout %q: NewPlan() = %v", tc.step, tc.input, err)
		}
		var got time.Duration
		switch {
		case p.Sign != nil:
			got = p.Sign.Timeout.Timeout
		case p.Attest != nil:
			got = p.Attest.Timeout.Timeout
		case p.Verify != nil:
			got = p.Verify.Timeout.Timeout
		}
		if got != tc.want || p.Timeout != tc.want {
			t.Errorf("%s with timeout %q: the verb's timeout %v, the step's %v; want %v", tc.step, tc.input, got, p.Timeout, tc.want)
		}
	}
	env := map[string]string{"INPUT_IMAGE": img, "INPUT_TIMEOUT": "soon"}
	getenv := func(k string) string { return env[k] }
	if _, err := NewPlan("sign", NewInputs(getenv), getenv, false); !errors.Is(err, ErrInput) || !strings.Contains(err.Error(), `input timeout: "soon" is not a duration`) {
		t.Errorf("timeout soon: NewPlan() = %v, want an input error", err)
	}
}
