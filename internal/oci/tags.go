package oci

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// The registry protocol has no locking, and few registries honour If-Match on
// manifests, so a tag that several jobs append to (a cosign .sig/.att tag, a
// referrers fallback index) is a read-modify-write race: a writer that read
// before its neighbour wrote overwrites the neighbour's entries (cosign#2432;
// go-containerregistry's own fallback update has the same race).
//
// updateTag narrows the race from the writer's side with four habits:
//   - Merge, write, wait, read back. The wait is longer than a neighbour's
//     window (from its last look at the tag to the end of its write),
//     estimated from our own; entries found missing are merged in again, and
//     the read that checks starts the next round.
//   - Help. Entries seen in any earlier read are merged back too, so an entry a
//     stale writer dropped is restored by every writer that saw it.
//   - Finish only on a quiet tag: the check must find the tag as we wrote it,
//     or unchanged between two checks a wait apart. A writer that read before
//     our entries were there must then have needed longer than that to write.
//   - Keep the window short: right before writing, check with a HEAD that the
//     tag has not moved since it was read (merging into a fresh read if it
//     has), so that the window is that HEAD and the PUT, not the merge's
//     uploads: a neighbour then has a few round trips, not the whole update,
//     in which to overwrite us unseen.
//
// A clean update costs one GET, the merge's blobs, one HEAD, one PUT and one GET. Without
// compare-and-swap nothing is certain, so a client also remembers its updates
// and Settle runs them again at the end of a run.

// TagDocument is a merged tag document ready to write.
type TagDocument struct {
	Body      []byte
	MediaType types.MediaType
	// Blobs are uploaded before the document, e.g. its config.
	Blobs [][]byte
}

// TagFormat reads and writes one kind of append-only tag document (see
// AppendTag): cosign's .sig/.att images, the referrers fallback index.
type TagFormat interface {
	// Parse splits a document (nil for a missing tag) into its entries and
	// the rest, which Render keeps.
	Parse(cur *Manifest) (entries []v1.Descriptor, rest any, err error)
	// Render builds the document holding entries.
	Render(entries []v1.Descriptor, rest any) (*TagDocument, error)
	// Key identifies an entry: two entries with one key are the same entry.
	Key(v1.Descriptor) string
}

// tagUpdate appends a writer's entries to the document behind a tag.
type tagUpdate struct {
	repo    name.Repository
	tag     string
	format  TagFormat
	entries []v1.Descriptor
	// ready, when set, waits for what the document references (blobs still
	// uploading) and is called before every write.
	ready func() error
}

// mergeEntries adds ours and the seen entries that have gone missing to have.
// An entry of ours replaces an existing one with its key but other metadata.
func mergeEntries(f TagFormat, have, ours, seen []v1.Descriptor) ([]v1.Descriptor, bool) {
	out := slices.Clone(have)
	index := make(map[string]int, len(out))
	for i, d := range out {
		index[f.Key(d)] = i
	}
	changed := false
	for _, d := range ours {
		k := f.Key(d)
		if i, ok := index[k]; ok {
			if !sameDescriptor(out[i], d) || out[i].Size != d.Size {
				out[i] = d
				changed = true
			}
			continue
		}
		index[k] = len(out)
		out = append(out, d)
		changed = true
	}
	for _, d := range seen {
		k := f.Key(d)
		if _, ok := index[k]; !ok {
			index[k] = len(out)
			out = append(out, d)
			changed = true
		}
	}
	return out, changed
}

// addSeen remembers the entries of a read, for mergeEntries.
func addSeen(f TagFormat, seen, have []v1.Descriptor) []v1.Descriptor {
	known := make(map[string]bool, len(seen))
	for _, d := range seen {
		known[f.Key(d)] = true
	}
	for _, d := range have {
		if k := f.Key(d); !known[k] {
			known[k] = true
			seen = append(seen, d)
		}
	}
	return seen
}

// AppendTag adds entries to the document behind a tag that several writers
// append to, in format f, without losing the entries concurrent writers add
// (see updateTag above, and Settle). ready, when set, waits for what the
// entries reference (blobs still uploading) and is called before every write.
// The Result names the tag and the document as last read back; Existed says
// that every entry was in place and nothing was written.
//
// Requests: GET (none right after a ReadTag of the tag), the document's
// blobs, a HEAD showing the tag has not moved, PUT, and the GET that checks
// it (none with WithDeferredCheck: Settle checks). Entries already in place:
// the GET alone.
func (c *Client) AppendTag(ctx context.Context, repo name.Repository, tag string, f TagFormat, entries []v1.Descriptor, ready func() error) (Result, error) {
	res := Result{Ref: repo.Tag(tag).String()}
	rc, err := c.repo(ctx, repo, true)
	if err != nil {
		return res, err
	}
	u := tagUpdate{repo: repo, tag: tag, format: f, entries: entries, ready: ready}
	c.remember(u)
	out, err := c.updateTag(ctx, rc, u)
	if err != nil {
		return res, err
	}
	res.Existed = !out.wrote
	if out.final != nil {
		res.Descriptor = v1.Descriptor{MediaType: out.final.MediaType, Digest: out.final.Digest, Size: int64(len(out.final.Body))}
	}
	return res, nil
}

// ReadTag reads the document behind a tag that writers append to; nil when
// the tag is missing (one GET). A client with write access remembers the
// read, so that an AppendTag to the same tag right after starts from it
// instead of reading again.
func (c *Client) ReadTag(ctx context.Context, repo name.Repository, tag string) (*Manifest, error) {
	rc, err := c.repo(ctx, repo, false)
	if err != nil {
		return nil, err
	}
	f, err := c.getManifest(ctx, rc, tag)
	if errors.Is(err, ErrNotFound) {
		c.noteRead(repo, tag, nil)
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	c.noteRead(repo, tag, f)
	return f, nil
}

// MergeTag is one round of AppendTag without the registry: the document
// that adding ours to cur (nil: a missing tag) writes, or nil when cur holds
// them all already. It lets a TagFormat be tested for what AppendTag makes
// of it.
func MergeTag(f TagFormat, cur *Manifest, ours []v1.Descriptor) (*TagDocument, error) {
	have, rest, err := f.Parse(cur)
	if err != nil {
		return nil, err
	}
	merged, changed := mergeEntries(f, have, ours, nil)
	if !changed {
		return nil, nil
	}
	return f.Render(merged, rest)
}

// tagOutcome reports what updateTag did.
type tagOutcome struct {
	wrote  bool
	writes int
	final  *Manifest // the document as last read, holding our entries
	// initial holds the entries of the first read, so a caller with many
	// entries can tell which of them were already in place.
	initial []v1.Descriptor
}

// settleWindows is how many of its own windows (the HEAD that checks a tag
// and the PUT that writes it) a deferred check waits, on top of the settle
// delay, before it reads the tags back. A neighbour that overwrites us must
// have checked the tag before our write landed, so it writes within one of
// its windows after ours, and its window is about ours: same client, same
// registry, same load. Measured with e2e's TestConcurrentSigners (16 seal
// processes signing one digest, in both formats), mostly with two or four
// CPU-bound processes alongside: with no wait 11 to 15 of the 16 signatures
// survived, in all 6 runs; with one window and no delay 15 in 2 runs of 8;
// with two windows and 10 ms 16 in all 16 runs, and with two windows and 15
// ms (the default delay) 16 in all 28 runs, 22 of them with the CPU hogs.
const settleWindows = 2

// maxSettleDelay caps the growing wait between a write and its check.
const maxSettleDelay = 3 * time.Second

// updateTag runs the loop described above until the tag holds u's entries and
// is quiet, or gives up after c.o.tagRounds reads.
func (c *Client) updateTag(ctx context.Context, rc *repoClient, u tagUpdate) (tagOutcome, error) {
	return c.updateTagChecked(ctx, rc, u, !c.o.deferCheck, false)
}

// updateTagChecked is updateTag; without check it returns after its write
// and leaves the read-back to Settle (WithDeferredCheck). settling is
// Settle's deferred read-back: it acts as if this client had just written
// the tag, so it returns only once the tag is quiet with our entries in it.
func (c *Client) updateTagChecked(ctx context.Context, rc *repoClient, u tagUpdate, check, settling bool) (tagOutcome, error) {
	return c.updateTagFrom(ctx, rc, u, check, settling, v1.Hash{})
}

// updateTagFrom is updateTagChecked knowing the digest this client last
// wrote to the tag (zero if unknown): a tag still at that digest has had no
// writer since, and needs no wait.
func (c *Client) updateTagFrom(ctx context.Context, rc *repoClient, u tagUpdate, check, settling bool, last v1.Hash) (tagOutcome, error) {
	var (
		out     tagOutcome
		seen    []v1.Descriptor
		wrote   v1.Hash  // digest of our last write (set below)
		checked *v1.Hash // digest found by the previous check, if it found ours
		window  time.Duration
		delay   = c.o.settleDelay
	)
	out.wrote = settling
	wrote = last
	wait := func() error {
		return sleep(ctx, delay+2*window+rand.N(window+time.Millisecond))
	}
	read := func() (*Manifest, error) {
		cur, err := c.getManifest(ctx, rc, u.tag)
		if errors.Is(err, ErrNotFound) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("reading tag %s:%s: %w", u.repo, u.tag, err)
		}
		return cur, nil
	}
	var (
		next       *Manifest // a fresher read to merge into, when prefetched
		prefetched bool
		refreshes  int
	)
	// A read this client just made (looking for what it already published)
	// is as good as a new one: the check before writing catches a move.
	if !settling {
		next, prefetched = c.takeRead(u.repo, u.tag)
	}
	for reads := 0; reads < c.o.tagRounds; reads++ {
		start := time.Now()
		cur := next
		if !prefetched {
			var err error
			if cur, err = read(); err != nil {
				return out, err
			}
		}
		next, prefetched = nil, false
		have, rest, err := u.format.Parse(cur)
		if err != nil {
			return out, fmt.Errorf("reading tag %s:%s: %w", u.repo, u.tag, err)
		}
		if reads == 0 {
			out.initial = have
		}
		merged, changed := mergeEntries(u.format, have, u.entries, seen)
		seen = addSeen(u.format, seen, have)
		if !changed && cur != nil {
			if !out.wrote || cur.Digest == wrote || (checked != nil && *checked == cur.Digest) {
				out.final = cur
				return out, nil
			}
			// Others wrote after us: wait for the tag to be quiet.
			d := cur.Digest
			checked = &d
			if err := wait(); err != nil {
				return out, err
			}
			continue
		}
		checked = nil
		plan, err := u.format.Render(merged, rest)
		if err != nil {
			return out, fmt.Errorf("merging into tag %s:%s: %w", u.repo, u.tag, err)
		}
		if out.wrote {
			c.o.log.Warn("entries went missing from a tag a concurrent writer overwrote; merging them back",
				"tag", u.repo.String()+":"+u.tag, "writes", out.writes)
		}
		err = c.Parallel(len(plan.Blobs), func(i int) error {
			_, err := c.putBlob(ctx, rc, plan.Blobs[i])
			return err
		})
		if err != nil {
			return out, err
		}
		// Close the window in which we may overwrite a neighbour: right before
		// writing, check that the tag has not moved since we read it (one
		// HEAD); if it has, merge into a fresh read. What is left of the
		// window, from this check to the end of our write, is what a
		// neighbour's check must wait out, and what sizes our own wait.
		if u.ready != nil {
			if err := u.ready(); err != nil {
				return out, err
			}
		}
		windowStart := start
		if refreshes < 3 {
			windowStart = time.Now()
			moved, err := c.tagMoved(ctx, rc, u.tag, digestOf(cur))
			if err != nil {
				return out, fmt.Errorf("reading tag %s:%s: %w", u.repo, u.tag, err)
			}
			if moved {
				fresh, err := read()
				if err != nil {
					return out, err
				}
				refreshes++
				next, prefetched = fresh, true
				continue
			}
		}
		etag := ""
		if cur != nil {
			etag = cur.etag
		}
		_, err = c.putManifest(ctx, rc, u.tag, plan.MediaType, plan.Body, etag)
		var re *RegistryError
		if errors.As(err, &re) && re.StatusCode == http.StatusPreconditionFailed {
			// The registry saw the tag move between our read and write: merge again.
			continue
		}
		if err != nil {
			return out, fmt.Errorf("writing tag %s:%s: %w", u.repo, u.tag, err)
		}
		wrote, _, _ = v1.SHA256(bytes.NewReader(plan.Body))
		out.wrote = true
		out.writes++
		window = time.Since(windowStart)
		if !check {
			c.noteWrite(u, window, wrote)
			return out, nil
		}
		if err := wait(); err != nil {
			return out, err
		}
		delay = min(delay*3/2, maxSettleDelay)
	}
	return out, fmt.Errorf("updating tag %s:%s: no quiet moment with our entries in %d reads; too many concurrent writers",
		u.repo, u.tag, c.o.tagRounds)
}

// tagMoved reports whether tag no longer points at digest (zero: the tag was
// missing when read), with one HEAD.
func (c *Client) tagMoved(ctx context.Context, rc *repoClient, tag string, digest v1.Hash) (bool, error) {
	d, err := c.headManifest(ctx, rc, tag)
	if errors.Is(err, ErrNotFound) {
		return digest != v1.Hash{}, nil
	}
	if err != nil {
		return false, err
	}
	return d.Digest != digest, nil
}

// digestOf is a read's digest, zero for a missing tag.
func digestOf(f *Manifest) v1.Hash {
	if f == nil {
		return v1.Hash{}
	}
	return f.Digest
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// noteWrite remembers a deferred update's write: the longest read-to-write
// time sizes Settle's wait, the digest lets Settle skip a tag nobody
// touched since.
func (c *Client) noteWrite(u tagUpdate, d time.Duration, digest v1.Hash) {
	c.journalMu.Lock()
	defer c.journalMu.Unlock()
	c.maxWindow = max(c.maxWindow, d)
	if e := c.journal[u.repo.Name()+":"+u.tag]; e != nil {
		e.last = digest
	}
}

// journalEntry is what a client appended to one tag, for Settle.
type journalEntry struct {
	update tagUpdate // entries accumulate across updates
	last   v1.Hash   // digest of this client's last deferred write
}

func (c *Client) remember(u tagUpdate) {
	key := u.repo.Name() + ":" + u.tag
	c.journalMu.Lock()
	defer c.journalMu.Unlock()
	e := c.journal[key]
	if e == nil {
		u.entries = slices.Clone(u.entries)
		c.journal[key] = &journalEntry{update: u}
		return
	}
	e.update.entries = addSeen(u.format, e.update.entries, u.entries)
}

// Settle re-reads every tag this client appended to (cosign tags and fallback
// indexes) and merges back whatever of its own a concurrent writer dropped after
// the update's own check. Call it once at the end of a run; it costs one GET
// per tag when nothing was lost. It returns how many tags it repaired.
func (c *Client) Settle(ctx context.Context) (int, error) {
	c.journalMu.Lock()
	keys := make([]string, 0, len(c.journal))
	for k := range c.journal {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	updates := make([]tagUpdate, 0, len(keys))
	lasts := make([]v1.Hash, 0, len(keys))
	for _, k := range keys {
		u := c.journal[k].update
		u.entries = slices.Clone(u.entries)
		updates = append(updates, u)
		lasts = append(lasts, c.journal[k].last)
	}
	c.journalMu.Unlock()

	if c.o.deferCheck && len(updates) > 0 {
		// One wait for the whole run: the settle delay plus settleWindows
		// times the slowest of its windows.
		c.journalMu.Lock()
		w := c.maxWindow
		c.journalMu.Unlock()
		if err := sleep(ctx, c.o.settleDelay+settleWindows*w); err != nil {
			return 0, err
		}
	}
	errs := make([]error, len(updates))
	wrote := make([]bool, len(updates))
	// Tags are independent and a check mostly waits: check many at once.
	sem := make(chan struct{}, 16)
	var wg sync.WaitGroup
	for i, u := range updates {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			rc, err := c.repo(ctx, u.repo, true)
			if err != nil {
				errs[i] = err
				return
			}
			out, err := c.updateTagFrom(ctx, rc, u, true, c.o.deferCheck, lasts[i])
			if err != nil {
				errs[i] = err
				return
			}
			if out.writes > 0 {
				wrote[i] = true
				c.o.log.Warn("repaired a tag a concurrent writer had overwritten", "tag", u.repo.String()+":"+u.tag)
			}
		})
	}
	wg.Wait()
	repaired := 0
	for _, w := range wrote {
		if w {
			repaired++
		}
	}
	if err := errors.Join(errs...); err != nil {
		return repaired, fmt.Errorf("settling tag updates: %w", err)
	}
	return repaired, nil
}

// sameDescriptor compares what identifies an entry: digest, media type,
// artifact type and annotations.
func sameDescriptor(a, b v1.Descriptor) bool {
	if a.Digest != b.Digest || a.MediaType != b.MediaType || a.ArtifactType != b.ArtifactType || len(a.Annotations) != len(b.Annotations) {
		return false
	}
	for k, v := range a.Annotations {
		if bv, ok := b.Annotations[k]; !ok || bv != v {
			return false
		}
	}
	return true
}
