// Package legacy stores signatures and attestations in cosign's classic
// format, which cosign v2, Kyverno's Cosign verifier and policy-controller
// read: per image digest, a tag sha256-<hex>.sig holding simple-signing
// payloads and sha256-<hex>.att holding DSSE envelopes, each a layer of an
// image manifest whose annotations carry the signature, certificate, chain,
// Rekor bundle and RFC 3161 timestamp (cosign v2 pkg/oci/static). A
// manifest Seal starts is byte for byte the one cosign would write.
//
// Several CI jobs append to the same tag; package oci's AppendTag does the
// merging that keeps every writer's layers (cosign#2432), with this
// package's Parse, Render and Key for the tag's document.
package legacy
