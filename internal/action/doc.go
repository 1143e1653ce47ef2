// Package action is Seal's side of the contract between a CI runner and one step of a job,
// shared by the GitHub Action (action.yml, actions/*) and the GitLab CI/CD components
// (templates/*). A runner hands a step its inputs as INPUT_<NAME> environment variables
// (GitHub's composite actions and Seal's GitLab components both do it that way), and takes
// back outputs (GitHub's $GITHUB_OUTPUT file, GitLab's dotenv report) and a human summary
// ($GITHUB_STEP_SUMMARY, or a Markdown artifact on GitLab).
//
// The package reads and validates inputs (Inputs), turns what a run signed or verified into
// outputs and a summary (Result), tells the user the exact `seal verify` and `cosign verify`
// commands that check the result, including the keyless identity read from the certificate in
// the bundle that was just written (Identity), and stores attestation bundles in GitHub's
// attestations API so that `gh attestation verify` finds them (GitHubStore). It never prints:
// the hidden `seal action` verb in package cli does.
package action
