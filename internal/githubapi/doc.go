// Package githubapi writes GitHub's artifact metadata for the organisation that owns the
// repository a job runs for: storage records (where a published image lives: its registry and
// repository there), as actions/attest writes them when it pushes to a registry, and deployment
// records (which image a deploy gate let through to which environment, cluster and
// deployment). The organisation's linked artifacts page joins them with the image's
// attestations, which it also stores in the repository's attestations (StoreAttestation, for
// `gh attestation verify`).
//
// It speaks GitHub's REST API (version 2022-11-28) itself, over a transport the caller injects:
// go-github has these calls, but linking it grew the release binary by 1.13 MB, past the size
// budget on Windows. It retries what GitHub may answer differently a moment later: transport
// errors, 5xx, 429 and a 403 that is a rate limit. A refusal (401, 403, 404: a
// personal account has no organisation, or the token lacks `artifact-metadata: write`) wraps
// ErrNotPermitted, which callers that only record when they may treat as a warning. The token
// is never part of an error.
package githubapi
