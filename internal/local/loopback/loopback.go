package loopback

import (
	"fmt"
	"net"
	"testing"
)

// FreeAddr returns a 127.0.0.1:port address that was free a moment ago.
// Another process may take it before the caller listens; callers that can
// listen themselves should pass port 0 instead.
func FreeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// FreePort is FreeAddr's port.
func FreePort() (int, error) {
	addr, err := FreeAddr()
	if err != nil {
		return 0, err
	}
	_, port, _ := net.SplitHostPort(addr)
	var n int
	_, err = fmt.Sscan(port, &n)
	return n, err
}

// TestPort is FreePort for tests: it fails the test instead of returning an
// error.
func TestPort(t testing.TB) int {
	t.Helper()
	port, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return port
}
