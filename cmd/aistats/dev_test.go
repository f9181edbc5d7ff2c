package main

import (
	"bufio"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aistats/edge/internal/local/loopback"
)

// TestDevStopsEverythingOnInterrupt runs the real binary as `make dev` does
// and presses Ctrl-C: the command must exit cleanly and leave no dynalite
// behind.
func TestDevStopsEverythingOnInterrupt(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "aistats")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			apiPort, dynamoPort := loopback.TestPort(t), loopback.TestPort(t)
			cmd := exec.Command(bin, "dev", "--port", strconv.Itoa(apiPort), "--dynamodb-port", strconv.Itoa(dynamoPort), "--data", t.TempDir())
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			cmd.Stderr = os.Stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			ready := make(chan bool, 1)
			go func() {
				sc := bufio.NewScanner(stdout)
				for sc.Scan() {
					if strings.HasPrefix(sc.Text(), "AISTATS_MANAGEMENT_KEY=") {
						ready <- true
					}
				}
				close(ready)
			}()
			select {
			case ok := <-ready:
				if !ok {
					t.Fatal("aistats dev exited before printing credentials")
				}
			case <-time.After(3 * time.Minute):
				cmd.Process.Kill()
				t.Fatal("aistats dev did not become ready")
			}
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("aistats dev exited with %v after %s, want a clean exit", err, sig)
				}
			case <-time.After(30 * time.Second):
				cmd.Process.Kill()
				t.Fatal("aistats dev did not stop")
			}
			for _, port := range []int{apiPort, dynamoPort} {
				if conn, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port)); err == nil {
					conn.Close()
					t.Errorf("port %d still answers after %s", port, sig)
				}
			}
		})
	}
}

func TestUnknownCommandFails(t *testing.T) {
	var out, errOut strings.Builder
	if code := run([]string{"bogus"}, &out, &errOut); code == 0 || !strings.Contains(errOut.String(), "unknown command") {
		t.Errorf("run(bogus) = %d, stderr %q; want non-zero and a clear message", code, errOut.String())
	}
	if code := run(nil, &out, &errOut); code == 0 {
		t.Error("run() without a command succeeded")
	}
}

// TestDevStopsWhenItsParentDies covers `make dev` stopped by SIGTERM: make
// exits without passing the signal on, and the stack must still stop.
func TestDevStopsWhenItsParentDies(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "aistats")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	apiPort, dynamoPort := loopback.TestPort(t), loopback.TestPort(t)
	out := filepath.Join(t.TempDir(), "out")
	parent := exec.Command("sh", "-c", bin+" dev --port "+strconv.Itoa(apiPort)+" --dynamodb-port "+strconv.Itoa(dynamoPort)+
		" --data "+t.TempDir()+" >"+out+" 2>&1 & wait")
	if err := parent.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(3 * time.Minute)
	for {
		b, _ := os.ReadFile(out)
		if strings.Contains(string(b), "AISTATS_MANAGEMENT_KEY=") {
			break
		}
		if time.Now().After(deadline) {
			parent.Process.Kill()
			t.Fatalf("not ready:\n%s", b)
		}
		time.Sleep(50 * time.Millisecond)
	}
	parent.Process.Kill() // the parent dies without a word to its child
	parent.Wait()
	for _, port := range []int{apiPort, dynamoPort} {
		stopped := false
		for i := 0; i < 200 && !stopped; i++ {
			conn, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port))
			if err != nil {
				stopped = true
				break
			}
			conn.Close()
			time.Sleep(50 * time.Millisecond)
		}
		if !stopped {
			t.Errorf("port %d still answers 10 s after the parent died", port)
		}
	}
}
