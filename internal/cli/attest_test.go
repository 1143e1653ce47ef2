package cli

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestAttestNoUpload attests an image by digest without a registry (what the action's
// push-to-registry: false runs): the statement lands in a bundle file named after the digest,
// about that digest; and the refusals say what to fix.
func TestAttestNoUpload(t *testing.T) {
	clearCI(t)
	t.Setenv("COSIGN_PASSWORD", "attest-no-upload")
	dir := t.TempDir()
	key := filepath.Join(dir, "cosign")
	if _, stderr, code := run(t, "generate-key-pair", "--output-key-prefix", key); code != 0 {
		t.Fatalf("generate-key-pair: exit %d: %s", code, stderr)
	}
	hex := strings.Repeat("4c", 32)
	// No registry listens here: a read would fail.
	image := "127.0.0.1:9/acme/app@sha256:" + hex
	out := filepath.Join(dir, "out")
	stdout, stderr, code := run(t, "attest", "--no-upload", "--provenance", "--key", key+".key", "--output-dir", out, "--json", image)
	if code != 0 {
		t.Fatalf("seal attest --no-upload: exit %d: %s", code, stderr)
	}
	var listed struct {
		Bundles []fileBundle `json:"bundles"`
	}
	if err := json.Unmarshal([]byte(stdout), &listed); err != nil {
		t.Fatalf("reading --json: %v\n%s", err, stdout)
	}
	want := filepath.Join(out, "sha256-"+hex+".provenance.sigstore.json")
	if len(listed.Bundles) != 1 || listed.Bundles[0].Bundle != want || listed.Bundles[0].Subject != image {
		t.Fatalf("--json lists %+v, want one bundle %s about %s", listed.Bundles, want, image)
	}
	b, err := os.ReadFile(want)
	if err != nil {
		t.Fatal(err)
	}
	var bundle struct {
		DSSE struct {
			Payload string `json:"payload"`
		} `json:"dsseEnvelope"`
	}
	if err := json.Unmarshal(b, &bundle); err != nil {
		t.Fatalf("reading bundle: %v", err)
	}
	payload, err := base64.StdEncoding.DecodeString(bundle.DSSE.Payload)
	if err != nil {
		t.Fatalf("decoding payload: %v", err)
	}
	var st struct {
		Subject []struct {
			Name   string            `json:"name"`
			Digest map[string]string `json:"digest"`
		} `json:"subject"`
	}
	if err := json.Unmarshal(payload, &st); err != nil || len(st.Subject) != 1 || st.Subject[0].Digest["sha256"] != hex {
		t.Errorf("statement subject = %+v (%v), want the digest %s", st.Subject, err, hex)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--provenance", "--output-dir", out, "127.0.0.1:9/acme/app:1.0"}, "give the IMAGE by digest"},
		{[]string{"--provenance", "--sign", "--output-dir", out, image}, "drop --sign"},
		{[]string{"--provenance", "--recursive", "--output-dir", out, image}, "drop --recursive"},
		{[]string{"--provenance", image}, "give --output-dir"},
		{[]string{"--provenance", "--subject-path", "*.go", "--output-dir", out}, "--no-upload applies to an IMAGE"},
	} {
		args := append([]string{"attest", "--no-upload", "--key", key + ".key"}, tc.args...)
		if _, stderr, code := run(t, args...); code != 2 || !strings.Contains(stderr, tc.want) {
			t.Errorf("seal %q: exit %d, want 2 and %q:\n%s", args, code, tc.want, stderr)
		}
	}
}

// TestAttestSubjectChecksums attests the files a checksums file lists, by its digests (the
// files themselves need not be here), together with files matched by --subject-path; a
// malformed line is refused before anything is signed, naming the line.
func TestAttestSubjectChecksums(t *testing.T) {
	clearCI(t)
	t.Setenv("COSIGN_PASSWORD", "attest-checksums")
	dir := t.TempDir()
	key := filepath.Join(dir, "cosign")
	if _, stderr, code := run(t, "generate-key-pair", "--output-key-prefix", key); code != 0 {
		t.Fatalf("generate-key-pair: exit %d: %s", code, stderr)
	}
	a, b := strings.Repeat("0a", 32), strings.Repeat("0b", 32)
	sums := filepath.Join(dir, "checksums.txt")
	if err := os.WriteFile(sums, []byte(a+"  seal_linux_amd64.tar.gz\n"+b+" *seal_windows_amd64.zip\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	stdout, stderr, code := run(t, "attest", "--provenance", "--key", key+".key", "--subject-checksums", sums, "--output-dir", out, "--json")
	if code != 0 {
		t.Fatalf("seal attest --subject-checksums: exit %d: %s", code, stderr)
	}
	var listed struct {
		Bundles []fileBundle `json:"bundles"`
	}
	if err := json.Unmarshal([]byte(stdout), &listed); err != nil {
		t.Fatalf("reading --json: %v\n%s", err, stdout)
	}
	want := map[string]string{"seal_linux_amd64.tar.gz": a, "seal_windows_amd64.zip": b}
	if len(listed.Bundles) != 2 {
		t.Fatalf("--json lists %d bundles, want 2: %+v", len(listed.Bundles), listed.Bundles)
	}
	for _, l := range listed.Bundles {
		raw, err := os.ReadFile(l.Bundle)
		if err != nil {
			t.Fatal(err)
		}
		var bundle struct {
			DSSE struct {
				Payload string `json:"payload"`
			} `json:"dsseEnvelope"`
		}
		if err := json.Unmarshal(raw, &bundle); err != nil {
			t.Fatal(err)
		}
		payload, _ := base64.StdEncoding.DecodeString(bundle.DSSE.Payload)
		var st struct {
			Subject []struct {
				Name   string            `json:"name"`
				Digest map[string]string `json:"digest"`
			} `json:"subject"`
		}
		if err := json.Unmarshal(payload, &st); err != nil || len(st.Subject) != 1 || want[st.Subject[0].Name] != st.Subject[0].Digest["sha256"] {
			t.Errorf("bundle %s is about %+v, want one of %v", l.Bundle, st.Subject, want)
		}
	}

	bad := filepath.Join(dir, "bad.txt")
	if err := os.WriteFile(bad, []byte(a+"  ok\n"+strings.Repeat("0c", 64)+"  big.iso\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A file named in both, with another digest than the checksums file's.
	local := filepath.Join(dir, "seal_linux_amd64.tar.gz")
	if err := os.WriteFile(local, []byte("not the released file"), 0o644); err != nil {
		t.Fatal(err)
	}
	clash := filepath.Join(dir, "clash.txt")
	if err := os.WriteFile(clash, []byte(a+"  "+local+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--subject-checksums", bad}, bad + ": malformed checksums file: line 2: the digest has 128 hex digits"},
		{[]string{"--subject-checksums", filepath.Join(dir, "missing.txt")}, "reading checksums"},
		{[]string{"--subject-checksums", clash, "--subject-path", local}, "is named twice with different SHA-256 digests"},
		{[]string{"--subject-checksums", sums, "127.0.0.1:9/acme/app@sha256:" + a}, "not both"},
	} {
		args := append([]string{"attest", "--provenance", "--key", key + ".key", "--output-dir", filepath.Join(dir, "refused")}, tc.args...)
		if _, stderr, code := run(t, args...); code != 2 || !strings.Contains(stderr, tc.want) {
			t.Errorf("seal %q: exit %d, want 2 and %q:\n%s", args, code, tc.want, stderr)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "refused")); err == nil {
		t.Errorf("a refused run wrote bundles")
	}
}

// TestActionInlineInputs runs the attest step with the checksums and the predicate given as the
// inputs' values, as actions/attest takes them: the step writes them to output-dir and attests
// the listed files with that predicate.
func TestActionInlineInputs(t *testing.T) {
	clearCI(t)
	t.Setenv("COSIGN_PASSWORD", "inline-inputs")
	dir := t.TempDir()
	key := filepath.Join(dir, "cosign")
	if _, stderr, code := run(t, "generate-key-pair", "--output-key-prefix", key); code != 0 {
		t.Fatalf("generate-key-pair: exit %d: %s", code, stderr)
	}
	a, b := strings.Repeat("0a", 32), strings.Repeat("0b", 32)
	out := filepath.Join(dir, "out")
	for k, v := range map[string]string{
		"INPUT_SUBJECT_CHECKSUMS": a + "  app_linux.tar.gz\n" + b + " *app_windows.zip",
		"INPUT_PREDICATE":         `{"release": "v1.2.0"}`,
		"INPUT_PREDICATE_TYPE":    "https://example.com/release/v1",
		"INPUT_KEY":               key + ".key",
		"INPUT_OUTPUT_DIR":        out,
	} {
		t.Setenv(k, v)
	}
	if _, stderr, code := run(t, "action", "attest"); code != 0 {
		t.Fatalf("seal action attest: exit %d:\n%s", code, stderr)
	}
	if b, err := os.ReadFile(filepath.Join(out, "predicate.json")); err != nil || string(b) != "{\"release\": \"v1.2.0\"}\n" {
		t.Errorf("predicate.json = %q, %v", b, err)
	}
	for _, f := range []string{"app_linux.tar.gz", "app_windows.zip"} {
		raw, err := os.ReadFile(filepath.Join(out, f+".example.com_release_v1.sigstore.json"))
		if err != nil {
			t.Errorf("no bundle for %s: %v", f, err)
			continue
		}
		var bundle struct {
			DSSE struct {
				Payload string `json:"payload"`
			} `json:"dsseEnvelope"`
		}
		_ = json.Unmarshal(raw, &bundle)
		payload, _ := base64.StdEncoding.DecodeString(bundle.DSSE.Payload)
		if !strings.Contains(string(payload), `"release":"v1.2.0"`) && !strings.Contains(string(payload), `"release": "v1.2.0"`) {
			t.Errorf("the statement about %s does not carry the inline predicate: %s", f, payload)
		}
	}
}
