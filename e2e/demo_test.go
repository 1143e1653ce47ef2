package e2e

import (
	"bufio"
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/sealsign/seal/internal/testbed"
)

// TestDemoServeCommands runs `seal-demo --serve` and then every cosign
// command it prints, with the real cosign v2 and v3: what the demo tells a
// user to paste must work.
func TestDemoServeCommands(t *testing.T) {
	cosign := map[string]string{"v2": testbed.Bin(t, testbed.BinCosign), "v3": testbed.Bin(t, testbed.BinCosignV3)}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, demoBin, "--serve", "--dir", t.TempDir())
	cmd.Env = cleanEnv()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	var cmds [][]string
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "cosign ") {
			cmds = append(cmds, strings.Fields(line)[1:])
		}
		if len(cmds) == 5 {
			break
		}
	}
	if len(cmds) != 5 {
		t.Fatalf("demo printed %d cosign commands, want 5", len(cmds))
	}
	for v, bin := range cosign {
		for _, args := range cmds {
			out := mustRun(t, nil, bin, args...)
			if !strings.Contains(out, "sha256:") {
				t.Errorf("cosign %s %s printed no payload:\n%s", v, strings.Join(args, " "), out)
			}
		}
	}
}
