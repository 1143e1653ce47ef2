// Package identity says who may have signed, keylessly, in the words users
// think in: a GitHub repository (and workflow, ref, hosted runners) or a
// GitLab project (and ref, protected refs, hosted runners), turned into
// what a Fulcio certificate must say — the OIDC issuer, an anchored subject
// pattern, exact certificate extensions — and into what Seal's provenance
// must say where no certificate field carries a requirement. The presets
// as both commands take them from their flags are GitHub and GitLab,
// with the triggers a GitHub preset refuses (RefusedGitHubTriggers, which
// --allow-trigger takes back) and the numeric repository and owner ids to
// pin; FromCertificate reads back the preset a certificate's job matches.
// `seal verify` checks these identities and `seal policy` writes them into
// admission policies, so both judge a signer the same way.
package identity
