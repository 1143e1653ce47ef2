// Command seal signs, attests and verifies container images and files from CI.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/sealsign/seal/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	context.AfterFunc(ctx, stop) // a second signal ends the process at once
	code := cli.Execute(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
