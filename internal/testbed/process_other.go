//go:build !linux

package testbed

import (
	"os/exec"
	"syscall"
)

func sysProcAttr() *syscall.SysProcAttr {
	// Its own process group, so that a Ctrl-C aimed at `go test` does not kill the peer before
	// cleanup has printed its log. Only Linux can tie the peer's life to the test binary's.
	return &syscall.SysProcAttr{Setpgid: true}
}

func startCmd(cmd *exec.Cmd) error { return cmd.Start() }
