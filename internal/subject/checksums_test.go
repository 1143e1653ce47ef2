package subject

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestFromChecksums(t *testing.T) {
	a, b := strings.Repeat("ab", 32), strings.Repeat("0c", 32)
	sub := func(name, h string) Subject { return Subject{Name: name, Digest: map[string]string{"sha256": h}} }
	for _, tc := range []struct {
		name string
		in   string
		want []Subject
	}{
		{"text mode", a + "  seal_linux_amd64\n" + b + "  seal_darwin_arm64\n", []Subject{sub("seal_linux_amd64", a), sub("seal_darwin_arm64", b)}},
		{"binary mode", a + " *dist/seal.tar.gz\n", []Subject{sub("dist/seal.tar.gz", a)}},
		{"shasum universal and bits modes", a + " Ux.txt\n" + b + " ^y.bin\n", []Subject{sub("x.txt", a), sub("y.bin", b)}},
		{"uppercase hex, CRLF, blank lines", "\r\n" + strings.ToUpper(a) + "  x\r\n\n", []Subject{sub("x", a)}},
		{"a name with spaces", a + "  my file.txt\n", []Subject{sub("my file.txt", a)}},
		{"escaped name", `\` + a + `  dir\\a\nb` + "\n", []Subject{sub("dir\\a\nb", a)}},
		{"BSD tag format", "SHA256 (seal (1).zip) = " + a + "\n", []Subject{sub("seal (1).zip", a)}},
		{"duplicate with the same digest", a + "  x\n" + a + " *x\n", []Subject{sub("x", a)}},
		{"no final newline", a + "  x", []Subject{sub("x", a)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := FromChecksums(strings.NewReader(tc.in))
			if err != nil {
				t.Fatalf("FromChecksums() = %v", err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("FromChecksums() (-want +got):\n%s", diff)
			}
		})
	}
}

func TestFromChecksumsMalformed(t *testing.T) {
	a := strings.Repeat("ab", 32)
	for _, tc := range []struct {
		name, in, want string
	}{
		{"empty", "\n\n", "no checksum"},
		{"no name", a + "\n", "line 1: want HEX"},
		{"one space, no marker", "x\n" + a + " x\n", "line 1: "},
		{"unknown marker", a + " #x\n", "line 1: after the digest"},
		{"marker without a name", a + "  \n", "line 1: no file name"},
		{"short digest", "abcd  x\n", `line 1: "abcd" is not a SHA-256 digest`},
		{"not hex", strings.Repeat("zz", 32) + "  x\n", "is not a SHA-256 digest"},
		{"sha512", strings.Repeat("ab", 64) + "  x\n", "128 hex digits, not SHA-256's 64"},
		{"md5", strings.Repeat("ab", 16) + "  x\n", "32 hex digits"},
		{"BSD with another algorithm", "SHA512 (x) = " + strings.Repeat("ab", 64) + "\n", "line 1: only SHA-256"},
		{"BSD without digest", "SHA256 (x)\n", "want SHA256 (NAME) = HEX"},
		{"bad escape", `\` + a + `  a\tb` + "\n", `unknown escape \t`},
		{"same name, other digest", a + "  x\n" + strings.Repeat("cd", 32) + "  x\n", `line 2: "x" is listed again with another digest`},
		{"third line", a + "  x\n" + a + "  y\ngarbage\n", "line 3:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := FromChecksums(strings.NewReader(tc.in))
			if err == nil || !errors.Is(err, ErrChecksums) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("FromChecksums() = %v, %v; want ErrChecksums containing %q", got, err, tc.want)
			}
		})
	}
}

func TestFromChecksumsFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "checksums.txt")
	if _, err := FromChecksumsFile(p); err == nil || !strings.Contains(err.Error(), "reading checksums") {
		t.Errorf("FromChecksumsFile(missing) = %v", err)
	}
	if err := os.WriteFile(p, []byte("nonsense\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := FromChecksumsFile(p); err == nil || !strings.Contains(err.Error(), p+": malformed checksums file: line 1") {
		t.Errorf("FromChecksumsFile(malformed) = %v, want the file and line named", err)
	}
}
