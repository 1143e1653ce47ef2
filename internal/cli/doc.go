// Package cli is Seal's command line: one file per verb, each validating
// its flags (declared in package options), building library objects and
// calling them. It is the only package that prints, reads flags, or knows
// it runs inside GitHub Actions' log (masks, annotations).
package cli
