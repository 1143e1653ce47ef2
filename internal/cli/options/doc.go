// Package options holds the flag sets of Seal's verbs, apart from the
// commands that use them, each field documented; several verbs share a
// set (identity token, registry access, signing). They are the verbs'
// typed inputs: package action builds them from a CI step's inputs
// (Defaults gives the flags' defaults), and Args shows them as the flags
// that would give them.
package options
