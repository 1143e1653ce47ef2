package oci

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"net/http"
	"sort"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// The registry protocol has no locking, and few registries honour If-Match on
// manifests, so a tag that several jobs append to (a cosign .sig/.att tag, a
// referrers fallback index) is a read-modify-write race: a writer that read
// before its neighbour wrote overwrites the neighbour's entries (cosign#2432).
//
// updateTag closes that race from the writer's side. It merges its entries into
// what it read and writes; then it waits — longer than a neighbour's own
// read-to-write window, which it estimates from its own — and reads the tag
// again. If its entries are gone it merges them into what is there now and
// writes again; if they are present its part is done, and whoever removed them
// in the meantime has by then re-read and re-merged too, since every writer
// runs the same loop. The read that checks is also the read that starts the
// next round, so a clean update costs one GET, the blobs of the merge, one PUT
// and one GET. What a later, slower writer may still drop after the check is
// caught by Settle, which re-runs the loop for every tag the client wrote.

// tagPlan is a merged document ready to write.
type tagPlan struct {
	body      []byte
	mediaType types.MediaType
	blobs     [][]byte // uploaded before the document, e.g. a config
}

// tagFormat reads and writes one kind of append-only tag document.
type tagFormat interface {
	// parse splits a document (nil for a missing tag) into its entries and the
	// rest, which render keeps.
	parse(cur *fetched) (entries []v1.Descriptor, rest any, err error)
	// render builds the document holding entries.
	render(entries []v1.Descriptor, rest any) (*tagPlan, error)
	// key identifies an entry: two entries with one key are the same entry.
	key(v1.Descriptor) string
}

// tagUpdate appends a writer's entries to the document behind a tag.
type tagUpdate struct {
	repo    name.Repository
	tag     string
	format  tagFormat
	entries []v1.Descriptor
}

// mergeEntries adds ours and the seen entries that have gone missing to have.
// An entry of ours replaces an existing one with its key but other metadata.
func mergeEntries(f tagFormat, have, ours, seen []v1.Descriptor) ([]v1.Descriptor, bool) {
	out := slices.Clone(have)
	index := make(map[string]int, len(out))
	for i, d := range out {
		index[f.key(d)] = i
	}
	changed := false
	for _, d := range ours {
		k := f.key(d)
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
		k := f.key(d)
		if _, ok := index[k]; !ok {
			index[k] = len(out)
			out = append(out, d)
			changed = true
		}
	}
	return out, changed
}

// addSeen remembers the entries of a read, for mergeEntries.
func addSeen(f tagFormat, seen, have []v1.Descriptor) []v1.Descriptor {
	known := make(map[string]bool, len(seen))
	for _, d := range seen {
		known[f.key(d)] = true
	}
	for _, d := range have {
		if k := f.key(d); !known[k] {
			known[k] = true
			seen = append(seen, d)
		}
	}
	return seen
}

// tagOutcome reports what updateTag did.
type tagOutcome struct {
	wrote  bool
	rounds int
	final  *fetched // the document as last read, holding our entries
}

// updateTag runs the merge-write-check loop described above.
func (c *Client) updateTag(ctx context.Context, rc *repoClient, u tagUpdate) (tagOutcome, error) {
	var out tagOutcome
	delay := c.o.settleDelay
	// Entries seen in earlier reads are merged back too: a writer that read a
	// stale document may drop a neighbour's entry after the neighbour checked,
	// and every writer that saw the entry then restores it.
	var seen []v1.Descriptor
	for round := 0; round <= c.o.tagRounds; round++ {
		start := time.Now()
		cur, err := c.getManifest(ctx, rc, u.tag)
		if errors.Is(err, ErrNotFound) {
			cur, err = nil, nil
		}
		if err != nil {
			return out, fmt.Errorf("reading tag %s:%s: %w", u.repo, u.tag, err)
		}
		have, rest, err := u.format.parse(cur)
		if err != nil {
			return out, fmt.Errorf("reading tag %s:%s: %w", u.repo, u.tag, err)
		}
		merged, changed := mergeEntries(u.format, have, u.entries, seen)
		seen = addSeen(u.format, seen, have)
		if !changed {
			out.final = cur
			return out, nil
		}
		if round == c.o.tagRounds {
			break
		}
		plan, err := u.format.render(merged, rest)
		if err != nil {
			return out, fmt.Errorf("merging into tag %s:%s: %w", u.repo, u.tag, err)
		}
		if out.wrote {
			c.o.log.Warn("a concurrent writer dropped our entries from a tag; merging them back",
				"tag", u.repo.String()+":"+u.tag, "round", round)
		}
		err = c.parallel(len(plan.blobs), func(i int) error {
			_, err := c.putBlob(ctx, rc, plan.blobs[i])
			return err
		})
		if err != nil {
			return out, err
		}
		etag := ""
		if cur != nil {
			etag = cur.etag
		}
		_, err = c.putManifest(ctx, rc, u.tag, plan.mediaType, plan.body, etag)
		var re *RegistryError
		if errors.As(err, &re) && re.StatusCode == http.StatusPreconditionFailed {
			// Someone wrote between our read and write: merge again at once.
			out.rounds++
			continue
		}
		if err != nil {
			return out, fmt.Errorf("writing tag %s:%s: %w", u.repo, u.tag, err)
		}
		out.wrote = true
		out.rounds++
		window := time.Since(start)
		if err := sleep(ctx, delay+2*window+rand.N(window+time.Millisecond)); err != nil {
			return out, err
		}
		delay = delay * 3 / 2
	}
	return out, fmt.Errorf("updating tag %s:%s: our entries were still missing after %d writes; too many concurrent writers",
		u.repo, u.tag, c.o.tagRounds)
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

// journalEntry remembers the tag updates a client made, for Settle.
type journalEntry struct {
	updates []tagUpdate
}

func (c *Client) remember(u tagUpdate) {
	key := u.repo.Name() + ":" + u.tag
	c.journalMu.Lock()
	defer c.journalMu.Unlock()
	e := c.journal[key]
	if e == nil {
		e = &journalEntry{}
		c.journal[key] = e
	}
	e.updates = append(e.updates, u)
}

// Settle re-reads every tag this client appended to (cosign tags and fallback
// indexes) and merges back whatever a concurrent writer dropped after the
// update's own check. Call it once at the end of a run; it costs one GET per
// tag when nothing was lost. It returns how many tags it repaired.
func (c *Client) Settle(ctx context.Context) (int, error) {
	c.journalMu.Lock()
	keys := make([]string, 0, len(c.journal))
	for k := range c.journal {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var updates []tagUpdate
	for _, k := range keys {
		updates = append(updates, c.journal[k].updates...)
	}
	c.journalMu.Unlock()

	repaired := 0
	var errs []error
	for _, u := range updates {
		rc, err := c.repo(ctx, u.repo, true)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out, err := c.updateTag(ctx, rc, u)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if out.wrote {
			repaired++
			c.o.log.Warn("repaired a tag a concurrent writer had overwritten", "tag", u.repo.String()+":"+u.tag)
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
