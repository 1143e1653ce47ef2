package testbed

import (
	"os/exec"
	"runtime"
	"sync"
	"syscall"
)

func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{
		// Its own process group, so that a Ctrl-C aimed at `go test` does not kill the peer
		// before cleanup has printed its log.
		Setpgid: true,
		// Cleanups do not run when `go test -timeout` kills the test binary; without this the
		// peer would outlive it, and an orphaned timestamp-server would hold :2112 for good.
		Pdeathsig: syscall.SIGKILL,
	}
}

// Pdeathsig fires when the OS thread that forked the child exits, not the process, and the Go
// runtime ends a thread whose locked goroutine returns. Peers are therefore started from one
// goroutine locked to its thread for the life of the test binary.
var spawner struct {
	once sync.Once
	reqs chan spawnRequest
}

type spawnRequest struct {
	cmd  *exec.Cmd
	done chan error
}

func startCmd(cmd *exec.Cmd) error {
	spawner.once.Do(func() {
		spawner.reqs = make(chan spawnRequest)
		go func() {
			runtime.LockOSThread()
			for r := range spawner.reqs {
				r.done <- r.cmd.Start()
			}
		}()
	})
	done := make(chan error, 1)
	spawner.reqs <- spawnRequest{cmd: cmd, done: done}
	return <-done
}
