// Package keys loads and generates the signing keys Seal uses when it does
// not sign keylessly.
//
// Teams that already sign with cosign keep their keys: Load accepts the
// scrypt-and-secretbox encrypted PEM that `cosign generate-key-pair` writes
// (both the current ENCRYPTED SIGSTORE PRIVATE KEY and the older ENCRYPTED
// COSIGN PRIVATE KEY label), plain PKCS#8, SEC 1 and PKCS#1 PEM keys, a key
// held in a CI variable (env://NAME, where masked single-line variables may
// hold the PEM base64-encoded), and keys that never leave a KMS
// (hashivault://, openbao:// and awskms://). Generate writes a new pair in
// exactly cosign's format, so the files work with either tool.
//
// AWS KMS keys (awskms://) are opened by internal/awskms, which takes the
// URI forms sigstore's client parses and signs through the AWS SDK's KMS
// client, with the credential sources CI has.
//
// Decrypting a cosign key costs a fraction of a second of scrypt (64 MiB of
// memory-hard work, done by go-securesystemslib and golang.org/x/crypto as
// in cosign), so Load does it once and returns a Keypair that is immutable and safe to share between the
// goroutines that sign many manifests in parallel. The Keypair satisfies
// sigstore-go's sign.Keypair, so it plugs straight into sign.Bundle, and it
// signs data the way cosign does (ECDSA P-256 with SHA-256, P-384 with SHA-384,
// P-521 with SHA-512, RSA PKCS#1 v1.5 with SHA-256, Ed25519 pure), so legacy
// cosign signatures it makes verify with `cosign verify --key`. LoadPublic is
// the verifying half: it returns a PublicKey that checks signatures with the
// same algorithm choice. One exception is cosign's, not ours: cosign v2.6 and
// v3.1 verify every ECDSA key file with SHA-256, so they reject P-384 and
// P-521 signatures, their own included; P-256 is the key to use with cosign.
//
// Errors name the file, variable or URI involved but never contain a
// password or key material, and a wrong password is reported as such
// (ErrWrongPassword) rather than as a parsing failure.
package keys
