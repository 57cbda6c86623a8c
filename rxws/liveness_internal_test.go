package rxws

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/rxpype/rxpype/clock"
	"github.com/rxpype/rxpype/internal/testutil"
)

// until yields (it does not sleep) until ok, failing the test if ctx ends
// first: for states that no event announces.
func until(t *testing.T, ctx context.Context, what string, ok func() bool) {
	t.Helper()
	for !ok() {
		if ctx.Err() != nil {
			t.Fatalf("never: %s", what)
		}
		runtime.Gosched()
	}
}

// parkRig connects a manager with a mock clock and a message timeout of d
// to a server that sends only what the test tells it to.
type parkRig struct {
	ctx  context.Context
	mock *clock.Mock
	m    *Manager
	s    *session
	c    *testutil.Conn
}

func newParkRig(t *testing.T, d time.Duration) *parkRig {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	r := &parkRig{ctx: ctx, mock: clock.NewMock()}
	srv := testutil.NewServer(t, testutil.Hold)
	r.m = NewManager(nil, WithClock(r.mock))
	if err := r.m.Connect(ctx, srv.URL, WithMessageTimeout(d)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.m.Disconnect(context.Background()) })
	r.m.mu.Lock()
	r.s = r.m.sess
	r.m.mu.Unlock()
	c, err := srv.WaitConn(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	r.c = c
	return r
}

// A reader that waited a long time for a subscriber has not been reading:
// the message timeout must not count that wait as the peer's silence, even
// when it fires soon after the reader went back to reading and before any
// new data came.
func TestMessageTimeoutCountsReadingTimeAfterAPark(t *testing.T) {
	r := newParkRig(t, 30*time.Second)
	ctx, mock, m, s, c := r.ctx, r.mock, r.m, r.s, r.c
	parked := func(want bool) {
		t.Helper()
		until(t, ctx, fmt.Sprintf("parked=%v", want), func() bool { return s.live.parked.Load() == want })
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

// The grace a park earns (above) must not outlive the first data frame read
// after it: that frame re-arms the timer for a whole timeout of reading, so
// a silence of one timeout after it ends the connection, not two.
func TestParkGraceEndsWithTheFirstDataFrameAfterIt(t *testing.T) {
	const d = 30 * time.Second
	r := newParkRig(t, d)
	ctx, mock, m, s, c := r.ctx, r.mock, r.m, r.s, r.c
	spin := func(what string, ok func() bool) {
		t.Helper()
		until(t, ctx, what, ok)
	}
	_ = c.SendText("a") // nobody listens: the reader holds it, parked
	spin("parked", s.live.parked.Load)
	mock.Add(d) // t=30s: the timer finds the reader parked
	spin("sawParked", s.live.sawParked.Load)
	if r, err := m.Receive(ctx); err != nil || string(r.Bytes()) != "a" {
		t.Fatalf("receive: %v %v", r, err)
	}
	mock.Add(5 * time.Second) // t=35s: a fresh data frame, read while reading
	_ = c.SendText("b")
	if r, err := m.Receive(ctx); err != nil || string(r.Bytes()) != "b" {
		t.Fatalf("receive: %v %v", r, err)
	}
	spin("reading again", func() bool { return !s.live.parked.Load() })
	mock.Add(d) // t=65s: 30s of silence after "b", 35s of reading since the park
	select {
	case <-s.done:
	case <-ctx.Done():
		t.Fatalf("no data frame for %v after the last one, yet still connected at %v (LastRecvTime %v)",
			d, mock.Now().Sub(time.Unix(0, 0)), m.LastRecvTime().Sub(time.Unix(0, 0)))
	}
	if !errors.Is(s.cause, ErrMessageTimeout) {
		t.Fatalf("ended with %v", s.cause)
	}
}

// The first data frame after a park clears the park's grace; a timer that
// fired just before it, and whose function runs just after, must not judge
// the peer on that frame's socket-read time, which predates the park.
func TestATimerFiringAsTheReaderResumesDoesNotJudgeTheStaleFrame(t *testing.T) {
	const d = 30 * time.Second
	r := newParkRig(t, d)
	ctx, mock, m, s, c := r.ctx, r.mock, r.m, r.s, r.c
	_ = c.SendText("a") // read at 0s; nobody listens: the reader parks
	until(t, ctx, "parked", s.live.parked.Load)
	mock.Add(d) // the timer finds the reader parked
	until(t, ctx, "sawParked", s.live.sawParked.Load)
	if _, err := m.Receive(ctx); err != nil {
		t.Fatal(err)
	}
	until(t, ctx, "reading again", func() bool { return !s.live.parked.Load() })
	// The interleaving, played by hand: the reader's first data frame since
	// (dataRead), then the timer's function that had already fired.
	s.dataRead()
	s.messageDue()
	if err := s.ctx.Err(); err != nil {
		t.Fatalf("judged dead the moment it read again: %v", s.cause)
	}
	if !m.Connected() {
		t.Fatal("disconnected")
	}
}
