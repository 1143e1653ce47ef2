// Package limits holds the bounds every input of Seal is read under, so that
// no registry, service or file can hang a pipeline or exhaust its memory.
//
// Network: NewTransport is the HTTP transport of every client (registries,
// Fulcio, timestamp authorities, OIDC issuers, the GitHub API): the standard
// library's transport with a dial, TLS-handshake and response-header timeout,
// and an idle-read timeout set as a deadline on the connection while a
// response body is read, so that a server that stops sending ends the
// request. Its errors name the host, the request and the limit. A whole run
// is bounded by its context's deadline (the verbs' --timeout), which also
// ends a response that trickles bytes too slowly for the idle limit to catch.
//
// Files: ReadFile reads a local file or standard input up to a size limit and
// names the flag, the file and the limit when it is larger.
package limits
