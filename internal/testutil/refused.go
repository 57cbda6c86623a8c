//go:build unix

package testutil

import (
	"fmt"
	"syscall"
	"testing"
)

// RefusedURL returns ws://127.0.0.1:PORT where nothing listens, for tests
// of a refused connection. The port is held, bound but not listening, until
// the test ends: a server closed for the purpose would free it, and another
// test running at the same time could be given it and answer.
func RefusedURL(t testing.TB) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatalf("testutil: socket: %v", err)
	}
	t.Cleanup(func() { _ = syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatalf("testutil: bind 127.0.0.1:0: %v", err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatalf("testutil: getsockname: %v", err)
	}
	return fmt.Sprintf("ws://127.0.0.1:%d", sa.(*syscall.SockaddrInet4).Port)
}
