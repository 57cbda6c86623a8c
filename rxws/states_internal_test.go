package rxws

import (
	"context"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rxpype/rxpype/clock"
	"github.com/rxpype/rxpype/internal/testutil"
	"github.com/rxpype/rxpype/source"
)

// stateLog subscribes to m's states; upTo returns their names up to a mark
// emitted after everything the test did.
type stateLog struct {
	m   *Manager
	sub *source.Subscription[State]
}

func newStateLog(t *testing.T, m *Manager) *stateLog {
	l := &stateLog{m: m, sub: m.states.Subscribe(source.Config{Buffer: 64})}
	t.Cleanup(l.sub.Close)
	return l
}

const markState StateKind = 200

// next returns the next state of kind, skipping others.
func (l *stateLog) next(t *testing.T, ctx context.Context, kind StateKind) State {
	t.Helper()
	for {
		st, err := l.sub.Next(ctx)
		if err != nil {
			t.Fatalf("no %v state: %v", kind, err)
		}
		if st.Kind == kind {
			return st
		}
	}
}

func (l *stateLog) upToNow(t *testing.T, ctx context.Context) []string {
	t.Helper()
	l.m.emit(State{Kind: markState})
	var out []string
	for {
		st, err := l.sub.Next(ctx)
		if err != nil || st.Kind == markState {
			return out
		}
		out = append(out, st.String())
	}
}

// A connection that ends the moment it is made (a server refusing an API
// key with a close frame) must not be announced as connected after its
// end: StateConnected was emitted outside m.mu, after the session ran.
// Over 200 such connections the old order came out wrong 1–6 times.
func TestConnectedNeverFollowsTheEndOfItsConnection(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	srv := testutil.NewServer(t, func(c *testutil.Conn) { c.Drop() })
	for i := 0; i < 500; i++ {
		m := NewManager(nil)
		log := newStateLog(t, m)
		if err := m.Connect(ctx, srv.URL); err != nil {
			t.Fatal(err)
		}
		log.next(t, ctx, StateDisconnected) // the drop ends the stream
		if after := log.upToNow(t, ctx); len(after) != 0 {
			t.Fatalf("connection %d: after its end came %q", i, after)
		}
	}
}

// sinceGate is a mock clock whose Since, once armed, waits for release:
// the reconnect loop calls it for StateConnected's Downtime, after the
// replay, so the test can end the new connection right then.
type sinceGate struct {
	*clock.Mock
	armed            atomic.Bool
	entered, release chan struct{}
	once             sync.Once
}

func (c *sinceGate) Since(t time.Time) time.Duration {
	if c.armed.Load() {
		c.once.Do(func() { close(c.entered); <-c.release })
	}
	return c.Mock.Since(t)
}

// A reconnected connection lost before its StateConnected went out is not
// announced after the loss's StateReconnecting.
func TestAReconnectIsNotAnnouncedAfterItsLoss(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	gc := &sinceGate{Mock: clock.NewMock(), entered: make(chan struct{}), release: make(chan struct{})}
	var n atomic.Int32
	srv := testutil.NewServer(t, func(c *testutil.Conn) {
		if n.Add(1) == 2 {
			c.Drop() // the reconnected connection dies at once
			return
		}
		<-c.Done()
	})
	m := NewManager(nil, WithClock(gc))
	log := newStateLog(t, m)
	if err := m.Connect(ctx, srv.URL, WithReconnect(Backoff{Initial: time.Second, Jitter: NoJitter})); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = m.Disconnect(context.Background()) }()
	c0, err := srv.WaitConn(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	gc.armed.Store(true)
	c0.Drop()
	log.next(t, ctx, StateReconnecting)
	gc.Add(time.Second)
	<-gc.entered // replayed, about to announce the connection
	lost := log.next(t, ctx, StateReconnecting)
	close(gc.release)
	if err := m.Disconnect(ctx); err != nil { // waits for the reconnect goroutines
		t.Fatal(err)
	}
	for _, st := range log.upToNow(t, ctx) {
		if strings.HasPrefix(st, "connected") {
			t.Fatalf("%v, then %q", lost, st)
		}
	}
}

// Disconnect while a reconnect dials: the dial's failure is Disconnect's
// doing, and no further attempt is announced before StateDisconnected.
func TestDisconnectDuringARedialAnnouncesNoFurtherAttempt(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	mock := clock.NewMock()
	var n atomic.Int32
	stalled := make(chan struct{})
	srv := testutil.NewRawServer(t, func(c *testutil.RawConn) {
		if n.Add(1) == 1 {
			_ = c.Upgrade()
			return // closes the socket: the connection breaks
		}
		close(stalled) // the redial: never answer the handshake
		<-c.Done()
	})
	m := NewManager(nil, WithClock(mock))
	log := newStateLog(t, m)
	if err := m.Connect(ctx, srv.URL, WithReconnect(Backoff{Initial: time.Second, Jitter: NoJitter})); err != nil {
		t.Fatal(err)
	}
	log.next(t, ctx, StateReconnecting)
	mock.Add(time.Second)
	<-stalled
	if err := m.Disconnect(ctx); err != nil {
		t.Fatal(err)
	}
	if after := log.upToNow(t, ctx); len(after) != 1 || after[0] != "disconnected" {
		t.Fatalf("states after Disconnect: %q", after)
	}
}

// A heartbeat due while the subscriptions are sent again waits: they go
// first on the new connection, as WithReconnect promises.
func TestAHeartbeatDoesNotCutIntoTheReplay(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	mock := clock.NewMock()
	srv := testutil.NewServer(t, testutil.Hold)
	var holding atomic.Bool
	entered, release := make(chan struct{}), make(chan struct{})
	pre := PreProcessorFunc(func(_ context.Context, req Request) (Request, error) {
		if req.Payload == "sub-a" && holding.CompareAndSwap(true, false) {
			close(entered)
			<-release
		}
		return req, nil
	})
	m := NewManager(nil, WithClock(mock), WithPreProcessors(pre))
	log := newStateLog(t, m)
	if err := m.Connect(ctx, srv.URL,
		WithReconnect(Backoff{Initial: time.Second, Jitter: NoJitter}),
		WithHeartbeat(time.Hour, TextRequest("hb"), nil)); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = m.Disconnect(context.Background()) }()
	for _, s := range []string{"sub-a", "sub-b"} {
		if err := m.Subscribe(ctx, TextRequest(s)); err != nil {
			t.Fatal(err)
		}
	}
	c0, err := srv.WaitConn(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	holding.Store(true)
	c0.Drop()
	log.next(t, ctx, StateReconnecting)
	mock.Add(time.Second)
	<-entered // sending sub-a again
	m.mu.Lock()
	s := m.sess
	m.mu.Unlock()
	mock.Add(time.Hour) // the new connection's heartbeat is due
	// Give the ticker's goroutine its turn (it queued the beat before
	// the fix); yielding, not sleeping, and bounded.
	for i := 0; i < 10000 && s.queued.Load() == 0; i++ {
		runtime.Gosched()
	}
	close(release)
	log.next(t, ctx, StateConnected)
	mock.Add(time.Hour) // the next beat, after the replay
	c1, err := srv.WaitConn(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	fs, err := c1.WaitFrames(ctx, 3)
	if err != nil {
		t.Fatal(err)
	}
	if got := dataOf(fs); len(got) < 3 || got[0] != "sub-a" || got[1] != "sub-b" || got[2] != "hb" {
		t.Fatalf("frames on the new connection: %q; the subscriptions go first", got)
	}
}
