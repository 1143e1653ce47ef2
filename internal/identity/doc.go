// Package identity says who may have signed, keylessly, in the words users
// think in: a GitHub repository (and workflow, ref, hosted runners) or a
// GitLab project (and ref, protected refs, hosted runners), turned into
// what a Fulcio certificate must say — the OIDC issuer, an anchored subject
// pattern, exact certificate extensions — and into what Seal's provenance
// must say where no certificate field carries a requirement. `seal verify`
// checks these identities and `seal policy` writes them into admission
// policies, so both judge a signer the same way.
package identity
