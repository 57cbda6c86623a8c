//go:build !unix

package testutil

import (
	"net"
	"testing"
)

// RefusedURL returns ws://127.0.0.1:PORT where nothing listens, for tests
// of a refused connection. Here the port is freed at once, so another test
// running at the same time could, rarely, be given it.
func RefusedURL(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testutil: listen: %v", err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return "ws://" + addr
}
