// Package ocitest holds what the tests of package oci and of its storage
// formats (bundle, legacy) share: the registries every format is tested on
// (go-containerregistry's in-process one with and without the referrers
// API, and testbed's distribution and olareg), a client tuned for loopback,
// and images, indexes and bundle-shaped documents to publish for.
package ocitest
