package keys

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"

	"github.com/secure-systems-lab/go-securesystemslib/encrypted"
)

// PEM block types, as cosign names them.
const (
	pemSigstoreEncrypted = "ENCRYPTED SIGSTORE PRIVATE KEY" // cosign generate-key-pair today
	pemCosignEncrypted   = "ENCRYPTED COSIGN PRIVATE KEY"   // cosign before v1.x renamed it
	pemPKCS8             = "PRIVATE KEY"
	pemSEC1              = "EC PRIVATE KEY"
	pemPKCS1             = "RSA PRIVATE KEY"
	pemPublicKey         = "PUBLIC KEY"
	pemPKCS1Public       = "RSA PUBLIC KEY"
	pemECParameters      = "EC PARAMETERS" // `openssl ecparam -genkey` puts this first
)

// ErrWrongPassword reports that an encrypted cosign key did not decrypt with
// the password given; callers may ask for the password again.
var ErrWrongPassword = errors.New("wrong password?")

// ParsePrivateKey parses a private key in any format Load accepts from a
// file, decrypting it with the WithPassword option if it is a cosign key.
func ParsePrivateKey(data []byte, opts ...Option) (*Keypair, error) {
	o, err := makeOptions(opts)
	if err != nil {
		return nil, err
	}
	return parsePrivateKey(data, o)
}

// ParsePublicKey parses a PKIX "PUBLIC KEY" (cosign.pub) or PKCS#1
// "RSA PUBLIC KEY" PEM block.
func ParsePublicKey(data []byte) (*PublicKey, error) {
	block, err := firstBlock(data)
	if err != nil {
		return nil, err
	}
	var pub crypto.PublicKey
	switch block.Type {
	case pemPublicKey:
		pub, err = x509.ParsePKIXPublicKey(block.Bytes)
	case pemPKCS1Public:
		pub, err = x509.ParsePKCS1PublicKey(block.Bytes)
	case pemSigstoreEncrypted, pemCosignEncrypted, pemPKCS8, pemSEC1, pemPKCS1:
		return nil, fmt.Errorf("parsing public key: found a private key (%s); verification needs the public key, e.g. cosign.pub", block.Type)
	default:
		return nil, fmt.Errorf("parsing public key: unsupported PEM type %s: want %q", quoteType(block.Type), pemPublicKey)
	}
	if err != nil {
		return nil, fmt.Errorf("parsing %s: %w", block.Type, err)
	}
	return newPublicKey(pub)
}

func parsePrivateKey(data []byte, o *options) (*Keypair, error) {
	block, err := firstBlock(data)
	if err != nil {
		return nil, err
	}
	if _, ok := block.Headers["Proc-Type"]; ok {
		// RFC 1423 encryption is insecure and deprecated in Go; cosign
		// cannot read it either.
		return nil, fmt.Errorf("parsing %s: legacy PEM encryption (Proc-Type) is not supported; re-encrypt the key with `cosign import-key-pair`", block.Type)
	}
	var key any
	switch block.Type {
	case pemSigstoreEncrypted, pemCosignEncrypted:
		der, err := decrypt(block.Bytes, o)
		if err != nil {
			return nil, err
		}
		key, err = x509.ParsePKCS8PrivateKey(der)
		clear(der)
		if err != nil {
			return nil, fmt.Errorf("parsing decrypted cosign private key: %w", err)
		}
	case pemPKCS8:
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case pemSEC1:
		key, err = x509.ParseECPrivateKey(block.Bytes)
	case pemPKCS1:
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case pemPublicKey, pemPKCS1Public:
		return nil, fmt.Errorf("parsing private key: found a public key (%s); signing needs the private key, e.g. cosign.key", block.Type)
	case "ENCRYPTED PRIVATE KEY":
		return nil, errors.New("parsing private key: password-protected PKCS#8 (ENCRYPTED PRIVATE KEY) is not supported; convert it with `cosign import-key-pair`")
	default:
		return nil, fmt.Errorf("parsing private key: unsupported PEM type %s: want %q, %q, %q or %q",
			quoteType(block.Type), pemSigstoreEncrypted, pemPKCS8, pemSEC1, pemPKCS1)
	}
	if err != nil {
		// The x509 parsers describe structure, never key bytes.
		return nil, fmt.Errorf("parsing %s: %w", block.Type, err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("parsing %s: unsupported private key type %T", block.Type, key)
	}
	switch signer.(type) {
	case *ecdsa.PrivateKey, *rsa.PrivateKey, ed25519.PrivateKey:
	default:
		// x509 also returns *ecdh.PrivateKey for X25519 keys, which cannot sign.
		return nil, fmt.Errorf("parsing %s: unsupported private key type %T: use ECDSA, RSA or Ed25519", block.Type, key)
	}
	return newKeypair(localBackend{signer: signer}, signer.Public())
}

// decrypt opens a cosign key with go-securesystemslib, which cosign uses:
// scrypt derives a secretbox key from the password. The password is fetched
// only here, so unencrypted keys never prompt.
func decrypt(ciphertext []byte, o *options) ([]byte, error) {
	var password []byte
	if o.password != nil {
		p, err := o.password()
		if err != nil {
			return nil, fmt.Errorf("reading password for cosign private key: %w", err)
		}
		password = p
	}
	der, err := encrypted.Decrypt(ciphertext, password)
	if err != nil {
		// Neither kind of error includes the password or plaintext.
		if err.Error() == errSecretboxOpen {
			return nil, fmt.Errorf("decrypting cosign private key: %w", ErrWrongPassword)
		}
		return nil, fmt.Errorf("decrypting cosign private key: malformed envelope: %w", err)
	}
	return der, nil
}

// errSecretboxOpen is the only error encrypted.Decrypt returns once the
// envelope parsed and the key was derived: the secretbox did not open, which
// for a well-formed cosign key means a wrong password. The package exports no
// sentinel; TestErrors fails if the text changes.
const errSecretboxOpen = "encrypted: decryption failed"

// firstBlock returns the first PEM block that holds a key, skipping the
// EC PARAMETERS block OpenSSL writes in front of EC keys.
func firstBlock(data []byte) (*pem.Block, error) {
	rest := data
	for {
		block, r := pem.Decode(rest)
		if block == nil {
			if bytes.Contains(data, []byte("-----BEGIN")) {
				return nil, errors.New("parsing PEM: no complete PEM block (truncated or corrupted?)")
			}
			return nil, errors.New("parsing PEM: no PEM block found (is this a PEM-encoded key?)")
		}
		if block.Type != pemECParameters {
			return block, nil
		}
		rest = r
	}
}

// quoteType quotes a PEM label for an error, bounded so that garbage input
// cannot make a huge error.
func quoteType(t string) string {
	const max = 64
	if len(t) > max {
		t = t[:max] + "..."
	}
	return fmt.Sprintf("%q", t)
}

// Generate creates an ECDSA P-256 key pair in cosign's format: the private
// key is PKCS#8 encrypted with scrypt (N=65536, r=8, p=1) and secretbox under
// password, in an "ENCRYPTED SIGSTORE PRIVATE KEY" PEM block, and the public
// key is a PKIX "PUBLIC KEY" PEM block. An empty password is allowed, as in
// cosign.
func Generate(password []byte) (privPEM, pubPEM []byte, err error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generating ECDSA P-256 key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, nil, fmt.Errorf("encoding private key: %w", err)
	}
	defer clear(der)
	// cosign calls encrypted.Encrypt, whose default is Standard; naming it
	// keeps our files identical in shape even if the default moves.
	enc, err := encrypted.EncryptWithCustomKDFParameters(der, password, encrypted.Standard)
	if err != nil {
		return nil, nil, fmt.Errorf("encrypting private key: %w", err)
	}
	pub, err := newPublicKey(priv.Public())
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: pemSigstoreEncrypted, Bytes: enc}), pub.PEM(), nil
}
