// Package signing turns payloads into Sigstore bundles.
//
// A Signer is made once per invocation and signs everything that
// invocation publishes: keyless signers (NewKeyless) generate one
// ephemeral key, get one Fulcio certificate for the CI identity token and
// reuse it for every signature; keyed signers (NewKeyed) use a key from
// package keys, decrypted once. Every signature can carry RFC 3161
// timestamps and a transparency-log entry, per the Sigstore services
// configured (Services). The signing itself is sigstore-go's sign.Bundle;
// this package chooses the services, shares the certificate, and exposes
// the pieces cosign's legacy tag format needs (raw signature, DSSE
// envelope, certificate PEM, timestamps over arbitrary bytes).
package signing
