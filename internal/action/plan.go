package action

import (
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/sealsign/seal/internal/cli/options"
)

// Steps are the steps `seal action` runs; "all" is the root action.yml.
var Steps = []string{"sign", "attest", "provenance", "verify", "promote", "all"}

// ErrInput is wrapped by every error about a step's inputs: the user must fix the step's
// configuration, and nothing was run.
var ErrInput = errors.New("invalid step input")

// inputError is an error about the inputs, worded for the user as it is.
type inputError struct{ err error }

func (e inputError) Error() string   { return e.err.Error() }
func (e inputError) Unwrap() []error { return []error{e.err, ErrInput} }

func inputErrorf(format string, args ...any) error {
	return inputError{fmt.Errorf(format, args...)}
}

func wrapInput(err error) error {
	if err == nil {
		return nil
	}
	return inputError{err}
}

// Plan is what a step runs, decided from its inputs alone: the options of the verb a user
// would run (seal sign, attest or verify), and what the step does around it.
type Plan struct {
	// Step is sign, attest, provenance, verify or all.
	Step string
	// Image is the image reference, "" for files.
	Image string
	// Sign, Attest and Verify are the options of the verb the step runs; exactly one is set.
	// Attest runs for the attest, provenance and all steps, and for files.
	Sign   *options.Publish
	Attest *options.Attest
	Verify *options.Verify
	// Promote is the promote step's run; with Attest, the all step's promotion after it.
	Promote *options.Promote
	// OutputDir receives bundles and reports.
	OutputDir string
	// KeyMaterial is the key input's value when it is the key itself, which the verb reads
	// by reference (env://INPUT_KEY) and the step masks; never logged.
	KeyMaterial string
	// PromotionKeyMaterial is the promotion-key input's value when it is the key itself (the
	// all step's promotion); never logged.
	PromotionKeyMaterial string
	// Tlog is the tlog input: auto, true or false.
	Tlog string
	// CustomSigstore: a private Sigstore instance signs.
	CustomSigstore bool
	// GitHubAttestations is the github-attestations input: auto, true or false.
	GitHubAttestations string
	// StorageRecord is the create-storage-record input: auto (when the step stores
	// attestations in GitHub and pushed the image), true or false.
	StorageRecord string
	// GitHubToken stores attestations and artifact metadata in GitHub: the github-token
	// input, else GITHUB_TOKEN. It is a secret: the step masks it.
	GitHubToken string
	// Inline are files the step writes before it runs: a predicate or a checksums file given as
	// the input's value, as actions/attest takes them, which the verb reads from there.
	Inline []InlineFile
	// Summary writes the job summary.
	Summary bool
	// Timeout bounds the whole step (the timeout input); the verb's options carry it too.
	Timeout time.Duration
	// Notes are warnings for the log.
	Notes []string
}

// InlineFile is an input's value the verb reads as a file.
type InlineFile struct{ Path, Content string }

// Key is the signing key reference, "" for keyless; never key material.
func (p *Plan) Key() string {
	switch {
	case p.Sign != nil:
		return p.Sign.Key
	case p.Attest != nil:
		return p.Attest.Key
	case p.Promote != nil:
		return p.Promote.Key
	}
	return ""
}

// NewPlan turns a step's inputs into what it runs. getenv reads the runner's environment,
// for the signer a verification expects by default (this repository's own CI);
// requireDigest refuses an image not pinned by digest. Errors about the inputs wrap ErrInput.
func NewPlan(step string, in Inputs, getenv func(string) string, requireDigest bool) (*Plan, error) {
	p := &Plan{Step: step}
	var err error
	if p.Image, err = in.Image(); err != nil {
		return nil, wrapInput(err)
	}
	p.OutputDir = in.String("output-dir")
	if p.OutputDir == "" {
		p.OutputDir = "seal"
	}
	paths, checksums := in.Lines("subject-path"), in.Lines("subject-checksums")
	if v := in.String("subject-checksums"); InlineChecksums(v) {
		// The checksums themselves, as actions/attest also takes them.
		f := InlineFile{Path: filepath.Join(p.OutputDir, "subject-checksums.txt"), Content: v + "\n"}
		p.Inline, checksums = append(p.Inline, f), []string{f.Path}
	}
	files := len(paths) > 0 || len(checksums) > 0
	switch {
	case p.Image != "" && files:
		return nil, inputErrorf("give the image input or subject-path/subject-checksums, not both")
	case p.Image == "" && (!files || step == "sign" || step == "verify" || step == "promote"):
		return nil, inputErrorf("input image is required: the image to %s, as NAME@sha256:HEX (or NAME with the digest input)", stepGoal(step))
	case p.Image != "" && requireDigest && !PinnedByDigest(p.Image):
		return nil, inputErrorf("input image %q is not pinned by digest: give NAME@sha256:HEX, the digest the build pushed (a tag can be moved between the build and this job)", p.Image)
	}
	if p.Summary, err = in.Bool("summary", true); err != nil {
		return nil, wrapInput(err)
	}
	recursive, err := in.Bool("recursive", false)
	if err != nil {
		return nil, wrapInput(err)
	}
	insecure := in.List("insecure-registry")
	timeout, err := in.Duration("timeout", options.DefaultTimeout)
	if err != nil {
		return nil, wrapInput(err)
	}
	p.Timeout = timeout
	if p.GitHubToken = in.String("github-token"); p.GitHubToken == "" {
		p.GitHubToken = getenv("GITHUB_TOKEN")
	}
	if step == "verify" {
		if p.Verify, err = planVerify(in, getenv, "key", "tlog"); err != nil {
			return nil, err
		}
		p.Verify.Recursive, p.Verify.Insecure, p.Verify.Timeout.Timeout = recursive, insecure, timeout
		return p, nil
	}
	if step == "promote" {
		if files {
			return nil, inputErrorf("the promote step promotes an image: subject-path and subject-checksums do not apply")
		}
		if p.Promote, err = p.planPromote(in, getenv); err != nil {
			return nil, err
		}
		p.Promote.Verify.Recursive, p.Promote.Insecure, p.Promote.Timeout.Timeout = recursive, insecure, timeout
		return p, nil
	}

	// What to write.
	sign, err := in.Bool("sign", step == "all")
	if err != nil {
		return nil, wrapInput(err)
	}
	prov, err := in.Bool("provenance", step == "all" || step == "provenance")
	if err != nil {
		return nil, wrapInput(err)
	}
	o := options.Defaults[options.Attest]()
	if step == "sign" {
		sign, prov = true, false
	} else {
		if step == "provenance" {
			prov = true
		}
		if o.Predicates, o.Types, err = p.predicates(in); err != nil {
			return nil, err
		}
		if v := in.String("slsa-version"); v != "" {
			o.SLSAVersion = v
		}
	}
	push, err := in.Bool("push-to-registry", true)
	if err != nil {
		return nil, wrapInput(err)
	}
	if err := p.planSigning(in, &o.Signing); err != nil {
		return nil, err
	}
	if p.GitHubAttestations, err = in.Choice("github-attestations", "auto", "auto", "true", "false"); err != nil {
		return nil, wrapInput(err)
	}
	if p.StorageRecord, err = in.Choice("create-storage-record", "auto", "auto", "true", "false"); err != nil {
		return nil, wrapInput(err)
	}

	switch {
	case files:
		if sign && step != "all" {
			return nil, inputErrorf("input sign applies to images: files get attestations only")
		}
		o.SubjectPaths, o.SubjectChecksums = paths, checksums
	case !push:
		if !PinnedByDigest(p.Image) {
			return nil, inputErrorf("push-to-registry is false, so the registry is not read: give the image by digest (NAME@sha256:HEX, or the digest input)")
		}
		if sign {
			p.Notes = append(p.Notes, "push-to-registry is false: the image signature is not written (it lives in the registry); attestations are written as bundle files")
		}
		o.NoUpload = true
	case step == "sign":
		p.Sign = &o.Publish
	default:
		o.Sign = sign
	}
	if p.Sign == nil {
		o.Provenance = prov
		if !prov && len(o.Predicates) == 0 && !o.Sign {
			return nil, inputErrorf("nothing to %s: set provenance: true, or give sbom or predicate", stepGoal(step))
		}
		p.Attest = o
	}
	if !files && push {
		if o.Format, err = in.Choice("format", "both", "both", "bundle", "legacy"); err != nil {
			return nil, wrapInput(err)
		}
		o.Recursive, o.Insecure = recursive, insecure
	}
	o.OutputDir = p.OutputDir
	o.Publish.Timeout.Timeout = timeout
	if step == "all" {
		promote, err := in.Bool("promote", false)
		if err != nil {
			return nil, wrapInput(err)
		}
		if promote {
			if p.Image == "" || o.NoUpload {
				return nil, inputErrorf("input promote promotes an image in its registry: give the image, with push-to-registry true")
			}
			if in.String("promotion-key") == "" {
				return nil, inputErrorf("input promote needs promotion-key: a keyless promotion in this job would sign as the build job itself, which every repository running this workflow or CI file can do")
			}
			pp := &Plan{}
			if p.Promote, err = pp.planPromote(in, getenv); err != nil {
				return nil, err
			}
			p.Promote.Signing, p.Promote.Format, p.Promote.Insecure, p.Promote.OutputDir = o.Signing, o.Format, insecure, p.OutputDir
			p.Promote.Key, p.PromotionKeyMaterial = keyRefOf(in, "promotion-key")
			if p.Promote.Sign, err = in.Bool("promotion-sign", false); err != nil {
				return nil, wrapInput(err)
			}
			p.Promote.Verify.NoTlog, p.Promote.Timeout.Timeout = o.NoTlog, timeout
		}
	}
	return p, nil
}

// planPromote is what the promote step runs: seal verify's checks (this repository's own CI
// when the inputs name nobody; verify-key for key-signed images), then the promotion signer
// (key, keyless by default) and what it writes.
func (p *Plan) planPromote(in Inputs, getenv func(string) string) (*options.Promote, error) {
	v, err := planVerify(in, getenv, "verify-key", "verify-tlog")
	if err != nil {
		return nil, err
	}
	o := options.Defaults[options.Promote]()
	o.Verify = *v
	if err := p.planSigning(in, &o.Signing); err != nil {
		return nil, err
	}
	if o.Sign, err = in.Bool("sign", false); err != nil {
		return nil, wrapInput(err)
	}
	if p.GitHubAttestations, err = in.Choice("github-attestations", "auto", "auto", "true", "false"); err != nil {
		return nil, wrapInput(err)
	}
	if p.GitHubToken = in.String("github-token"); p.GitHubToken == "" {
		p.GitHubToken = getenv("GITHUB_TOKEN")
	}
	if o.Format, err = in.Choice("format", "both", "both", "bundle", "legacy"); err != nil {
		return nil, wrapInput(err)
	}
	o.OutputDir = p.OutputDir
	return o, nil
}

// planSigning sets how to sign: the key and the Sigstore instance.
func (p *Plan) planSigning(in Inputs, s *options.Signing) error {
	s.Key, p.KeyMaterial = keyRef(in)
	for _, f := range []struct {
		input string
		dst   *string
	}{
		{"fulcio-url", &s.FulcioURL}, {"rekor-url", &s.RekorURL}, {"timestamp-url", &s.TimestampURL},
		{"signing-config", &s.SigningConfig}, {"sigstore", &s.Sigstore},
	} {
		if v := in.String(f.input); v != "" && !(f.input == "sigstore" && v == "public-good") {
			*f.dst = v
			p.CustomSigstore = true
		}
	}
	if v := in.String("rekor-version"); v != "" {
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return inputErrorf("input rekor-version: %q is not a number (want 1 or 2)", v)
		}
		s.RekorVersion = uint32(n)
		p.CustomSigstore = true
	}
	var err error
	if p.Tlog, err = in.Choice("tlog", "auto", "auto", "true", "false"); err != nil {
		return wrapInput(err)
	}
	s.Tlog, s.NoTlog = p.Tlog == "true", p.Tlog == "false"
	ts, err := in.Bool("timestamp", true)
	if err != nil {
		return wrapInput(err)
	}
	s.NoTimestamp = !ts
	if v := in.String("audience"); v != "" {
		s.Audience = v
	}
	return nil
}

// keyRef is the --key reference of the key input. A key given as the input's value itself
// (key: ${{ secrets.COSIGN_PRIVATE_KEY }}) is read by reference from the variable the runner
// put it in, so that it never stands on a command line or in a log; it is returned as material
// too, for masking.
func keyRef(in Inputs) (ref, material string) { return keyRefOf(in, "key") }

// keyRefOf is keyRef of the input named name.
func keyRefOf(in Inputs, name string) (ref, material string) {
	v := in.String(name)
	if !IsKeyMaterial(v) {
		return v, ""
	}
	// A runner may set the input under its own name too (INPUT_PROMOTION-KEY, as act does),
	// which is no environment variable name env:// can read: the action's INPUT_PROMOTION_KEY
	// holds the same value.
	if under := "INPUT_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_")); strings.TrimSpace(in.getenv(under)) == strings.TrimSpace(v) {
		return "env://" + under, v
	}
	return "env://" + in.Var(name), v
}

func stepGoal(step string) string {
	switch step {
	case "sign":
		return "sign"
	case "verify":
		return "verify"
	case "promote":
		return "promote"
	}
	return "attest"
}

// InlineChecksums reports whether a subject-checksums input holds checksums (sha256sum's
// lines) rather than the paths of checksums files.
func InlineChecksums(v string) bool {
	first, _, _ := strings.Cut(strings.TrimSpace(v), "\n")
	first = strings.TrimPrefix(first, `\`)
	if strings.HasPrefix(first, "SHA256 (") {
		return true
	}
	hex, _, ok := strings.Cut(first, " ")
	if !ok || len(hex) != 64 {
		return false
	}
	for _, c := range strings.ToLower(hex) {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// predicates are the files of the sbom and predicate inputs and their types, by position. A
// predicate input that is a JSON object is the predicate itself (actions/attest's predicate),
// written to a file for the verb.
func (p *Plan) predicates(in Inputs) (files, types []string, err error) {
	if sbom := in.String("sbom"); sbom != "" {
		files = append(files, sbom)
		types = append(types, in.String("sbom-type"))
	} else if in.String("sbom-type") != "" {
		return nil, nil, inputErrorf("input sbom-type is set but sbom is not: give the SBOM file")
	}
	more, ptypes := in.Lines("predicate"), in.List("predicate-type")
	if v := in.String("predicate"); strings.HasPrefix(v, "{") {
		f := InlineFile{Path: filepath.Join(p.OutputDir, "predicate.json"), Content: v + "\n"}
		p.Inline, more = append(p.Inline, f), []string{f.Path}
	}
	if len(ptypes) > len(more) {
		return nil, nil, inputErrorf("%d predicate-type entries for %d predicate files: give one type per file, in order", len(ptypes), len(more))
	}
	for i, f := range more {
		files = append(files, f)
		t := ""
		if i < len(ptypes) {
			t = ptypes[i]
		}
		types = append(types, t)
	}
	// seal attest pairs types with predicates by position, so a detected type can only be
	// left out at the end.
	last := len(types)
	for last > 0 && types[last-1] == "" {
		last--
	}
	for i, t := range types[:last] {
		if t == "" {
			return nil, nil, inputErrorf("predicate %d has no type while a later one has: give sbom-type/predicate-type for every file, or only for the last ones", i+1)
		}
	}
	if last == 0 {
		return files, nil, nil
	}
	return files, types[:last], nil
}

// planVerify is what the verify step checks: who signed (this repository's own CI when the
// inputs name nobody) and what must be attested.
func planVerify(in Inputs, getenv func(string) string, keyInput, tlogInput string) (*options.Verify, error) {
	o := options.Defaults[options.Verify]()
	// A public key is no secret, but a PEM has no place on a command line either.
	o.Key, _ = keyRefOf(in, keyInput)
	for _, f := range []struct {
		input string
		dst   *string
	}{
		{"github-repo", &o.GitHubRepo}, {"github-workflow", &o.GitHubWorkflow},
		{"gitlab-project", &o.GitLabProject}, {"gitlab-host", &o.GitLabHost}, {"ref", &o.Ref},
		{"certificate-identity", &o.CertificateIdentity}, {"certificate-identity-regexp", &o.CertificateIdentityRegexp},
		{"certificate-oidc-issuer", &o.CertificateOIDCIssuer}, {"certificate-oidc-issuer-regexp", &o.CertificateOIDCIssuerRegexp},
		{"trusted-root", &o.TrustedRoot},
		{"builder-id", &o.BuilderID}, {"source-repo", &o.SourceRepo}, {"source-ref", &o.SourceRef},
		{"vsa-verifier", &o.VSAVerifier}, {"vsa-level", &o.VSALevel}, {"vsa-policy-digest", &o.VSAPolicyDigest},
		{"github-deployment-record", &o.Deployment.Environment}, {"github-physical-environment", &o.Deployment.PhysicalEnvironment},
		{"github-cluster", &o.Deployment.Cluster}, {"github-deployment-name", &o.Deployment.Name},
	} {
		*f.dst = in.String(f.input)
	}
	pinned := o.Key != "" || o.GitHubRepo != "" || o.GitLabProject != "" || o.CertificateIdentity != "" || o.CertificateIdentityRegexp != ""
	if !pinned {
		// Nobody named a signer: expect this repository's own CI, the common case of a
		// deployment job checking what the release job signed, on this job's server (a
		// GitHub Enterprise Server's or a self-managed GitLab's identities are not
		// github.com's or gitlab.com's).
		switch {
		case getenv("GITHUB_ACTIONS") == "true" && getenv("GITHUB_REPOSITORY") != "":
			o.GitHubRepo = getenv("GITHUB_REPOSITORY")
			host, err := githubHost(getenv("GITHUB_SERVER_URL"))
			if err != nil {
				return nil, err
			}
			o.GitHubHost = host
		case getenv("GITLAB_CI") == "true" && getenv("CI_PROJECT_PATH") != "":
			o.GitLabProject = getenv("CI_PROJECT_PATH")
			if h := getenv("CI_SERVER_HOST"); h != "" && o.GitLabHost == "" {
				o.GitLabHost = h
			}
		default:
			return nil, inputErrorf("say who must have signed: key, certificate-identity, github-repo or gitlab-project")
		}
	}
	o.Attestations = in.List("attestations")
	sig, err := in.Bool("signature", true)
	if err != nil {
		return nil, wrapInput(err)
	}
	o.NoSignature = !sig
	if o.ProtectedRefOnly, err = in.Bool("protected-ref-only", false); err != nil {
		return nil, wrapInput(err)
	}
	if o.HostedRunnersOnly, err = in.Bool("hosted-runners-only", false); err != nil {
		return nil, wrapInput(err)
	}
	tlog, err := in.Choice(tlogInput, "auto", "auto", "true", "false")
	if err != nil {
		return nil, wrapInput(err)
	}
	o.NoTlog = tlog == "false"
	return o, nil
}

// githubHost is the GitHub Enterprise Server host of GITHUB_SERVER_URL ("https://HOST"), ""
// for github.com or when the runner does not say.
func githubHost(serverURL string) (string, error) {
	if serverURL == "" {
		return "", nil
	}
	u, err := url.Parse(serverURL)
	if err != nil || u.Scheme != "https" || u.Host == "" || strings.Trim(u.Path, "/") != "" {
		return "", fmt.Errorf("GITHUB_SERVER_URL %q is not https://HOST", serverURL)
	}
	if strings.EqualFold(u.Host, "github.com") {
		return "", nil
	}
	return u.Host, nil
}

// Secrets are the values the step must mask in the log: the key material, whole and line by
// line (GitHub masks a secret line by line, and a multi-line value masked whole would leave its
// lines in the log).
func (p *Plan) Secrets() []string {
	var out []string
	for _, m := range []string{p.KeyMaterial, p.PromotionKeyMaterial} {
		if m == "" {
			continue
		}
		for _, l := range strings.Split(m, "\n") {
			if l = strings.TrimSpace(l); len(l) >= 8 && !strings.HasPrefix(l, "-----") {
				out = append(out, l)
			}
		}
		out = append(out, m)
	}
	return out
}

// Command is the seal command line that does what the step runs, for the log and for users
// to repeat it: rendered from the options, with no value that looks like key material, and
// URLs without user information or query (where a password or a token could stand). Key
// material never reaches the options (the key is read by reference); this guards the log
// anyway.
func (p *Plan) Command() string {
	var args []string
	switch {
	case p.Sign != nil:
		args = append([]string{"sign"}, options.Args(p.Sign)...)
	case p.Attest != nil:
		args = append([]string{"attest"}, options.Args(p.Attest)...)
	case p.Verify != nil:
		args = append([]string{"verify"}, options.Args(p.Verify)...)
	case p.Promote != nil:
		args = append([]string{"promote"}, options.Args(p.Promote)...)
	}
	if p.Image != "" {
		args = append(args, p.Image)
	}
	return redactedCommand(args)
}

// redactedCommand joins args into the command line the log shows.
func redactedCommand(args []string) string {
	out := []string{"seal"}
	for _, arg := range args {
		switch {
		case IsKeyMaterial(arg):
			arg = "(redacted)"
		case strings.Contains(arg, "://"):
			if u, err := url.Parse(arg); err == nil && (u.User != nil || u.RawQuery != "" || u.Fragment != "") {
				if u.User != nil {
					u.User = url.User("redacted")
				}
				if u.RawQuery != "" {
					u.RawQuery = "redacted"
				}
				u.Fragment = ""
				arg = u.String()
			} else if err != nil {
				arg = "(redacted)"
			}
		}
		out = append(out, arg)
	}
	return strings.Join(out, " ")
}
