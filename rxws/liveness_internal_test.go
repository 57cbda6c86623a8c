package rxws

import (
	"context"
	"errors"
	"runtime"
	"testing"
	"time"

	"github.com/rxpype/rxpype/clock"
	"github.com/rxpype/rxpype/internal/testutil"
)

// A reader that waited a long time for a subscriber has not been reading:
// the message timeout must not count that wait as the peer's silence, even
// when it fires soon after the reader went back to reading and before any
// new data came.
func TestMessageTimeoutCountsReadingTimeAfterAPark(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	mock := clock.NewMock()
	srv := testutil.NewServer(t, testutil.Hold)
	m := NewManager(nil, WithClock(mock))
	if err := m.Connect(ctx, srv.URL, WithMessageTimeout(30*time.Second)); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = m.Disconnect(context.Background()) }()
	m.mu.Lock()
	s := m.sess
	m.mu.Unlock()
	parked := func(want bool) {
		t.Helper()
		for s.live.parked.Load() != want {
			if ctx.Err() != nil {
				t.Fatalf("the reader never became parked=%v", want)
			}
			runtime.Gosched()
		}
	}

	c, err := srv.WaitConn(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	_ = c.SendText("a") // nobody listens: the reader reads it and waits
	parked(true)
	mock.Add(75 * time.Second) // the timer, re-armed at 30s and 60s, is due at 90s
	if _, err := m.Receive(ctx); err != nil {
		t.Fatal(err)
	}
	parked(false) // reading again, at 75s, and the peer is quiet
	mock.Add(15 * time.Second)
	if !m.Connected() {
		<-s.done
		t.Fatalf("ended 15s into reading: %v", s.cause)
	}
	mock.Add(30 * time.Second)
	<-s.done
	if err := s.cause; !errors.Is(err, ErrMessageTimeout) {
		t.Fatalf("ended with %v", err)
	}
}
