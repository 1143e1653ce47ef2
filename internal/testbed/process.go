package testbed

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// spec describes how to run one peer process.
type spec struct {
	name  string // for messages and the log file name
	bin   string
	dir   string // working directory; state and config live here
	ports int    // how many distinct free loopback ports the peer needs
	// args returns the command line for the given ports, writing config files into dir if needed.
	args func(ports []int) ([]string, error)
	env  []string // added to the environment
	// portEnv returns more of the environment for the given ports, for peers that take their
	// port from a variable; nil adds nothing.
	portEnv func(ports []int) []string
	// ready returns the URL polled with GET until it answers with a status ready accepts.
	ready func(ports []int) string
	// readyStatus reports whether a status code means the peer is up; nil means 200.
	readyStatus func(code int) bool
	timeout     time.Duration
}

// launch starts the peer described by s, waits until it is ready and arranges for it to be
// killed on cleanup. It returns the ports it was given and how long start-up took.
//
// Free ports are found by binding :0 and closing the listener, so another process may grab one
// before the peer binds it; launch then starts the peer again on new ports.
func launch(t testing.TB, s spec) ([]int, time.Duration) {
	t.Helper()
	const attempts = 3
	for attempt := 1; ; attempt++ {
		ports, err := freePorts(s.ports)
		if err != nil {
			t.Fatalf("finding free ports for %s: %v", s.name, err)
		}
		args, err := s.args(ports)
		if err != nil {
			t.Fatalf("configuring %s: %v", s.name, err)
		}
		logPath := filepath.Join(s.dir, fmt.Sprintf("%s.%d.log", s.name, attempt))
		start := time.Now()
		env := s.env
		if s.portEnv != nil {
			env = append(append([]string(nil), env...), s.portEnv(ports)...)
		}
		p, err := startProcess(s.bin, args, s.dir, env, logPath)
		if err != nil {
			t.Fatalf("starting %s: %v", s.name, err)
		}
		err = waitReady(p, s.ready(ports), s.readyStatus, s.timeout)
		elapsed := time.Since(start)
		if err == nil {
			t.Cleanup(func() {
				if t.Failed() {
					t.Logf("%s log (%s), last lines:\n%s", s.name, logPath, tail(logPath, 40))
				}
			})
			t.Cleanup(p.stop)
			return ports, elapsed
		}
		p.stop()
		if attempt < attempts && strings.Contains(string(readFile(logPath)), "address already in use") {
			t.Logf("%s lost a port race on %v, retrying", s.name, ports)
			continue
		}
		t.Fatalf("%s did not become ready: %v\n%s log (%s), last lines:\n%s",
			s.name, err, s.name, logPath, tail(logPath, 60))
	}
}

// process is a running peer.
type process struct {
	cmd     *exec.Cmd
	exited  chan struct{}
	waitErr error
}

func startProcess(bin string, args []string, dir string, env []string, logPath string) (*process, error) {
	f, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("creating log file: %w", err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout = f
	cmd.Stderr = f
	cmd.SysProcAttr = sysProcAttr()
	if err := startCmd(cmd); err != nil {
		f.Close()
		return nil, fmt.Errorf("running %s: %w", bin, err)
	}
	p := &process{cmd: cmd, exited: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		f.Close()
		close(p.exited)
	}()
	return p, nil
}

// stop asks the peer to terminate and kills it if it does not within a few seconds.
func (p *process) stop() {
	select {
	case <-p.exited:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(5 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

func waitReady(p *process, url string, ok func(int) bool, timeout time.Duration) error {
	if ok == nil {
		ok = func(code int) bool { return code == http.StatusOK }
	}
	if timeout == 0 {
		timeout = 60 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	client := &http.Client{Timeout: 2 * time.Second}
	var last error
	for {
		select {
		case <-p.exited:
			return fmt.Errorf("exited before it was ready: %v", p.waitErr)
		default:
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return fmt.Errorf("building readiness request: %w", err)
		}
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			if ok(resp.StatusCode) {
				return nil
			}
			err = fmt.Errorf("GET %s: status %d", url, resp.StatusCode)
		}
		last = err
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting %s for %s: %w", timeout, url, errors.Join(ctx.Err(), last))
		case <-p.exited:
			return fmt.Errorf("exited before it was ready: %v", p.waitErr)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// freePorts returns n distinct ports that were free on 127.0.0.1 a moment ago.
func freePorts(n int) ([]int, error) {
	ls := make([]net.Listener, 0, n)
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("listening on 127.0.0.1:0: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func readFile(path string) []byte {
	b, _ := os.ReadFile(path)
	return b
}

// tail returns the last n lines of the file at path.
func tail(path string, n int) string {
	b := bytes.TrimRight(readFile(path), "\n")
	lines := bytes.Split(b, []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}

func hostPort(port int) string { return fmt.Sprintf("127.0.0.1:%d", port) }
