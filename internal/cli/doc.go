// Package cli is Seal's command line: one file per verb, each validating
// its flags (declared in package options), building library objects and
// calling them. It is the only package that prints, reads flags, or knows
// it runs inside GitHub Actions' log (masks, annotations).
//
// Each verb has a run function that takes a context and the verb's typed
// options and returns a typed result (runSign, runAttest, runProvenance,
// runVerify, runPromote, which composes runVerify and publish); its cobra
// RunE only parses the flags into the options, calls it and prints. The hidden `seal action` verb (action.go) is a thin
// adapter: package action plans a CI step into the same options, the
// adapter calls the same run functions, and hands their results back to
// package action for the step's outputs and summary.
package cli
