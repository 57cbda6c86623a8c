package rxws

import (
	"context"
	"errors"
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

// reconnecting connects a manager on clk to url, reconnecting after 1 s,
// 2 s, ... (no jitter), and disconnects it when the test ends.
func reconnecting(t *testing.T, ctx context.Context, clk clock.Clock, url string, opts []Option, copts ...ConnectOption) (*Manager, *stateLog) {
	t.Helper()
	m := NewManager(nil, append([]Option{WithClock(clk)}, opts...)...)
	log := newStateLog(t, m)
	copts = append([]ConnectOption{WithReconnect(Backoff{Initial: time.Second, Jitter: NoJitter})}, copts...)
	if err := m.Connect(ctx, url, copts...); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Disconnect(context.Background()) })
	return m, log
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

// gate stops the first goroutine that passes it once armed: entered is
// closed, and it waits until the test closes release.
type gate struct {
	armed            atomic.Bool
	entered, release chan struct{}
	once             sync.Once
}

func newGate() gate {
	return gate{entered: make(chan struct{}), release: make(chan struct{})}
}

func (g *gate) pass() {
	if g.armed.Load() {
		g.once.Do(func() { close(g.entered); <-g.release })
	}
}

// sinceGate is a mock clock whose Since, once armed, waits at its gate:
// the reconnect loop calls it for StateConnected's Downtime, after the
// replay, so the test can end the new connection right then.
type sinceGate struct {
	*clock.Mock
	gate
}

func (c *sinceGate) Since(t time.Time) time.Duration {
	c.pass()
	return c.Mock.Since(t)
}

// A reconnected connection lost before its StateConnected went out is not
// announced after the loss's StateReconnecting.
func TestAReconnectIsNotAnnouncedAfterItsLoss(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	gc := &sinceGate{Mock: clock.NewMock(), gate: newGate()}
	var n atomic.Int32
	srv := testutil.NewServer(t, func(c *testutil.Conn) {
		if n.Add(1) == 2 {
			c.Drop() // the reconnected connection dies at once
			return
		}
		<-c.Done()
	})
	m, log := reconnecting(t, ctx, gc, srv.URL, nil)
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
	m, log := reconnecting(t, ctx, mock, srv.URL, nil)
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

// timerGate is a mock clock whose Timer, once armed, first waits at its
// gate: the reconnect loop arms its backoff timer just before it announces
// the attempt.
type timerGate struct {
	*clock.Mock
	gate
}

func (c *timerGate) Timer(d time.Duration) *clock.Timer {
	c.pass()
	return c.Mock.Timer(d)
}

// A Disconnect just after a loss, before the reconnect announced its first
// attempt, leaves no attempt to announce.
func TestDisconnectJustAfterALossAnnouncesNoAttempt(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	clk := &timerGate{Mock: clock.NewMock(), gate: newGate()}
	srv := testutil.NewServer(t, testutil.Hold)
	m, log := reconnecting(t, ctx, clk, srv.URL, nil)
	c0, err := srv.WaitConn(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	log.upToNow(t, ctx) // connecting, connected
	clk.armed.Store(true)
	c0.Drop()
	<-clk.entered // the reconnect goroutine is about to announce attempt 1
	m.mu.Lock()
	lt := m.life
	m.mu.Unlock()
	done := make(chan error, 1)
	go func() { done <- m.Disconnect(ctx) }()
	<-lt.ctx.Done() // Disconnect has ended the Connect
	close(clk.release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if after := log.upToNow(t, ctx); len(after) != 1 || after[0] != "disconnected" {
		t.Fatalf("states after the loss: %q; want only disconnected", after)
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
	m, log := reconnecting(t, ctx, mock, srv.URL, []Option{WithPreProcessors(pre)},
		WithHeartbeat(time.Hour, TextRequest("hb"), nil))
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

// gatedSub's MarshalJSON waits, once, when Subscribe computes its identity
// to remember it: after the frame was written, before it is remembered.
type gatedSub struct {
	Op               string `json:"op"`
	entered, release chan struct{}
	once             *sync.Once
}

func (v gatedSub) MarshalJSON() ([]byte, error) {
	if v.once != nil {
		buf := make([]byte, 16<<10)
		if strings.Contains(string(buf[:runtime.Stack(buf, false)]), "rxws.identity") {
			v.once.Do(func() { close(v.entered); <-v.release })
		}
	}
	return []byte(`{"op":"` + v.Op + `"}`), nil
}

// A Subscribe whose connection is lost and made again between its write
// and its remembering (so the new connection's replay missed it) sends it
// on the new connection too.
func TestASubscribeRacingALossIsSentOnTheNextConnection(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	mock := clock.NewMock()
	srv := testutil.NewServer(t, testutil.Hold)
	m, log := reconnecting(t, ctx, mock, srv.URL, nil)
	c0, err := srv.WaitConn(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	sub := gatedSub{Op: "sub-x", entered: make(chan struct{}), release: make(chan struct{}), once: new(sync.Once)}
	subErr := make(chan error, 1)
	go func() { subErr <- m.Subscribe(ctx, JSONRequest(sub)) }()
	<-sub.entered // written on c0, not yet remembered
	c0.Drop()
	log.next(t, ctx, StateReconnecting)
	mock.Add(time.Second)
	log.next(t, ctx, StateConnected) // the replay, of nothing, is done
	close(sub.release)
	if err := <-subErr; err != nil {
		t.Fatal(err)
	}
	if got := upToMarker(t, ctx, m, srv, 1); len(got) != 2 || got[0] != `{"op":"sub-x"}` || got[1] != "marker" {
		t.Fatalf("frames on the new connection: %q", got)
	}
}

// Remembered subscriptions belong to the Connect they were made under: a
// later Connect neither sends them nor replays them on its reconnects.
func TestALaterConnectStartsWithNoSubscriptions(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	mock := clock.NewMock()
	srv := testutil.NewServer(t, testutil.Hold)
	m, log := reconnecting(t, ctx, mock, srv.URL, nil)
	if err := m.Subscribe(ctx, TextRequest("sub-a")); err != nil {
		t.Fatal(err)
	}
	if err := m.Disconnect(ctx); err != nil {
		t.Fatal(err)
	}
	if err := m.Connect(ctx, srv.URL, WithReconnect(Backoff{Initial: time.Second, Jitter: NoJitter})); err != nil {
		t.Fatal(err)
	}
	if n := len(m.Subscriptions()); n != 0 {
		t.Fatalf("a new Connect remembers %d subscriptions", n)
	}
	c1, err := srv.WaitConn(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	c1.Drop()
	log.next(t, ctx, StateReconnecting)
	mock.Add(time.Second)
	log.next(t, ctx, StateConnected)
	if err := m.Send(ctx, TextRequest("marker")); err != nil {
		t.Fatal(err)
	}
	c2, err := srv.WaitConn(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	if fs, err := c2.WaitFrames(ctx, 1); err != nil || dataOf(fs)[0] != "marker" {
		t.Fatalf("the new Connect's reconnection got %q, %v", dataOf(fs), err)
	}
}

// A Subscribe written under one Connect and remembered only after
// Disconnect and a new Connect belongs to neither: the new Connect does not
// remember it or send it.
func TestASubscribeOfAnEndedConnectStaysOutOfTheNext(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	srv := testutil.NewServer(t, testutil.Hold)
	m, _ := reconnecting(t, ctx, clock.NewMock(), srv.URL, nil)
	sub := gatedSub{Op: "sub-old", entered: make(chan struct{}), release: make(chan struct{}), once: new(sync.Once)}
	subErr := make(chan error, 1)
	go func() { subErr <- m.Subscribe(ctx, JSONRequest(sub)) }()
	<-sub.entered // written under the first Connect, not yet remembered
	if err := m.Disconnect(ctx); err != nil {
		t.Fatal(err)
	}
	if err := m.Connect(ctx, srv.URL); err != nil {
		t.Fatal(err)
	}
	close(sub.release)
	if err := <-subErr; err != nil {
		t.Fatal(err)
	}
	if got, n := upToMarker(t, ctx, m, srv, 1), len(m.Subscriptions()); got[0] != "marker" || n != 0 {
		t.Fatalf("the new Connect's connection got %q first, and it remembers %d", got, n)
	}
}

// A Connect with a URL that is no WebSocket URL fails with ErrBadURL and
// reports no state: there was nothing to dial (its states used to name the
// previous connection's server).
func TestAConnectWithABadURLReportsNoState(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	m := NewManager(nil)
	log := newStateLog(t, m)
	if err := m.Connect(ctx, "http://other.example/feed"); !errors.Is(err, ErrBadURL) {
		t.Fatal(err)
	}
	if got := log.upToNow(t, ctx); len(got) != 0 {
		t.Fatalf("states: %q", got)
	}
}

// upToMarker sends "marker" and returns the data frames connection i got,
// up to it.
func upToMarker(t *testing.T, ctx context.Context, m *Manager, srv *testutil.Server, i int) []string {
	t.Helper()
	if err := m.Send(ctx, TextRequest("marker")); err != nil {
		t.Fatal(err)
	}
	c, err := srv.WaitConn(ctx, i)
	if err != nil {
		t.Fatal(err)
	}
	for n := 1; ; n++ {
		fs, err := c.WaitFrames(ctx, n)
		if err != nil {
			t.Fatal(err)
		}
		if got := dataOf(fs); got[len(got)-1] == "marker" {
			return got
		}
	}
}

// A Receive that was waiting when a message was read, and was still owed it
// when the connection failed (a lossless observer before it had no room),
// gets that message from the next connection, as the observers owed it do,
// whether its ctx can end or not: it does not give up its place to read the
// next connection's message instead.
func TestAReceiveOwedAMessageGetsItAcrossAReconnect(t *testing.T) {
	for _, mode := range []string{"reading", "waiting"} {
		t.Run(mode, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			mock := clock.NewMock()
			srv := testutil.NewServer(t, testutil.Hold)
			m, log := reconnecting(t, ctx, mock, srv.URL, nil)
			s := currentSession(m)
			c0, err := srv.WaitConn(ctx, 0)
			if err != nil {
				t.Fatal(err)
			}
			a := m.Messages().Observe(rxgoCtx(ctx)) // with room
			// Once a has m0, the reader holds the read token: a Receive
			// then waits for it rather than reading for itself at once.
			if err := c0.SendText("m0"); err != nil {
				t.Fatal(err)
			}
			if it := <-a; it.E != nil || string(it.V.(*Response).Bytes()) != "m0" {
				t.Fatalf("a got %v", it)
			}
			octx, leave := context.WithCancel(ctx)
			defer leave()
			o := m.MessagesWith([]StreamOption{WithBuffer(-1)}, rxgoCtx(octx)).Observe() // lossless, no room
			rctx := context.Background()                                                 // reads for itself
			if mode == "waiting" {
				rctx = ctx
			}
			got := make(chan string, 1)
			go func() {
				r, err := m.Receive(rctx)
				if err != nil {
					got <- err.Error()
					return
				}
				got <- string(r.Bytes())
			}()
			until(t, ctx, "the Receive waiting", func() bool { return s.msgs.Subscribers() == 3 })
			if err := c0.SendText("m1"); err != nil {
				t.Fatal(err)
			}
			if it := <-a; it.E != nil || string(it.V.(*Response).Bytes()) != "m1" {
				t.Fatalf("a got %v", it)
			}
			// The reader waits for room in o, the Receive after it.
			s.stop(errors.New("a write broke"))
			go func() {
				for range o {
				}
			}()
			log.next(t, ctx, StateReconnecting)
			mock.Add(time.Second)
			c1, err := srv.WaitConn(ctx, 1)
			if err != nil {
				t.Fatal(err)
			}
			if err := c1.SendText("m2"); err != nil {
				t.Fatal(err)
			}
			if r := <-got; r != "m1" {
				t.Fatalf("Receive (%s) got %q; want m1, read while it waited and owed to it", mode, r)
			}
		})
	}
}
