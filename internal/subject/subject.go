package subject

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Subject is one artifact: a name and its digests (algorithm -> lowercase hex).
type Subject struct {
	Name   string
	Digest map[string]string
}

var hexLen = map[string]int{"sha256": 64, "sha384": 96, "sha512": 128, "sha1": 40, "gitCommit": 40}

// Parse reads "NAME@ALG:HEX", e.g. "ghcr.io/o/app@sha256:abc...".
func Parse(s string) (Subject, error) {
	at := strings.LastIndex(s, "@")
	if at <= 0 {
		return Subject{}, fmt.Errorf("subject %q: want NAME@sha256:HEX", s)
	}
	name, dig := s[:at], s[at+1:]
	alg, h, ok := strings.Cut(dig, ":")
	if !ok {
		return Subject{}, fmt.Errorf("subject %q: digest %q has no algorithm: want sha256:HEX", s, dig)
	}
	if err := checkDigest(alg, h); err != nil {
		return Subject{}, fmt.Errorf("subject %q: %w", s, err)
	}
	return Subject{Name: name, Digest: map[string]string{alg: h}}, nil
}

func checkDigest(alg, h string) error {
	n, ok := hexLen[alg]
	if !ok {
		return fmt.Errorf("unsupported digest algorithm %q (use sha256, sha384 or sha512)", alg)
	}
	if len(h) != n {
		return fmt.Errorf("%s digest must be %d hex characters, got %d", alg, n, len(h))
	}
	if _, err := hex.DecodeString(h); err != nil || strings.ToLower(h) != h {
		return fmt.Errorf("%s digest must be lowercase hex", alg)
	}
	return nil
}

// ErrNoMatch is returned when a glob matches no regular file.
var ErrNoMatch = errors.New("no file matches")

// FromGlob hashes every regular file matching pattern (filepath.Glob syntax)
// with SHA-256. Names are the paths as matched, with forward slashes.
func FromGlob(ctx context.Context, pattern string) ([]Subject, error) {
	paths, err := filepath.Glob(pattern)
	if err != nil {
		return nil, fmt.Errorf("subject path %q: %w", pattern, err)
	}
	sort.Strings(paths)
	var out []Subject
	for _, p := range paths {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		fi, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("subject path %q: %w", p, err)
		}
		if !fi.Mode().IsRegular() {
			continue
		}
		h, err := hashFile(p)
		if err != nil {
			return nil, err
		}
		out = append(out, Subject{Name: filepath.ToSlash(p), Digest: map[string]string{"sha256": h}})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("subject path %q: %w", pattern, ErrNoMatch)
	}
	return out, nil
}

func hashFile(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", fmt.Errorf("hashing %s: %w", p, err)
	}
	defer f.Close()
	// A device or a pipe may never end (/dev/zero): only files are subjects.
	if st, err := f.Stat(); err != nil {
		return "", fmt.Errorf("hashing %s: %w", p, err)
	} else if !st.Mode().IsRegular() {
		return "", fmt.Errorf("hashing %s: not a regular file", p)
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("hashing %s: %w", p, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
