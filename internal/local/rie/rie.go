package rie

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/aistats/edge/internal/local/loopback"

	"github.com/aistats/edge/internal/local/childproc"
)

// EmulatorPackage is the emulator's main package.
const EmulatorPackage = "github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie"

// Build compiles the main package pkg into out with the deployed
// bootstrap's flags (CGO off, lambda.norpc, trimmed and stripped). dir is
// where the go command runs (empty: the working directory); empty goos and
// goarch build for this machine.
func Build(dir, out, pkg, goos, goarch string) error {
	cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-trimpath", "-ldflags", "-s -w", "-o", out, pkg)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if goos != "" {
		cmd.Env = append(cmd.Env, "GOOS="+goos)
	}
	if goarch != "" {
		cmd.Env = append(cmd.Env, "GOARCH="+goarch)
	}
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("build %s: %v\n%s", pkg, err, b)
	}
	return nil
}

// Process is a bootstrap running under the emulator.
type Process struct {
	// URL is the base of the Lambda invoke API the emulator serves.
	URL  string
	addr string
	cmd  *exec.Cmd
}

// Start runs bootstrap under emulator on free loopback ports, with env as
// the function's environment and its output to logs (nil discards). It
// returns at once; WaitListening waits for the invoke API. The processes
// run in their own group, killed by Stop or when this process dies.
func Start(emulator, bootstrap string, env []string, logs io.Writer) (*Process, error) {
	addr, err := loopback.FreeAddr()
	if err != nil {
		return nil, err
	}
	runtimeAddr, err := loopback.FreeAddr()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(emulator, "--runtime-interface-emulator-address", addr, "--runtime-api-address", runtimeAddr,
		"--log-level", "error", bootstrap)
	cmd.Dir = filepath.Dir(bootstrap)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = logs, logs
	childproc.Detach(cmd)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the emulator for %s: %w", bootstrap, err)
	}
	return &Process{URL: "http://" + addr, addr: addr, cmd: cmd}, nil
}

// WaitListening waits until the invoke API accepts connections.
func (p *Process) WaitListening(timeout time.Duration) error {
	for deadline := time.Now().Add(timeout); ; time.Sleep(20 * time.Millisecond) {
		if c, err := net.Dial("tcp", p.addr); err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return errors.New("the emulator did not listen on " + p.addr)
		}
	}
}

// Stop kills the emulator and the bootstrap and waits for them.
func (p *Process) Stop() {
	childproc.Kill(p.cmd)
	_ = p.cmd.Wait()
}
