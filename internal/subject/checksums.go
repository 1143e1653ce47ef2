package subject

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// ErrChecksums is wrapped by every error about the content of a checksums file.
var ErrChecksums = errors.New("malformed checksums file")

// maxChecksumLine bounds one line: a digest, a mode marker and a path.
const maxChecksumLine = 64 << 10

// FromChecksumsFile reads the subjects of a checksums file (see FromChecksums).
func FromChecksumsFile(path string) ([]Subject, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading checksums: %w", err)
	}
	defer f.Close()
	subs, err := FromChecksums(f)
	if err != nil {
		return nil, fmt.Errorf("checksums file %s: %w", path, err)
	}
	return subs, nil
}

// FromChecksums reads SHA-256 checksums as `sha256sum` and `shasum -a 256` write them, the
// checksums file of a release, and returns one subject per file named, in order:
//
//	HEX  NAME    text mode (two spaces)
//	HEX *NAME    binary mode
//	HEX UNAME    shasum's universal-newlines mode; HEX ^NAME its BITS mode
//	\HEX  NA\\ME a name with a backslash or a newline, escaped as GNU coreutils does
//	SHA256 (NAME) = HEX   the BSD format (sha256sum --tag, shasum --tag)
//
// Blank lines are skipped and a line may end in CRLF. The same name listed twice with the same
// digest counts once; with another digest, or any line not of these forms (another algorithm's
// digest included), is an error naming the line, wrapping ErrChecksums. The files are not read:
// the checksums are what is attested.
func FromChecksums(r io.Reader) ([]Subject, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxChecksumLine)
	var out []Subject
	seen := map[string]string{}
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSuffix(sc.Text(), "\r")
		if strings.TrimSpace(line) == "" {
			continue
		}
		name, hexDigest, err := parseChecksumLine(line)
		if err != nil {
			return nil, fmt.Errorf("%w: line %d: %v", ErrChecksums, n, err)
		}
		hexDigest = strings.ToLower(hexDigest)
		if prev, ok := seen[name]; ok {
			if prev != hexDigest {
				return nil, fmt.Errorf("%w: line %d: %q is listed again with another digest", ErrChecksums, n, name)
			}
			continue
		}
		seen[name] = hexDigest
		out = append(out, Subject{Name: name, Digest: map[string]string{"sha256": hexDigest}})
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, fmt.Errorf("%w: a line is longer than %d bytes", ErrChecksums, maxChecksumLine)
		}
		return nil, fmt.Errorf("reading checksums: %w", err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no checksum in it", ErrChecksums)
	}
	return out, nil
}

// parseChecksumLine returns the name and lowercase hex digest of one line.
func parseChecksumLine(line string) (name, hexDigest string, err error) {
	if rest, ok := strings.CutPrefix(line, "SHA256 ("); ok {
		i := strings.LastIndex(rest, ") = ")
		if i <= 0 {
			return "", "", fmt.Errorf("want SHA256 (NAME) = HEX")
		}
		name, hexDigest = rest[:i], rest[i+len(") = "):]
		return name, hexDigest, checkChecksum(hexDigest)
	}
	if alg, _, ok := strings.Cut(line, " ("); ok && alg != "" && strings.Trim(alg, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") == "" {
		return "", "", fmt.Errorf("only SHA-256 checksums are read, not %s: want SHA256 (NAME) = HEX", alg)
	}
	escaped := strings.HasPrefix(line, `\`)
	if escaped {
		line = line[1:]
	}
	hexDigest, rest, ok := strings.Cut(line, " ")
	if !ok {
		return "", "", fmt.Errorf("want HEX, a space, a mode marker (a space for text, * for binary) and the file name")
	}
	if err := checkChecksum(hexDigest); err != nil {
		return "", "", err
	}
	if rest == "" || !strings.ContainsRune(" *U^", rune(rest[0])) {
		return "", "", fmt.Errorf("after the digest, want a space and a mode marker (a space for text, * for binary), then the file name")
	}
	name = rest[1:]
	if escaped {
		if name, err = unescapeChecksumName(name); err != nil {
			return "", "", err
		}
	}
	if name == "" {
		return "", "", fmt.Errorf("no file name after the digest")
	}
	return name, hexDigest, nil
}

func checkChecksum(h string) error {
	switch {
	case len(h) == 128 || len(h) == 96 || len(h) == 40 || len(h) == 32:
		return fmt.Errorf("the digest has %d hex digits, not SHA-256's 64: give the output of sha256sum or shasum -a 256", len(h))
	case len(h) != 64:
		return fmt.Errorf("%q is not a SHA-256 digest (64 hex digits)", truncate(h, 80))
	}
	for _, c := range h {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') && (c < 'A' || c > 'F') {
			return fmt.Errorf("%q is not a SHA-256 digest (64 hex digits)", h)
		}
	}
	return nil
}

// unescapeChecksumName undoes coreutils' escaping of a name on a line starting with a
// backslash: \\ is a backslash, \n a newline (and \r a carriage return).
func unescapeChecksumName(s string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			b.WriteByte(s[i])
			continue
		}
		if i+1 == len(s) {
			return "", fmt.Errorf("the escaped name ends in a lone backslash")
		}
		i++
		switch s[i] {
		case '\\':
			b.WriteByte('\\')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		default:
			return "", fmt.Errorf("unknown escape \\%c in the name", s[i])
		}
	}
	return b.String(), nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
