package rxws

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/reactivex/rxgo/v2"
	"github.com/rxpype/rxpype/clock"
	"github.com/rxpype/rxpype/internal/testutil"
)

// heldRig connects a manager to a server that sends what the test says,
// has it send "reply", waits until the reader holds it for a listener
// (nobody listens), then drops the connection and sends until a write
// fails: the connection is lost with the reply received and unread.
func heldRig(t *testing.T, opts ...ConnectOption) (context.Context, *clock.Mock, *testutil.Server, *Manager, <-chan rxgo.Item) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	mock := clock.NewMock()
	srv := testutil.NewServer(t, testutil.Hold)
	m := NewManager(nil, WithClock(mock))
	states := m.States(rxgo.WithContext(ctx)).Observe()
	if err := m.Connect(ctx, srv.URL, opts...); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Disconnect(context.Background()) })
	m.mu.Lock()
	s := m.sess
	m.mu.Unlock()
	c, err := srv.WaitConn(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.SendText("reply"); err != nil {
		t.Fatal(err)
	}
	until(t, ctx, "the reader holds the reply", func() bool { return s.live.parked.Load() })
	c.Drop()
	var sendErr error
	for sendErr == nil && ctx.Err() == nil {
		sendErr = m.Send(ctx, TextRequest("next request"))
	}
	<-s.done
	return ctx, mock, srv, m, states
}

// A reply received whole before a failed write ended the connection is
// still the next Receive's, then Receive says there is no connection.
func TestAReplyHeldWhenAWriteFailsIsReceived(t *testing.T) {
	ctx, _, _, m, _ := heldRig(t)
	if r, err := m.Receive(ctx); err != nil || string(r.Bytes()) != "reply" {
		t.Fatalf("Receive after the failed write: %v, %v; want the reply, received before it", r, err)
	}
	if _, err := m.Receive(ctx); !errors.Is(err, ErrNotConnected) {
		t.Fatalf("second Receive: %v, want ErrNotConnected", err)
	}
}

// With reconnecting on, the held reply comes before the next connection's
// first message: to its first listener, here a Receive that reads for
// itself (context.Background) and one that waits.
func TestAReplyHeldWhenAWriteFailsComesBeforeTheNextConnections(t *testing.T) {
	for _, name := range []string{"reading", "waiting"} {
		t.Run(name, func(t *testing.T) {
			ctx, mock, srv, m, states := heldRig(t, WithReconnect(Backoff{Initial: time.Second, Jitter: NoJitter}))
			for it := range states {
				if it.V.(State).Kind == StateReconnecting {
					break
				}
			}
			mock.Add(time.Second)
			c1, err := srv.WaitConn(ctx, 1)
			if err != nil {
				t.Fatal(err)
			}
			if err := c1.SendText("fresh"); err != nil {
				t.Fatal(err)
			}
			rctx := context.Background()
			if name == "waiting" {
				rctx = ctx
			}
			for _, want := range []string{"reply", "fresh"} {
				r, err := m.Receive(rctx)
				if err != nil || string(r.Bytes()) != want {
					t.Fatalf("Receive: %v, %v; want %q", r, err, want)
				}
			}
		})
	}
}

// Disconnect (and a new Connect) drop a held reply: it belonged to a
// connection the application has ended itself.
func TestDisconnectDropsAHeldReply(t *testing.T) {
	ctx, _, _, m, _ := heldRig(t)
	if err := m.Disconnect(ctx); err != nil {
		t.Fatal(err)
	}
	if r, err := m.Receive(ctx); !errors.Is(err, ErrNotConnected) {
		t.Fatalf("Receive after Disconnect: %v, %v; want ErrNotConnected", r, err)
	}
}
