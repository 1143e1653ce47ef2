// Package options holds the flag sets of Seal's verbs, apart from the
// commands that use them, each field documented; several verbs share a
// set (identity token, registry access, signing).
package options
