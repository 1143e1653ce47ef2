// Package subject names the artifacts Seal attests: "NAME@sha256:HEX" pairs
// given on the command line, and files found by glob and hashed. The
// in-toto Statement's subject list is built from these.
package subject
