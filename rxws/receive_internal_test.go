package rxws

import (
	"context"
	"errors"
	"runtime"
	"testing"
	"time"

	"github.com/reactivex/rxgo/v2"
	"github.com/rxpype/rxpype/clock"
	"github.com/rxpype/rxpype/internal/testutil"
	"github.com/rxpype/rxpype/source"
)

// holdingRig connects a manager to a server that sends what the test says,
// has it send "reply", and waits until the reader holds it for a listener
// (nobody listens).
type holdingRig struct {
	ctx    context.Context
	mock   *clock.Mock
	srv    *testutil.Server
	c      *testutil.Conn
	m      *Manager
	s      *session
	states <-chan rxgo.Item
}

func newHoldingRig(t *testing.T, opts ...ConnectOption) *holdingRig {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	r := &holdingRig{ctx: ctx, mock: clock.NewMock(), srv: testutil.NewServer(t, testutil.Hold)}
	r.m = NewManager(nil, WithClock(r.mock))
	r.states = r.m.States(rxgo.WithContext(ctx)).Observe()
	if err := r.m.Connect(ctx, r.srv.URL, opts...); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.m.Disconnect(context.Background()) })
	r.m.mu.Lock()
	r.s = r.m.sess
	r.m.mu.Unlock()
	var err error
	if r.c, err = r.srv.WaitConn(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if err := r.c.SendText("reply"); err != nil {
		t.Fatal(err)
	}
	until(t, ctx, "the reader holds the reply", func() bool { return r.s.live.parked.Load() })
	return r
}

// heldRig is a holdingRig whose connection then drops, and sends until a
// write fails: the connection is lost with the reply received and unread.
func heldRig(t *testing.T, opts ...ConnectOption) (context.Context, *clock.Mock, *testutil.Server, *Manager, <-chan rxgo.Item) {
	r := newHoldingRig(t, opts...)
	r.c.Drop()
	var sendErr error
	for sendErr == nil && r.ctx.Err() == nil {
		sendErr = r.m.Send(r.ctx, TextRequest("next request"))
	}
	<-r.s.done
	return r.ctx, r.mock, r.srv, r.m, r.states
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

// A listener that joins just as the connection fails is no sign that it got
// the held reply: the reader's Publish stopped waiting, so the reply is
// still carried to the next Receive. (One P makes the interleaving sure:
// the reader cannot run between the stop and the subscription.)
func TestAReplyHeldWhenAListenerJoinsAsTheConnectionFailsIsNotLost(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	r := newHoldingRig(t)
	ctx, m, s := r.ctx, r.m, r.s
	s.stop(errors.New("write broke"))                  // a write breaks the connection ...
	sub := s.msgs.Subscribe(source.Config{Once: true}) // ... as a Receive subscribes
	<-s.done
	it, err := sub.Next(ctx)
	sub.Close()
	if r, ok := it.V.(*Response); err == nil && ok && string(r.Bytes()) == "reply" {
		return
	}
	if r, err2 := m.Receive(ctx); err2 != nil || string(r.Bytes()) != "reply" {
		t.Fatalf("reply lost: the listener got %v, %v; the next Receive %v, %v", it, err, r, err2)
	}
}
