package rxws

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/reactivex/rxgo/v2"
	"github.com/rxpype/rxpype/clock"
	"github.com/rxpype/rxpype/internal/testutil"
)

// A refunded grant frees its room at once, for the next waiter too; one
// that has already left its window takes nothing from later grants.
func TestRefundGivesTheGrantBack(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	mock := clock.NewMock()
	th := NewThrottler([]RateLimit{
		{LimitID: "a", Limit: 2, Interval: time.Second, Linked: []LinkedLimit{{LimitID: "ip", Weight: 2}}},
		{LimitID: "ip", Limit: 4, Interval: time.Second},
	}, WithThrottlerClock(mock), WithSafetyMargin(0))
	first, err := th.acquire(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	mock.Add(time.Millisecond)
	if _, err := th.acquire(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	third := make(chan error, 1)
	go func() { _, err := th.acquire(ctx, "a"); third <- err }()
	until(t, ctx, "the third parked", func() bool { return th.Waiting() == 1 })

	th.refund(first) // the clock has not moved: only the refund frees room
	if err := <-third; err != nil {
		t.Fatal(err)
	}
	// On "ip" too: 2 of its 4 are free again.
	if w := th.limits["ip"].charges[0].win; w.sum != 4 || w.n != 2 {
		t.Fatalf("ip window holds %d in %d grants, want 4 in 2", w.sum, w.n)
	}

	mock.Add(time.Second) // everything so far has left the windows
	late, err := th.acquire(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	th.refund(first) // a second refund of a grant long gone: nothing to take
	if w := th.limits["a"].charges[0].win; w.sum != 1 || w.n != 1 || !w.ring[w.head].at.Equal(late.at) {
		t.Fatalf("a window holds %d in %d grants, want the late grant alone", w.sum, w.n)
	}
	th.refund(ticket{}) // the zero ticket is no grant
	var none *Throttler
	none.refund(late)
}

// The throttler grants a waiting send at the moment its connection is
// lost. The frame was not written, so the grant is given back: on the next
// connection it is charged once, not twice (which would cost one frame two
// units of a 1-a-minute budget, and a minute's wait).
func TestAGrantTheConnectionCouldNotUseIsGivenBack(t *testing.T) {
	ctx, mock, th, srv, m := throttledManager(t)
	states := m.States(rxgo.WithContext(ctx)).Observe()
	if err := m.Connect(ctx, srv.URL, WithReconnect(Backoff{Initial: time.Second, Jitter: NoJitter})); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = m.Disconnect(context.Background()) }()
	m.mu.Lock()
	s := m.sess
	m.mu.Unlock()

	first := TextRequest("first")
	first.LimitID = "x"
	if err := m.Send(ctx, first); err != nil { // charged at 0s
		t.Fatal(err)
	}
	second := TextRequest("second")
	second.LimitID = "x"
	result := make(chan error, 1)
	go func() { result <- m.Send(ctx, second) }()
	until(t, ctx, "the second send parked", func() bool { return th.Waiting() == 1 })
	c0, err := srv.WaitConn(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}

	// Room frees at 1m as the connection drops, and the throttler's
	// wake-up wins th.mu over the session's cancel of the wait.
	th.mu.Lock()
	mock.Add(time.Minute)
	c0.Drop()
	<-s.ctx.Done()
	th.dispatch(th.clock.Now()) // what the wake-up does once it has th.mu
	th.mu.Unlock()

	for it := range states {
		if it.V.(State).Kind == StateReconnecting {
			break
		}
	}
	mock.Add(time.Second) // reconnect at 1m1s
	c1, err := srv.WaitConn(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	until(t, ctx, "second written on the next connection, or charged again",
		func() bool { return len(c1.Frames()) > 0 || th.Waiting() == 1 })
	if th.Waiting() == 1 {
		t.Fatal("the send granted at 1m, whose frame was never written, waits for a second charge")
	}
	if err := <-result; err != nil {
		t.Fatal(err)
	}
	if f := c1.Frames(); string(f[0].Data) != "second" {
		t.Fatalf("next connection got %q", f[0].Data)
	}
}

// A Send whose context ends as its wait is granted writes nothing and
// returns ctx's error; the grant is given back, so the next send does not
// wait a whole interval for a frame that never went out.
func TestASendCancelledAsItIsGrantedChargesNothing(t *testing.T) {
	ctx, mock, th, srv, m := throttledManager(t)
	if err := m.Connect(ctx, srv.URL); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = m.Disconnect(context.Background()) }()
	req := TextRequest("first")
	req.LimitID = "x"
	if err := m.Send(ctx, req); err != nil {
		t.Fatal(err)
	}
	sctx, scancel := context.WithCancel(ctx)
	result := make(chan error, 1)
	req.Payload = "second"
	go func() { result <- m.Send(sctx, req) }()
	until(t, ctx, "the second send parked", func() bool { return th.Waiting() == 1 })
	th.mu.Lock()
	mock.Add(time.Minute) // room frees at 1m ...
	scancel()             // ... as the sender gives up
	th.dispatch(th.clock.Now())
	th.mu.Unlock()
	if err := <-result; err != context.Canceled {
		t.Fatalf("second send: %v, want context.Canceled", err)
	}

	req.Payload = "third"
	third := make(chan error, 1)
	go func() { third <- m.Send(ctx, req) }()
	for {
		select {
		case err := <-third:
			if err != nil {
				t.Fatal(err)
			}
			c0, _ := srv.WaitConn(ctx, 0)
			until(t, ctx, "the server has two frames", func() bool { return len(c0.Frames()) >= 2 })
			if got := dataOf(c0.Frames()); len(got) != 2 || got[1] != "third" {
				t.Fatalf("server got %q", got)
			}
			return
		default:
		}
		if th.Waiting() == 1 {
			t.Fatal("after a cancelled, unwritten send the next one waits a whole interval")
		}
		if ctx.Err() != nil {
			t.Fatal("the third send neither went out nor waited")
		}
		runtime.Gosched()
	}
}

// throttledManager is a manager, not yet connected, whose sends charge a
// limit "x" of one a minute on the mock clock.
func throttledManager(t *testing.T) (context.Context, *clock.Mock, *Throttler, *testutil.Server, *Manager) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	mock := clock.NewMock()
	th := NewThrottler([]RateLimit{{LimitID: "x", Limit: 1, Interval: time.Minute}},
		WithThrottlerClock(mock), WithSafetyMargin(0))
	srv := testutil.NewServer(t, testutil.Hold)
	return ctx, mock, th, srv, NewManager(nil, WithClock(mock), WithThrottler(th))
}

func dataOf(fs []testutil.Frame) []string {
	var out []string
	for _, f := range fs {
		out = append(out, string(f.Data))
	}
	return out
}
