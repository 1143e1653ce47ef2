// Package oci is Seal's registry client: every conversation Seal has with
// an OCI registry goes through a Client. It pins images to digests (Resolve,
// Platforms), moves manifests and blobs, attaches OCI 1.1 referrers and lists
// them (through the referrers API, or the Referrers Tag Schema fallback index
// `sha256-<hex>` where a registry has none), and appends to tags that several
// writers share (AppendTag). What is stored in those places is the business
// of the two storage formats, each a package of its own: bundle (Sigstore
// bundles as referrers, what cosign v3 and GitHub's attest action write) and
// legacy (cosign's classic sha256-<hex>.sig and .att tags). Format names the
// two, for the packages that choose between them.
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
// CI credentials given with WithCredentials; they never appear in errors or
// logs. Token exchange and the authenticating transports are
// go-containerregistry's (transport.Exchange, transport.FromToken); the ping
// and the retries are this package's own, for the reasons their comments give.
package oci
