package options

import (
	"runtime"

	"github.com/spf13/pflag"
)

// Registry configures registry access.
type Registry struct {
	// Insecure lists hosts (host or host:port) spoken to over plain HTTP.
	Insecure []string
}

// AddFlags registers the flags.
func (o *Registry) AddFlags(fs *pflag.FlagSet) {
	fs.StringArrayVar(&o.Insecure, "insecure-registry", nil, "allow plain HTTP for this registry host[:port] only (repeatable)")
}

// Signing chooses the key or the keyless Sigstore services.
type Signing struct {
	// Key is a cosign key file, env://NAME, or a KMS URI; empty means keyless.
	Key string
	// FulcioURL, RekorURL and TimestampURL name a Sigstore instance.
	FulcioURL, RekorURL, TimestampURL string
	// RekorVersion is the major API version of the Rekor log: 1 or 2; 0
	// means the signing config's, else 1.
	RekorVersion uint32
	// SigningConfig is a signing_config.json naming the services instead.
	SigningConfig string
	// Sigstore names a known instance: public-good (the default) or github,
	// GitHub's own instance for private repositories (Fulcio and a timestamp
	// authority, no transparency log), which actions/attest uses for them.
	Sigstore string
	// NoTlog never uploads to a transparency log; Tlog always does (even for
	// a private repository).
	NoTlog, Tlog bool
	// NoTimestamp skips the timestamp authority.
	NoTimestamp bool
	Token
}

// AddFlags registers the flags.
func (o *Signing) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.Key, "key", "", "sign with this key: cosign.key file, env://NAME or a KMS URI (default: keyless, from the CI identity)")
	fs.StringVar(&o.FulcioURL, "fulcio-url", "", "Fulcio to get keyless certificates from (default: the public instance)")
	fs.StringVar(&o.RekorURL, "rekor-url", "", "Rekor transparency log (default: the public instance)")
	fs.Uint32Var(&o.RekorVersion, "rekor-version", 0, "major API version of the Rekor log: 1, or 2 for a tile-backed log (default: the signing config's, else 1)")
	fs.StringVar(&o.TimestampURL, "timestamp-url", "", "RFC 3161 timestamp authority URL (default: the public instance for keyless signing, none with --key)")
	fs.StringVar(&o.SigningConfig, "signing-config", "", "signing_config.json naming Fulcio, Rekor and the timestamp authority")
	fs.StringVar(&o.Sigstore, "sigstore", "", "Sigstore instance: public-good (default), or github: GitHub's own instance for private repositories on GitHub Enterprise Cloud, as actions/attest uses (no transparency log; verify with the trusted root from `gh attestation trusted-root`)")
	fs.BoolVar(&o.NoTlog, "no-tlog", false, "never upload to a transparency log")
	fs.BoolVar(&o.Tlog, "tlog", false, "upload to the transparency log even for a private or internal repository")
	fs.BoolVar(&o.NoTimestamp, "no-timestamp", false, "do not request RFC 3161 timestamps")
	o.Token.AddFlags(fs)
}

// Publish configures what is written where.
type Publish struct {
	// Format is bundle, legacy or both.
	Format string
	// Recursive also signs every platform of an index.
	Recursive bool
	// Jobs bounds parallel subjects.
	Jobs int
	// JSON prints the result on stdout as JSON.
	JSON bool
	// OutputDir saves every bundle written as a file.
	OutputDir string
	// GitHubStorageRecord writes a GitHub storage record for every image published: its
	// registry and repository, on the organisation's linked artifacts page.
	GitHubStorageRecord bool
	Registry
	Signing
	Timeout
}

// AddFlags registers the flags.
func (o *Publish) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.Format, "format", "both", "where to write: bundle (OCI referrers), legacy (cosign .sig/.att tags) or both")
	fs.BoolVar(&o.Recursive, "recursive", false, "for an index, also sign every platform image")
	fs.IntVar(&o.Jobs, "jobs", max(4, 2*runtime.NumCPU()), "how many images to sign and publish at once")
	fs.BoolVar(&o.JSON, "json", false, "print what was written as JSON on stdout")
	fs.StringVar(&o.OutputDir, "output-dir", "", "also save every bundle as a file in this directory")
	fs.BoolVar(&o.GitHubStorageRecord, "github-storage-record", false, "in GitHub Actions, also write a storage record of each image published (registry URL, repository) to the artifact metadata of the organisation owning GITHUB_REPOSITORY, with GITHUB_TOKEN (artifact-metadata: write); a refusal is a warning")
	o.Registry.AddFlags(fs)
	o.Signing.AddFlags(fs)
	o.Timeout.AddFlags(fs)
}

// Attest adds what `seal attest` attests.
type Attest struct {
	// Provenance generates and attests SLSA provenance.
	Provenance bool
	// SLSAVersion is 1 or 0.2.
	SLSAVersion string
	// Predicates are files to attest; Types their types, by position.
	Predicates []string
	Types      []string
	// Sign also signs the image.
	Sign bool
	// SubjectPaths are files to attest instead of an image.
	SubjectPaths []string
	// SubjectChecksums are checksums files (sha256sum's output) naming files to attest
	// instead of an image, by the digests they list.
	SubjectChecksums []string
	// VSA is a verification summary statement written by `seal verify
	// --vsa`, to sign and publish about the image it names.
	VSA string
	// NoUpload attests an image given by digest without reading or
	// writing the registry: the bundles are only written to OutputDir.
	NoUpload bool
	Publish
}

// AddFlags registers the flags.
func (o *Attest) AddFlags(fs *pflag.FlagSet) {
	fs.BoolVar(&o.Provenance, "provenance", false, "generate and attest SLSA provenance of this CI job")
	fs.StringVar(&o.SLSAVersion, "slsa-version", "1", "SLSA provenance version: 1 or 0.2")
	fs.StringArrayVar(&o.Predicates, "predicate", nil, "predicate file to attest: SBOM, scan report, custom JSON (repeatable)")
	fs.StringArrayVar(&o.Types, "type", nil, "type of the matching --predicate: a URI or cosign's slsaprovenance, slsaprovenance1, spdx, spdxjson, cyclonedx, vuln, custom, or vsa (a SLSA verification summary) (detected when omitted)")
	fs.BoolVar(&o.Sign, "sign", false, "also sign the image, in the same run")
	fs.StringArrayVar(&o.SubjectPaths, "subject-path", nil, "attest files matching this glob instead of an image (writes bundle files)")
	fs.StringArrayVar(&o.SubjectChecksums, "subject-checksums", nil, "attest the files a checksums FILE lists, by its SHA-256 digests, instead of an image: the output of sha256sum or shasum -a 256 (text or binary mode), or --tag's BSD lines (writes bundle files; repeatable)")
	fs.StringVar(&o.VSA, "vsa", "", "attest the SLSA Verification Summary that seal verify --vsa wrote to FILE; the IMAGE must be the one it verified")
	fs.BoolVar(&o.NoUpload, "no-upload", false, "do not read or write the registry: attest the IMAGE given by digest (NAME@sha256:HEX) in bundle files in --output-dir only")
	o.Publish.AddFlags(fs)
}
