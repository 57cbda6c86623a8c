package rxws_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/rxpype/rxpype/clock"
	"github.com/rxpype/rxpype/internal/testutil"
	"github.com/rxpype/rxpype/rxws"
)

func waitForWaiters(t *testing.T, th *rxws.Throttler, n int) {
	t.Helper()
	ctx := testCtx(t)
	for th.Waiting() != n {
		if ctx.Err() != nil {
			t.Fatalf("waiters: %d, want %d", th.Waiting(), n)
		}
		runtime.Gosched()
	}
}

func TestSendsAreThrottledInOrderAndInBatches(t *testing.T) {
	mock := clock.NewMock()
	th := rxws.NewThrottler([]rxws.RateLimit{{LimitID: "orders", Limit: 5, Interval: time.Second}},
		rxws.WithThrottlerClock(mock), rxws.WithSafetyMargin(0))
	srv := testutil.NewServer(t, testutil.Hold)
	f := rxws.NewFactory(th, rxws.WithClock(mock))
	defer f.Close()
	m, _ := f.WSManager()
	ctx := testCtx(t)
	if err := m.Connect(ctx, srv.URL); err != nil {
		t.Fatal(err)
	}
	c, _ := srv.WaitConn(ctx, 0)
	sent := make(chan error, 1)
	go func() {
		for i := range 20 {
			req := rxws.TextRequest(fmt.Sprint(i))
			req.LimitID = "orders"
			if err := m.Send(ctx, req); err != nil {
				sent <- err
				return
			}
		}
		sent <- nil
	}()
	for batch := 1; batch <= 4; batch++ {
		if batch < 4 {
			waitForWaiters(t, th, 1) // the next send waits on the clock
		}
		frames, err := c.WaitFrames(ctx, 5*batch)
		if err != nil {
			t.Fatal(err)
		}
		if len(frames) != 5*batch {
			t.Fatalf("batch %d: server has %d frames", batch, len(frames))
		}
		for i, f := range frames {
			if string(f.Data) != fmt.Sprint(i) {
				t.Fatalf("frame %d is %q", i, f.Data)
			}
		}
		if batch < 4 {
			mock.Add(time.Second)
		}
	}
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
}

func TestThrottledSendGivesUpWithItsContext(t *testing.T) {
	mock := clock.NewMock()
	th := rxws.NewThrottler([]rxws.RateLimit{{LimitID: "x", Limit: 1, Interval: time.Minute}},
		rxws.WithThrottlerClock(mock), rxws.WithSafetyMargin(0))
	srv, m := connect(t, testutil.Echo, rxws.WithThrottler(th), rxws.WithClock(mock))
	req := rxws.TextRequest("first")
	req.LimitID = "x"
	if err := m.Send(testCtx(t), req); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(testCtx(t))
	done := make(chan error)
	req.Payload = "never"
	go func() { done <- m.Send(ctx, req) }()
	waitForWaiters(t, th, 1)
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v", err)
	}
	waitForWaiters(t, th, 0)
	unknown := rxws.TextRequest("y")
	unknown.LimitID = "nope"
	if err := m.Send(testCtx(t), unknown); !errors.Is(err, rxws.ErrUnknownLimit) {
		t.Fatalf("unknown limit: %v", err)
	}
	if err := m.Send(testCtx(t), rxws.TextRequest("free")); err != nil {
		t.Fatal(err)
	}
	if got := dataFrames(t, srv, 0, 2); len(got) != 2 || got[1] != "free" {
		t.Fatalf("server got %q", got)
	}
}
