package rxws

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"
)

// A handshake that times out while dialling TCP is a *TimeoutError that
// keeps net's *net.OpError for errors.As, and is not a context error for
// errors.Is, although net's timeout error matches context.DeadlineExceeded.
func TestAHandshakeTimeoutKeepsTheNetErrorButIsNoContextError(t *testing.T) {
	ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	_, raw := (&net.Dialer{}).DialContext(ctx, "tcp", "127.0.0.1:1")
	var op *net.OpError
	if !errors.As(raw, &op) || !op.Timeout() || !errors.Is(raw, context.DeadlineExceeded) {
		t.Skipf("no net timeout here: %T %v", raw, raw)
	}
	err := dialError("ws://127.0.0.1:1", "127.0.0.1", "", 50*time.Millisecond, raw)
	var te *TimeoutError
	if !errors.As(err, &te) || !errors.As(err, &op) || errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, ErrHandshakeTimeout) {
		t.Fatalf("dialError(%v) = %T %v", raw, err, err)
	}
	if want := "rxws: handshake with ws://127.0.0.1:1 timed out after 50ms: " + raw.Error(); err.Error() != want {
		t.Fatalf("message %q, want %q", err, want)
	}
}
