// Package action is Seal's side of the contract between a CI runner and one step of a job,
// shared by the GitHub Action (action.yml, actions/*) and the GitLab CI/CD components
// (templates/*). A runner hands a step its inputs as INPUT_<NAME> environment variables
// (GitHub's composite actions and Seal's GitLab components both do it that way), and takes
// back outputs (GitHub's $GITHUB_OUTPUT file, GitLab's dotenv report) and a human summary
// ($GITHUB_STEP_SUMMARY, or a Markdown artifact on GitLab).
//
// A step is a verb run from inputs instead of flags. The package reads and validates the
// inputs (Inputs) and plans the step (NewPlan): the options of `seal sign`, `seal attest` or
// `seal verify` (the option structs of package options, the same ones the verbs' flags fill,
// starting from the flags' defaults), with a key given as the input's value read by reference
// (env://INPUT_KEY) and masked, the signer a verification expects by default, and the command
// line that does the same, for the log (Plan.Command). The hidden `seal action` verb in package
// cli calls the verbs' own run functions with those options and hands the typed result back
// here: the package turns what was signed or verified into outputs and a summary (Result),
// tells the user the exact `seal verify` and `cosign verify` commands that check the result,
// including the keyless identity read from the certificate in the bundle that was just written
// (Identity), and stores attestation bundles in GitHub's attestations API so that
// `gh attestation verify` finds them (GitHubStore).
//
// It never prints, and never imports package cli (a test checks): cli depends on it, not the
// other way round, and the run functions stay with the verbs that own them.
package action
