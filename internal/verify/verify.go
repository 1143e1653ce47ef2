package verify

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/sigstore/sigstore-go/pkg/fulcio/certificate"

	"github.com/sealsign/seal/internal/oci"
	"github.com/sealsign/seal/internal/oci/bundle"
	"github.com/sealsign/seal/internal/oci/legacy"
)

// ErrPolicy is wrapped by every failed check.
var ErrPolicy = errors.New("verification failed")

// Verifier checks images in a registry.
type Verifier struct {
	reg *oci.Client
	now func() time.Time
}

// New returns a Verifier reading from reg.
func New(reg *oci.Client) *Verifier { return &Verifier{reg: reg, now: time.Now} }

// Finding is one verified signature or attestation.
type Finding struct {
	Subject       string     `json:"subject"`
	Kind          string     `json:"kind"` // signature, attestation
	PredicateType string     `json:"predicateType,omitempty"`
	Format        oci.Format `json:"format"` // bundle, legacy
	// Signer is the key fingerprint, or the certificate's subject.
	Signer string `json:"signer"`
	// Issuer and the certificate's CI facts, for keyless signatures.
	Issuer      string               `json:"issuer,omitempty"`
	Certificate *certificate.Summary `json:"certificate,omitempty"`
	// Time is when the signature was made, as proven by a timestamp or log.
	Time time.Time `json:"time,omitzero"`
	// Statement is the verified in-toto statement (attestations).
	Statement []byte `json:"-"`
	// Entry is where it was read (the referrer manifest, or cosign's tag)
	// and EntryDigest the digest of what verified there (the referrer
	// manifest, or the tag's layer): a VSA's input attestations.
	Entry       string `json:"entry,omitempty"`
	EntryDigest string `json:"entryDigest,omitempty"`
}

// Report is the outcome for one image.
type Report struct {
	Image    string    `json:"image"`
	Findings []Finding `json:"findings"`
	// Rejected lists signatures found but not accepted, with the reason.
	Rejected []string `json:"rejected,omitempty"`
	// Failures lists the policy's unmet requirements.
	Failures []string `json:"failures,omitempty"`
	// Notes say which checks that passed rest on the signer's own claim
	// rather than on its certificate.
	Notes []string `json:"notes,omitempty"`
}

// Verify checks ref (and, with recursive, every platform of an index).
func (v *Verifier) Verify(ctx context.Context, ref string, p Policy, recursive bool) (*Report, error) {
	if (p.Key == nil) == (p.Identity == nil) {
		return nil, errors.New("verification needs either a key or a signer identity")
	}
	if p.Identity != nil && p.Trusted == nil {
		return nil, errors.New("keyless verification needs a trusted root")
	}
	top, err := v.reg.Resolve(ctx, ref)
	if err != nil {
		return nil, err
	}
	subjects := []oci.Subject{top}
	if recursive && top.IsIndex() {
		ch, err := v.reg.Platforms(ctx, top)
		if err != nil {
			return nil, err
		}
		subjects = append(subjects, ch...)
	}
	rep := &Report{Image: top.String(), Notes: notes(p)}
	for _, s := range subjects {
		fs, rejected, err := v.one(ctx, s, p)
		if err != nil {
			return rep, err
		}
		rep.Findings = append(rep.Findings, fs...)
		rep.Rejected = append(rep.Rejected, rejected...)
		rep.Failures = append(rep.Failures, unmet(s, fs, p, rejected)...)
	}
	if len(rep.Failures) > 0 {
		return rep, fmt.Errorf("%w: %s", ErrPolicy, strings.Join(rep.Failures, "; "))
	}
	return rep, nil
}

// notes names the policy's checks that no certificate backs.
func notes(p Policy) []string {
	pc := p.Provenance
	if pc == nil {
		return nil
	}
	if p.Key != nil {
		return []string{"the provenance checks rest on the signer's own claim: a key signature has no certificate to hold the provenance to"}
	}
	if pc.ProtectedRef {
		return []string{"the protected ref rests on the signer's own claim: no certificate field carries GitLab's ref_protected, and any job of the project can attest provenance calling its own ref protected; the ref itself is held to the certificate (pin it with --ref)"}
	}
	return nil
}

func unmet(s oci.Subject, fs []Finding, p Policy, rejected []string) []string {
	var out []string
	have := map[string]bool{}
	for _, f := range fs {
		have[f.Kind+" "+f.PredicateType] = true
		if f.Kind == "signature" {
			have["signature"] = true
		}
	}
	why := ""
	if len(rejected) > 0 {
		why = fmt.Sprintf(" (%d rejected, e.g. %s)", len(rejected), rejected[0])
	} else if len(fs) == 0 {
		why = " (no signatures or attestations found)"
	}
	if p.RequireSignature && !have["signature"] {
		out = append(out, fmt.Sprintf("%s has no valid signature%s", s, why))
	}
	for _, req := range p.Attestations {
		if !satisfied(req, func(pt string) bool { return have["attestation "+pt] }) {
			out = append(out, fmt.Sprintf("%s has no valid %s attestation%s", s, strings.ReplaceAll(req, "|", " or "), why))
		}
	}
	return out
}

// satisfied reports whether any alternative of a requirement ("A|B") holds.
func satisfied(req string, has func(string) bool) bool {
	for _, pt := range strings.Split(req, "|") {
		if has(pt) {
			return true
		}
	}
	return false
}

// one verifies everything attached to one subject, in both formats.
func (v *Verifier) one(ctx context.Context, s oci.Subject, p Policy) ([]Finding, []string, error) {
	digest, err := hex.DecodeString(s.Descriptor.Digest.Hex)
	if err != nil || s.Descriptor.Digest.Algorithm != "sha256" {
		return nil, nil, fmt.Errorf("subject %s: only sha256 digests are supported", s)
	}
	chk, err := newChecker(p, v.now)
	if err != nil {
		return nil, nil, err
	}
	var found []Finding
	var rejected []string
	accept := func(f *Finding, format oci.Format, what string, err error) {
		if err == nil {
			err = chk.statement(f, digest)
		}
		if err != nil {
			rejected = append(rejected, fmt.Sprintf("%s %s: %v", format, what, err))
			return
		}
		f.Subject, f.Format = s.String(), format
		found = append(found, *f)
	}
	bs, err := bundle.Entries(ctx, v.reg, s, bundle.Filter{})
	if err != nil {
		return nil, nil, err
	}
	for _, b := range bs {
		var f *Finding
		err := b.Err
		if err != nil {
			err = fmt.Errorf("unreadable referrer: %w", err)
		} else {
			f, err = chk.bundle(b.Bundle, digest)
		}
		if f != nil {
			f.Entry, f.EntryDigest = s.Ref.Context().Digest(b.Descriptor.Digest.String()).String(), b.Descriptor.Digest.String()
		}
		accept(f, oci.Bundle, shortDigest(b.Descriptor.Digest.String()), err)
	}
	// The legacy tags are read only when the bundles leave something unmet:
	// most images need two fewer round trips that way.
	if !p.Exhaustive && len(bs) > 0 && len(unmet(s, found, p, nil)) == 0 {
		return found, rejected, nil
	}
	for _, kind := range []legacy.Kind{legacy.Signature, legacy.Attestation} {
		layers, err := legacy.Entries(ctx, v.reg, s, kind)
		if err != nil {
			return nil, nil, err
		}
		for _, l := range layers {
			what, unreadable := kind.String()+" "+shortDigest(l.Digest.String()), "unreadable layer"
			if l.Digest.Hex == "" {
				what, unreadable = kind.String()+" tag", "unreadable tag"
			}
			var f *Finding
			err := l.Err
			if err != nil {
				err = fmt.Errorf("%s: %w", unreadable, err)
			} else {
				f, err = chk.legacy(l, kind, s.Descriptor.Digest.String(), digest)
			}
			if tag, terr := legacy.Tag(s, kind); f != nil && terr == nil {
				f.Entry, f.EntryDigest = s.Ref.Context().Tag(tag).String(), l.Digest.String()
			}
			accept(f, oci.Legacy, what, err)
		}
	}
	sort.SliceStable(found, func(i, j int) bool { return found[i].Kind > found[j].Kind })
	return found, rejected, nil
}

func shortDigest(d string) string {
	if len(d) > 19 {
		return d[:19]
	}
	return d
}

// VerifyBundles checks saved bundles about an artifact (a release file)
// identified by its SHA-256 digest: no registry involved, so it works
// fully offline with a trusted root.
func VerifyBundles(name string, digest []byte, bundles [][]byte, p Policy) (*Report, error) {
	if (p.Key == nil) == (p.Identity == nil) {
		return nil, errors.New("verification needs either a key or a signer identity")
	}
	if p.Identity != nil && p.Trusted == nil {
		return nil, errors.New("keyless verification needs a trusted root")
	}
	chk, err := newChecker(p, time.Now)
	if err != nil {
		return nil, err
	}
	rep := &Report{Image: name, Notes: notes(p)}
	var found []Finding
	for i, b := range bundles {
		f, err := chk.bundle(b, digest)
		if err == nil {
			err = chk.statement(f, digest)
		}
		if err != nil {
			rep.Rejected = append(rep.Rejected, fmt.Sprintf("bundle %d: %v", i+1, err))
			continue
		}
		f.Subject, f.Format = name, oci.Bundle
		found = append(found, *f)
	}
	rep.Findings = found
	for _, req := range p.Attestations {
		ok := satisfied(req, func(pt string) bool {
			for _, f := range found {
				if f.Kind == "attestation" && f.PredicateType == pt {
					return true
				}
			}
			return false
		})
		pt := strings.ReplaceAll(req, "|", " or ")
		if !ok {
			why := ""
			if len(rep.Rejected) > 0 {
				why = fmt.Sprintf(" (%d rejected, e.g. %s)", len(rep.Rejected), rep.Rejected[0])
			}
			rep.Failures = append(rep.Failures, fmt.Sprintf("%s has no valid %s attestation%s", name, pt, why))
		}
	}
	if len(p.Attestations) == 0 && len(found) == 0 {
		rep.Failures = append(rep.Failures, fmt.Sprintf("%s: no bundle verified", name))
	}
	if len(rep.Failures) > 0 {
		return rep, fmt.Errorf("%w: %s", ErrPolicy, strings.Join(rep.Failures, "; "))
	}
	return rep, nil
}
