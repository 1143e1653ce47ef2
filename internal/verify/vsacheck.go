package verify

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	vsapb "github.com/in-toto/attestation/go/predicates/vsa/v1"

	"github.com/sealsign/seal/internal/identity"
	"github.com/sealsign/seal/internal/predicate"
)

// LevelBuild3 is the highest SLSA Build level SLSA v1.0 and v1.1 define.
// Seal never records it (see buildLevel), but another verifier may.
const LevelBuild3 = "SLSA_BUILD_LEVEL_3"

// buildLevels are the SLSA Build track levels, lowest first. A minimum
// admits the levels from it up; a level above the last, which no SLSA
// version defines yet, does not count.
var buildLevels = []string{LevelBuild0, LevelBuild1, LevelBuild2, LevelBuild3}

var hexDigest = regexp.MustCompile(`^[0-9a-f]{64}$`)

// VSACheck is what a required Verification Summary must say beyond what
// every one must (verificationResult PASSED, no FAILED level, about this
// image): the same for `seal verify` and for the admission policies
// `seal policy` writes, which share these flags.
type VSACheck struct {
	// VerifierID is the verifier.id the summary must name; empty means
	// Seal's (VerifierID).
	VerifierID string
	// MinLevel is a SLSA Build level (SLSA_BUILD_LEVEL_0 to _3) the
	// summary's verifiedLevels must hold, or a higher one up to _3.
	MinLevel string
	// PolicyDigest is the hex SHA-256 (optionally "sha256:"-prefixed) the
	// summary's policy.digest.sha256 must be: the checks of the `seal
	// verify` run it summarizes, as its VSA records them.
	PolicyDigest string
}

// VSARequirement is a validated VSACheck, in the form every checker of it
// compares: `seal verify` here, each policy engine in package policy.
type VSARequirement struct {
	// Verifier is the verifier.id the summary must name.
	Verifier string
	// MinLevel, when set, is the lowest level asked for, and Levels the
	// ones accepted: MinLevel and the levels above it up to LevelBuild3.
	MinLevel string
	Levels   []string
	// Digest, when set, is the lowercase hex policy.digest.sha256.
	Digest string
}

// Requirement validates c: a printable verifier id, a known Build level,
// a SHA-256 policy digest.
func (c VSACheck) Requirement() (*VSARequirement, error) {
	r := &VSARequirement{Verifier: c.VerifierID}
	if r.Verifier == "" {
		r.Verifier = VerifierID
	}
	if err := identity.Printable(r.Verifier); err != nil {
		return nil, fmt.Errorf("verifier id %q: %w", r.Verifier, err)
	}
	if c.MinLevel != "" {
		i := slices.Index(buildLevels, strings.ToUpper(c.MinLevel))
		if i < 0 {
			return nil, fmt.Errorf("SLSA level %q: want one of %s", c.MinLevel, strings.Join(buildLevels, ", "))
		}
		r.MinLevel, r.Levels = buildLevels[i], buildLevels[i:]
	}
	if c.PolicyDigest != "" {
		d := strings.ToLower(strings.TrimPrefix(c.PolicyDigest, "sha256:"))
		if !hexDigest.MatchString(d) {
			return nil, fmt.Errorf("policy digest %q: want sha256:HEX, the policy.digest seal verify --vsa records", c.PolicyDigest)
		}
		r.Digest = d
	}
	return r, nil
}

// Check refuses a summary that does not say what r asks, naming what it
// said and what was wanted. It compares exactly, as the policy engines do.
func (r *VSARequirement) Check(v *vsapb.VerificationSummary) error {
	var errs []string
	if got := v.GetVerifier().GetId(); got != r.Verifier {
		errs = append(errs, fmt.Sprintf("verification summary is from verifier %q, want %q", got, r.Verifier))
	}
	if r.MinLevel != "" && !slices.ContainsFunc(v.GetVerifiedLevels(), func(l string) bool { return slices.Contains(r.Levels, l) }) {
		want := r.MinLevel
		if len(r.Levels) > 1 {
			want += " or higher (one of " + strings.Join(r.Levels, ", ") + ")"
		}
		errs = append(errs, fmt.Sprintf("verification summary records verifiedLevels [%s], want %s", strings.Join(v.GetVerifiedLevels(), ", "), want))
	}
	if got := v.GetPolicy().GetDigest()["sha256"]; r.Digest != "" && got != r.Digest {
		errs = append(errs, fmt.Sprintf("verification summary records policy.digest sha256 %q, want %q", got, r.Digest))
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "; "))
	}
	return nil
}

// vsaRequirement is what the policy asks of a Verification Summary: nil
// when it requires none (a summary found anyway gets only the checks every
// one gets), else p.VSA validated, Seal's verifier by default.
func (p Policy) vsaRequirement() (*VSARequirement, error) {
	if !slices.ContainsFunc(p.Attestations, func(req string) bool {
		return slices.Contains(strings.Split(req, "|"), predicate.VSA)
	}) {
		if p.VSA != (VSACheck{}) {
			return nil, errors.New("the verification summary checks (verifier, level, policy digest) apply to a required verification summary: require the vsa attestation")
		}
		return nil, nil
	}
	return p.VSA.Requirement()
}
