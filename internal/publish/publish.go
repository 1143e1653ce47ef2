package publish

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/sealsign/seal/internal/oci"
	"github.com/sealsign/seal/internal/oci/bundle"
	"github.com/sealsign/seal/internal/oci/legacy"
	"github.com/sealsign/seal/internal/predicate"
	"github.com/sealsign/seal/internal/signing"
	"github.com/sealsign/seal/internal/subject"
)

type options struct {
	format oci.Format
	jobs   int
	log    *slog.Logger
	now    func() time.Time
}

// Option configures a Publisher.
type Option func(*options) error

// WithFormat selects the storage formats (default oci.Both).
func WithFormat(f oci.Format) Option {
	return func(o *options) error {
		if !f.Valid() {
			return fmt.Errorf("invalid format %d", f)
		}
		o.format = f
		return nil
	}
}

// WithJobs bounds how many subjects are signed and published at once.
func WithJobs(n int) Option {
	return func(o *options) error {
		if n < 1 {
			return fmt.Errorf("jobs must be at least 1, got %d", n)
		}
		o.jobs = n
		return nil
	}
}

// WithLogger sets the logger for progress details.
func WithLogger(l *slog.Logger) Option { return func(o *options) error { o.log = l; return nil } }

// WithClock replaces time.Now (the created annotation).
func WithClock(now func() time.Time) Option {
	return func(o *options) error { o.now = now; return nil }
}

// Publisher signs and publishes.
type Publisher struct {
	signer *signing.Signer
	reg    *oci.Client
	o      *options
}

// New returns a Publisher that signs with signer and writes to reg.
func New(signer *signing.Signer, reg *oci.Client, opts ...Option) (*Publisher, error) {
	if signer == nil || reg == nil {
		return nil, errors.New("publisher needs a signer and a registry")
	}
	o := &options{format: oci.Both, jobs: 8, log: slog.New(slog.DiscardHandler), now: time.Now}
	for _, opt := range opts {
		if err := opt(o); err != nil {
			return nil, err
		}
	}
	// cosign's legacy layers prove a log entry only with a Rekor v1 signed
	// entry timestamp. Writing them without it while the bundles carry a
	// v2 entry would publish signatures that verifiers accept only with
	// tlog checks switched off; cosign itself signs for a v2 log in the
	// bundle format only.
	if svc := signer.Services(); o.format.Has(oci.Legacy) && svc.RekorURL != "" && svc.RekorVersion == 2 {
		return nil, errors.New("cosign's legacy .sig/.att tags cannot record a Rekor v2 log entry (they carry Rekor v1 entries only): publish bundles only, use a Rekor v1 log, or sign without the log")
	}
	return &Publisher{signer: signer, reg: reg, o: o}, nil
}

// Request is one image and what to publish for it.
type Request struct {
	// Ref is an image reference by tag or digest.
	Ref string
	// Recursive also publishes for every platform of an index.
	Recursive bool
	// Sign publishes an image signature.
	Sign bool
	// Attestations to sign and publish for each subject.
	Attestations []Attestation
}

// Report says what was published.
type Report struct {
	// Repaired counts tag entries restored after concurrent writers lost them.
	Repaired int
	// Image is the resolved top-level subject.
	Image oci.Subject
	// Items lists every artifact, in subject order.
	Items []Item
}

// Item is one published signature or attestation.
type Item struct {
	Subject       string     `json:"subject"` // repo@digest
	Platform      string     `json:"platform,omitempty"`
	Kind          string     `json:"kind"` // signature, attestation
	PredicateType string     `json:"predicateType,omitempty"`
	Format        oci.Format `json:"format"` // bundle, legacy
	Ref           string     `json:"ref"`    // referrer repo@digest, or repo:tag
	Existed       bool       `json:"existed,omitempty"`
	Fallback      bool       `json:"fallbackTag,omitempty"`
	// Bundle is the bundle JSON (bundle format only), for --output-dir.
	Bundle []byte `json:"-"`
	// BundlePath is where the CLI saved Bundle, if it did.
	BundlePath string `json:"bundlePath,omitempty"`
	// Tlog is the signature's transparency-log entry, when it was logged.
	Tlog *signing.TlogEntry `json:"tlog,omitempty"`
}

// Publish resolves req.Ref once and publishes for it (and its platforms).
func (p *Publisher) Publish(ctx context.Context, req Request) (*Report, error) {
	if !req.Sign && len(req.Attestations) == 0 {
		return nil, errors.New("nothing to publish: ask for a signature or an attestation")
	}
	top, err := p.reg.Resolve(ctx, req.Ref)
	if err != nil {
		return nil, err
	}
	subjects := []oci.Subject{top}
	if req.Recursive && top.IsIndex() {
		children, err := p.reg.Platforms(ctx, top)
		if err != nil {
			return nil, err
		}
		subjects = append(subjects, children...)
	}
	rep := &Report{Image: top}
	results := make([][]Item, len(subjects))
	errs := make([]error, len(subjects))
	sem := make(chan struct{}, p.o.jobs)
	var wg sync.WaitGroup
	for i, s := range subjects {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				errs[i] = ctx.Err()
				return
			}
			defer func() { <-sem }()
			results[i], errs[i] = p.one(ctx, s, req)
		}()
	}
	wg.Wait()
	for _, items := range results {
		rep.Items = append(rep.Items, items...)
	}
	// Writers of shared tags (other jobs signing the same digest) may have
	// overwritten an update of ours after we checked it: read the tags once
	// more and restore what is missing.
	if errors.Join(errs...) == nil {
		n, err := p.reg.Settle(ctx)
		rep.Repaired = n
		if n > 0 {
			p.o.log.Warn("restored tag entries lost to concurrent writers", "entries", n)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("checking shared tags after publishing: %w", err))
		}
	}
	return rep, errors.Join(errs...)
}

// one signs everything for one subject, then writes: all signing first, so
// a signing failure leaves nothing in the registry for this subject.
func (p *Publisher) one(ctx context.Context, s oci.Subject, req Request) ([]Item, error) {
	sub := subject.Subject{Name: s.Ref.Context().Name(), Digest: map[string]string{s.Descriptor.Digest.Algorithm: s.Descriptor.Digest.Hex}}
	platform := ""
	if s.Descriptor.Platform != nil {
		platform = s.Descriptor.Platform.String()
	}
	now := p.o.now().UTC()
	var (
		bundles []bundle.Artifact
		sigs    []legacy.Layer
		atts    []legacy.Layer
		items   []Item
	)
	add := func(kind, pt string, format oci.Format, r *signing.Result, b []byte) {
		items = append(items, Item{Subject: s.String(), Platform: platform, Kind: kind, PredicateType: pt, Format: format, Bundle: b, Tlog: r.Tlog()})
	}
	// A re-run publishes nothing twice: what this signer already put there
	// for this digest is reported as existing and not signed again.
	have, err := p.existing(ctx, s)
	if err != nil {
		return nil, err
	}
	var kept []Item
	skip := func(kind, pt string, format oci.Format) bool {
		ref, ok := have[format.String()+"|"+kind+"|"+pt]
		if ok {
			kept = append(kept, Item{Subject: s.String(), Platform: platform, Kind: kind, PredicateType: pt, Format: format, Ref: ref, Existed: true})
		}
		return ok
	}
	if req.Sign {
		if p.o.format.Has(oci.Bundle) && !skip("signature", predicate.CosignSign, oci.Bundle) {
			st, err := signStatement(sub)
			if err != nil {
				return nil, err
			}
			r, err := p.signer.SignDSSE(ctx, predicate.InTotoPayloadType, st)
			if err != nil {
				return nil, fmt.Errorf("signing %s: %w", s, err)
			}
			bundles = append(bundles, bundle.Artifact{Bundle: r.JSON, Content: bundle.ContentDSSE, PredicateType: predicate.CosignSign, Created: now})
			add("signature", predicate.CosignSign, oci.Bundle, r, r.JSON)
		}
		if p.o.format.Has(oci.Legacy) && !skip("signature", "", oci.Legacy) {
			payload, err := simpleSigning(sub.Name, s.Descriptor.Digest.String())
			if err != nil {
				return nil, err
			}
			r, err := p.signer.SignMessage(ctx, payload)
			if err != nil {
				return nil, fmt.Errorf("signing %s: %w", s, err)
			}
			m, err := p.legacyMaterial(r, nil)
			if err != nil {
				return nil, err
			}
			l, err := legacy.SignatureLayer(payload, r.Signature, m)
			if err != nil {
				return nil, err
			}
			sigs = append(sigs, l)
			add("signature", "", oci.Legacy, r, nil)
		}
	}
	for _, a := range req.Attestations {
		var st []byte
		exists := func(format oci.Format) bool { return skip("attestation", a.PredicateType(), format) }
		if _, ok := a.(Record); ok {
			// Another record of the type is not this one: only the same
			// statement already there is.
			if st, err = a.Statement(sub); err != nil {
				return nil, fmt.Errorf("attestation %s for %s: %w", a.PredicateType(), s, err)
			}
			exists = func(format oci.Format) bool {
				ref, ok := have[format.String()+"|attestation|"+statementKey(st)]
				if ok {
					kept = append(kept, Item{Subject: s.String(), Platform: platform, Kind: "attestation", PredicateType: a.PredicateType(), Format: format, Ref: ref, Existed: true})
				}
				return ok
			}
		}
		wantBundle := p.o.format.Has(oci.Bundle) && !exists(oci.Bundle)
		wantLegacy := p.o.format.Has(oci.Legacy) && !exists(oci.Legacy)
		if !wantBundle && !wantLegacy {
			continue
		}
		if st == nil {
			if st, err = a.Statement(sub); err != nil {
				return nil, fmt.Errorf("attestation %s for %s: %w", a.PredicateType(), s, err)
			}
		}
		r, err := p.signer.SignDSSE(ctx, predicate.InTotoPayloadType, st)
		if err != nil {
			return nil, fmt.Errorf("signing %s attestation for %s: %w", a.PredicateType(), s, err)
		}
		if wantBundle {
			bundles = append(bundles, bundle.Artifact{Bundle: r.JSON, Content: bundle.ContentDSSE, PredicateType: a.PredicateType(), Created: now})
			add("attestation", a.PredicateType(), oci.Bundle, r, r.JSON)
		}
		if wantLegacy {
			// cosign timestamps a legacy attestation's whole envelope.
			ts, err := p.signer.Timestamp(ctx, r.Envelope)
			if err != nil {
				return nil, err
			}
			m, err := p.legacyMaterial(r, ts)
			if err != nil {
				return nil, err
			}
			l, err := legacy.AttestationLayer(r.Envelope, a.PredicateType(), m)
			if err != nil {
				return nil, err
			}
			atts = append(atts, l)
			add("attestation", a.PredicateType(), oci.Legacy, r, nil)
		}
	}

	// Writes, in three lanes that run at the same time: the bundles (each
	// its own referrer) in one call, since on registries without the
	// referrers API they all go into the subject's fallback index, which is
	// then updated once; and the .sig and .att tags, each a document of its
	// own, updated once with all of this run's layers. Every tag update ends
	// with a wait for concurrent writers before it checks its work, so
	// overlapping the lanes saves one or two of those waits per subject
	// (e2e/bench_test.go has the figures).
	var bundleIdx []int
	legacyIdx := map[string][]int{}
	for i, it := range items {
		if it.Format == oci.Bundle {
			bundleIdx = append(bundleIdx, i)
		} else {
			legacyIdx[it.Kind] = append(legacyIdx[it.Kind], i)
		}
	}
	var (
		wg   sync.WaitGroup
		errs [3]error
	)
	if len(bundles) > 0 {
		wg.Go(func() {
			// On error a result has a Ref only where its bundle is in place.
			res, err := bundle.PutAll(ctx, p.reg, s, bundles)
			errs[0] = err
			for bi, i := range bundleIdx {
				if bi < len(res) && res[bi].Ref != "" {
					items[i].Ref, items[i].Existed, items[i].Fallback = res[bi].Ref, res[bi].Existed, res[bi].Fallback
				}
			}
		})
	}
	for lane, w := range []struct {
		kind   legacy.Kind
		layers []legacy.Layer
		name   string
	}{{legacy.Signature, sigs, "signature"}, {legacy.Attestation, atts, "attestation"}} {
		if len(w.layers) == 0 {
			continue
		}
		wg.Go(func() {
			res, err := legacy.Append(ctx, p.reg, s, w.kind, w.layers)
			if err != nil {
				errs[1+lane] = err
				return
			}
			for _, i := range legacyIdx[w.name] {
				items[i].Ref, items[i].Existed = res.Ref, res.Existed
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs[:]...); err != nil {
		// Report what was written, not what was only signed.
		for _, it := range items {
			if it.Ref != "" {
				kept = append(kept, it)
			}
		}
		return kept, err
	}
	p.o.log.Debug("published", "subject", s.String(), "items", len(items), "existing", len(kept))
	return append(kept, items...), nil
}

// existing maps "format|kind|predicateType" to where this signer already
// published it for s.
func (p *Publisher) existing(ctx context.Context, s oci.Subject) (map[string]string, error) {
	// The three reads are independent, and of the signer's identity (a
	// keyless certificate to fetch, a key still decrypting): issue them
	// together, so a subject waits for one round trip instead of four.
	var (
		wg     sync.WaitGroup
		me     string
		meErr  error
		bs     []bundle.Found
		layers [2][]legacy.Layer
		errs   [3]error
	)
	wg.Go(func() { me, meErr = p.signer.Identity(ctx) })
	if p.o.format.Has(oci.Bundle) {
		wg.Go(func() { bs, errs[0] = bundle.List(ctx, p.reg, s, bundle.Filter{}) })
	}
	if p.o.format.Has(oci.Legacy) {
		for i, kind := range []legacy.Kind{legacy.Signature, legacy.Attestation} {
			wg.Go(func() { layers[i], errs[1+i] = legacy.Read(ctx, p.reg, s, kind) })
		}
	}
	wg.Wait()
	if meErr != nil {
		return nil, meErr
	}
	if err := errors.Join(errs[:]...); err != nil {
		return nil, fmt.Errorf("reading existing signatures of %s: %w", s, err)
	}
	have := map[string]string{}
	if p.o.format.Has(oci.Bundle) {
		for _, b := range bs {
			if signing.BundleIdentity(b.Bundle) != me {
				continue
			}
			kind := "attestation"
			if b.PredicateType == predicate.CosignSign {
				kind = "signature"
			}
			have["bundle|"+kind+"|"+b.PredicateType] = s.Ref.Context().Digest(b.Descriptor.Digest.String()).String()
			if st := bundlePayload(b.Bundle); st != nil {
				have["bundle|attestation|"+statementKey(st)] = s.Ref.Context().Digest(b.Descriptor.Digest.String()).String()
			}
		}
	}
	if p.o.format.Has(oci.Legacy) {
		for i, kind := range []legacy.Kind{legacy.Signature, legacy.Attestation} {
			ls := layers[i]
			tag, _ := legacy.Tag(s, kind)
			for _, l := range ls {
				mine := false
				if c := l.Annotations[legacy.AnnotationCertificate]; c != "" {
					mine = signing.PEMIdentity(c) == me
				} else if kind == legacy.Signature {
					sig, err := l.Signature()
					mine = err == nil && p.signer.SignedByKey(l.Payload, sig)
				} else {
					mine = p.signer.SignedEnvelopeByKey(l.Payload)
				}
				if !mine {
					continue
				}
				if kind == legacy.Signature {
					have["legacy|signature|"] = s.Ref.Context().Tag(tag).String()
				} else {
					have["legacy|attestation|"+l.Annotations[legacy.AnnotationPredicateType]] = s.Ref.Context().Tag(tag).String()
					if st := envelopePayload(l.Payload); st != nil {
						have["legacy|attestation|"+statementKey(st)] = s.Ref.Context().Tag(tag).String()
					}
				}
			}
		}
	}
	return have, nil
}

// legacyMaterial is the certificate, Rekor v1 entry and timestamp cosign's
// legacy layers carry. ts overrides the bundle's timestamp (attestations timestamp the
// envelope, signatures the raw signature).
func (p *Publisher) legacyMaterial(r *signing.Result, ts []byte) (legacy.Material, error) {
	m := legacy.Material{Certificate: p.signer.CertificatePEM()}
	for _, e := range r.Bundle.GetVerificationMaterial().GetTlogEntries() {
		b, err := legacy.RekorBundle(e)
		if err != nil {
			return m, err
		}
		if b != nil {
			m.RekorBundle = b
			break
		}
	}
	if ts != nil {
		m.RFC3161Timestamp = ts
	} else if tvd := r.Bundle.GetVerificationMaterial().GetTimestampVerificationData(); tvd != nil && len(tvd.GetRfc3161Timestamps()) > 0 {
		m.RFC3161Timestamp = tvd.GetRfc3161Timestamps()[0].GetSignedTimestamp()
	}
	return m, nil
}
