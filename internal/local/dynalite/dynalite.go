package dynalite

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"github.com/aistats/edge/internal/local/loopback"

	"github.com/aistats/edge/internal/local/childproc"
)

// Config says how to run the server.
type Config struct {
	// InfraDir holds package.json and package-lock.json for dynalite
	// (infra/ in this repository). Empty means: found by walking up from
	// the working directory to go.mod.
	InfraDir string
	// Port to listen on at 127.0.0.1; 0 picks a free one.
	Port int
	// DataDir keeps the data on disk between runs; empty keeps it in memory.
	DataDir string
	// Output receives the server's own output; nil discards it.
	Output io.Writer
}

// Server is a running dynalite process.
type Server struct {
	cmd      *exec.Cmd
	endpoint string
	exited   chan struct{}
	exitErr  error
}

// Start installs dynalite if needed, starts it and waits until it accepts
// connections. The process runs in its own process group so that Stop leaves
// nothing behind.
func Start(ctx context.Context, cfg Config) (*Server, error) {
	infra := cfg.InfraDir
	if infra == "" {
		root, err := RepoRoot()
		if err != nil {
			return nil, err
		}
		infra = filepath.Join(root, "infra")
	}
	if err := Install(ctx, infra, cfg.Output); err != nil {
		return nil, err
	}
	port := cfg.Port
	if port == 0 {
		p, err := loopback.FreePort()
		if err != nil {
			return nil, err
		}
		port = p
	}
	args := []string{
		// infra/dynalite.js runs dynalite's cli.js, but survives a client
		// dropping a request half sent, which dynalite itself dies of.
		filepath.Join(infra, "dynalite.js"),
		"--host", "127.0.0.1", "--port", strconv.Itoa(port),
		// Tables are usable at once, as the tests and the local stack expect.
		"--createTableMs", "0", "--deleteTableMs", "0", "--updateTableMs", "0",
	}
	if cfg.DataDir != "" {
		if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
			return nil, fmt.Errorf("create dynalite data dir: %w", err)
		}
		args = append(args, "--path", cfg.DataDir)
	}
	cmd := exec.Command("node", args...)
	childproc.Detach(cmd)
	if cfg.Output != nil {
		cmd.Stdout, cmd.Stderr = cfg.Output, cfg.Output
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start dynalite (is node installed?): %w", err)
	}
	s := &Server{cmd: cmd, endpoint: "http://127.0.0.1:" + strconv.Itoa(port), exited: make(chan struct{})}
	go func() {
		s.exitErr = cmd.Wait()
		close(s.exited)
	}()
	if err := s.waitReady(ctx, 20*time.Second); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

// Endpoint is the server's URL, suitable for AWS_ENDPOINT_URL_DYNAMODB.
func (s *Server) Endpoint() string { return s.endpoint }

// Stop ends the server and waits for it to exit.
func (s *Server) Stop() error {
	select {
	case <-s.exited:
		return nil
	default:
	}
	childproc.Terminate(s.cmd)
	select {
	case <-s.exited:
	case <-time.After(5 * time.Second):
		childproc.Kill(s.cmd)
		<-s.exited
	}
	return nil
}

// Exited is closed when the server process ends, for whatever reason.
func (s *Server) Exited() <-chan struct{} { return s.exited }

// ExitErr is how the process ended; valid once Exited is closed.
func (s *Server) ExitErr() error { return s.exitErr }

// Port is the port the server listens on.
func (s *Server) Port() int {
	_, port, _ := net.SplitHostPort(s.endpoint[len("http://"):])
	n, _ := strconv.Atoi(port)
	return n
}

// Kill ends the server at once, as a crash would: for tests of what
// survives one.
func (s *Server) Kill() {
	childproc.Kill(s.cmd)
	<-s.exited
}

func (s *Server) waitReady(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	addr := s.endpoint[len("http://"):]
	for {
		conn, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			conn.Close()
			return nil
		}
		select {
		case <-s.exited:
			return fmt.Errorf("dynalite exited before listening on %s: %v", addr, s.exitErr)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("dynalite did not listen on %s within %s", addr, timeout)
		}
	}
}

// Install runs npm ci in infraDir unless dynalite is already installed at the
// locked version. Concurrent callers (go test runs packages in parallel) are
// serialised with a file lock so only one of them installs.
func Install(ctx context.Context, infraDir string, output io.Writer) error {
	stamp := filepath.Join(infraDir, "node_modules", ".installed-from-lock")
	if upToDate(stamp, filepath.Join(infraDir, "package-lock.json")) {
		return nil
	}
	lock, err := os.OpenFile(filepath.Join(infraDir, ".install.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return fmt.Errorf("open install lock: %w", err)
	}
	defer lock.Close()
	if err := childproc.Lock(lock); err != nil {
		return fmt.Errorf("lock dynalite install: %w", err)
	}
	defer childproc.Unlock(lock)
	if upToDate(stamp, filepath.Join(infraDir, "package-lock.json")) {
		return nil // another process installed it while we waited
	}
	cmd := exec.CommandContext(ctx, "npm", "ci", "--no-audit", "--no-fund", "--loglevel=error")
	cmd.Dir = infraDir
	out := output
	if out == nil {
		out = io.Discard
	}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("install dynalite with npm ci in %s: %w", infraDir, err)
	}
	return os.WriteFile(stamp, nil, 0o644)
}

// upToDate reports whether stamp exists and is newer than the lockfile.
func upToDate(stamp, lockfile string) bool {
	s, err := os.Stat(stamp)
	if err != nil {
		return false
	}
	l, err := os.Stat(lockfile)
	return err == nil && !s.ModTime().Before(l.ModTime())
}

// RepoRoot finds the directory holding go.mod, walking up from the working
// directory (go test runs in the package's directory).
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("find repository root: no go.mod above the working directory")
		}
		dir = parent
	}
}
