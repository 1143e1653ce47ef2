// Package oci is every conversation Seal has with an OCI registry.
//
// The signing code hands this package finished bytes — Sigstore bundles, DSSE
// envelopes, simple-signing payloads and their signatures — and oci stores them
// where verifiers look: a Sigstore bundle becomes an OCI 1.1 referrer of the
// image (what cosign v3 and GitHub's attest action write, found through the
// referrers API or the Referrers Tag Schema fallback index `sha256-<hex>`), and
// classic cosign signatures and attestations become layers of the image
// manifests tagged `sha256-<hex>.sig` and `sha256-<hex>.att`. The same formats
// are read back for verification.
//
// Two concerns shape the code. First, tags that several CI jobs append to (the
// cosign tags and the fallback index) are read-modify-write documents with no
// locking in the registry protocol, so a naive writer loses its neighbours'
// entries (cosign#2432). Every tag update here merges, writes, waits a little,
// reads back and re-merges until its own entries are present, and a client
// remembers what it wrote so Settle can repair late losses at the end of a run.
// Second, CI pays for every request: the client pings a registry once, fetches
// one token per repository and access, uploads small blobs in a single request
// where the registry allows it, and never reads back what it just wrote except
// to check a tag update. The doc comment of each operation states its request
// count, and CountingTransport lets benchmarks measure it.
//
// Transport security is explicit: plain HTTP is used only for hosts named in
// WithInsecureHosts, loopback included. Credentials come from the Docker
// configuration (DOCKER_CONFIG, credential stores and helpers) and from static
// CI credentials given with WithCredentials; they never appear in errors or logs.
package oci
