// Command seal-demo runs Seal's whole flow on an in-memory registry: no CI,
// no network, nothing installed. It is its own binary so that the release
// binary, seal, does not carry a registry server.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newDemo(os.Stdout, os.Stderr).ExecuteContext(ctx)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "seal-demo: error: %s\n", err)
		os.Exit(1)
	}
}
