package limits

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// Size limits of what Seal reads from local files and standard input.
const (
	// Predicate bounds a predicate file (an SBOM, a scan report, custom
	// JSON): SBOMs of large images run to tens of megabytes, and what Seal
	// attests must stay within what it reads back from a registry (an
	// attestation blob, base64 inside its envelope, of at most 128 MiB).
	Predicate = 64 << 20
	// Document bounds the small JSON documents Seal reads: bundles, trusted
	// roots, signing configs, verification summaries, TUF roots.
	Document = 8 << 20
	// Token bounds an identity token file.
	Token = 1 << 20
	// Event bounds a CI event file (GitHub's GITHUB_EVENT_PATH), which
	// carries a push's commits or a pull request's body.
	Event = 32 << 20
)

// ErrTooLarge is wrapped by ReadFile's error for an input over its limit.
var ErrTooLarge = errors.New("input too large")

// ReadFile reads the file at path, or stdin when path is "-", refusing more
// than limit bytes. flag names the input in the error ("--predicate"), so
// that it tells the user what to fix. A regular file over the limit is
// refused before it is read; a stream (a pipe, a device such as /dev/zero)
// is read up to one byte past the limit.
func ReadFile(flag, path string, limit int64, stdin io.Reader) ([]byte, error) {
	if path == "-" {
		if stdin == nil {
			return nil, fmt.Errorf("%s -: no standard input", flag)
		}
		return readLimited(flag, "standard input", stdin, limit)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", flag, path, unwrapPath(err))
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", flag, path, unwrapPath(err))
	}
	if st.IsDir() {
		return nil, fmt.Errorf("%s %s: is a directory, not a file", flag, path)
	}
	if st.Mode().IsRegular() && st.Size() > limit {
		return nil, fmt.Errorf("%s %s: %w: %d bytes, more than the limit of %s", flag, path, ErrTooLarge, st.Size(), Size(limit))
	}
	return readLimited(flag, path, f, limit)
}

func readLimited(flag, what string, r io.Reader, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%s %s: reading: %w", flag, what, unwrapPath(err))
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s %s: %w: more than the limit of %s", flag, what, ErrTooLarge, Size(limit))
	}
	return b, nil
}

// unwrapPath drops the *fs.PathError around err, whose text repeats the path
// the caller already names.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// Size formats a byte count as the limits are written: 64 MiB, 512 KiB, 100 bytes.
func Size(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}
