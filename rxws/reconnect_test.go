package rxws_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/reactivex/rxgo/v2"
	"github.com/rxpype/rxpype/clock"
	"github.com/rxpype/rxpype/internal/testutil"
	"github.com/rxpype/rxpype/rxws"
)

var exactBackoff = rxws.Backoff{Initial: time.Second, Max: 8 * time.Second, Multiplier: 2, Jitter: rxws.NoJitter}

type reconnectRig struct {
	mock   *clock.Mock
	srv    *testutil.Server
	m      *rxws.Manager
	states chan rxws.State
	end    chan error // the stream's end
	msgs   chan string
	signed atomic.Int32
}

// newReconnectRig connects a manager with reconnect, an auth that numbers
// its signatures, a States observer and a stream listener.
func newReconnectRig(t *testing.T, b rxws.Backoff, opts ...rxws.Option) *reconnectRig {
	t.Helper()
	r := &reconnectRig{mock: clock.NewMock(), states: make(chan rxws.State, 100), end: make(chan error, 1), msgs: make(chan string, 100)}
	r.srv = testutil.NewServer(t, testutil.Hold)
	auth := rxws.AuthFunc(func(_ context.Context, req rxws.Request) (rxws.Request, error) {
		req.Payload = fmt.Sprintf("%s#sig%d", req.Payload, r.signed.Add(1))
		return req, nil
	})
	r.m = rxws.NewManager(nil, append([]rxws.Option{rxws.WithClock(r.mock), rxws.WithAuth(auth)}, opts...)...)
	ctx, cancel := context.WithCancel(context.Background())
	statesDone := make(chan struct{})
	ch := r.m.States(rxgoCtx(ctx)).Observe() // subscribed when Observe returns
	go func() {
		defer close(statesDone)
		for item := range ch {
			r.states <- item.V.(rxws.State)
		}
	}()
	iterDone := make(chan struct{})
	started := make(chan struct{})
	go func() {
		defer close(iterDone)
		it := r.m.IterMessages(ctx)
		close(started)
		var last error
		for resp, err := range it {
			if err != nil {
				last = err
				continue
			}
			r.msgs <- resp.Data().(string)
		}
		r.end <- last
	}()
	<-started
	if err := r.m.Connect(testCtx(t), r.srv.URL, rxws.WithReconnect(b)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = r.m.Disconnect(context.Background())
		cancel()
		<-statesDone
		<-iterDone
	})
	return r
}

// next returns the next state of the given kind, skipping others.
func (r *reconnectRig) next(t *testing.T, kind rxws.StateKind) rxws.State {
	t.Helper()
	ctx := testCtx(t)
	var skipped []string
	for {
		select {
		case st := <-r.states:
			if st.Kind == kind {
				return st
			}
			skipped = append(skipped, st.String())
		case <-ctx.Done():
			t.Fatalf("no %v state (skipped %q; connected %v)", kind, skipped, r.m.Connected())
		}
	}
}

func subscribeReq(name string) rxws.Request {
	req := rxws.TextRequest(name)
	req.AuthRequired = true
	return req
}

func TestReconnectReplaysSubscriptionsSignedAgain(t *testing.T) {
	r := newReconnectRig(t, exactBackoff)
	ctx := testCtx(t)
	for _, s := range []string{"sub-a", "sub-b", "sub-c"} {
		if err := r.m.Subscribe(ctx, subscribeReq(s)); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.m.Unsubscribe(ctx, subscribeReq("sub-b"), rxws.TextRequest("unsub-b")); err != nil {
		t.Fatal(err)
	}
	c0, _ := r.srv.WaitConn(ctx, 0)
	_ = c0.SendText("before")
	if got := <-r.msgs; got != "before" {
		t.Fatal(got)
	}
	c0.Drop()
	st := r.next(t, rxws.StateReconnecting)
	if st.Attempt != 1 || st.Wait != time.Second || !errors.Is(st.Cause, rxws.ErrClosed) {
		t.Fatalf("state %v", st)
	}
	r.mock.Add(time.Second - time.Nanosecond)
	if r.srv.Attempts() != 1 {
		t.Fatal("dialled before the backoff ran out")
	}
	r.mock.Add(time.Nanosecond)
	c1, err := r.srv.WaitConn(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if st := r.next(t, rxws.StateConnected); st.Downtime != time.Second {
		t.Fatalf("downtime %v", st.Downtime)
	}
	if err := r.m.Send(ctx, rxws.TextRequest("after")); err != nil {
		t.Fatal(err)
	}
	frames, _ := c1.WaitFrames(ctx, 3)
	var got []string
	for _, f := range frames {
		got = append(got, string(f.Data))
	}
	if want := []string{"sub-a#sig4", "sub-c#sig5", "after"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("new connection got %q, want %q", got, want)
	}
	_ = c1.SendText("resumed")
	if got := <-r.msgs; got != "resumed" {
		t.Fatalf("stream after reconnect: %q", got)
	}
}

// A subscription that a pre-processor refuses when it is sent again does
// not keep the others from going: they are replayed in order, and the new
// connection's state names the refused one.
func TestReconnectReplaysPastARefusedSubscription(t *testing.T) {
	hiccup := errors.New("signing service hiccup")
	var refuse atomic.Bool
	pre := rxws.PreProcessorFunc(func(_ context.Context, req rxws.Request) (rxws.Request, error) {
		if req.Payload == "sub-a" && refuse.Swap(false) {
			return req, hiccup
		}
		return req, nil
	})
	r := newReconnectRig(t, exactBackoff, rxws.WithPreProcessors(pre))
	ctx := testCtx(t)
	for _, s := range []string{"sub-a", "sub-b", "sub-c"} {
		if err := r.m.Subscribe(ctx, subscribeReq(s)); err != nil {
			t.Fatal(err)
		}
	}
	refuse.Store(true)
	c0, _ := r.srv.WaitConn(ctx, 0)
	c0.Drop()
	r.next(t, rxws.StateReconnecting)
	r.mock.Add(time.Second)
	c1, err := r.srv.WaitConn(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	st := r.next(t, rxws.StateConnected)
	if !errors.Is(st.Cause, hiccup) || !strings.Contains(st.Cause.Error(), "sub-a") {
		t.Fatalf("state %v: want the refused sub-a as its cause", st)
	}
	frames, _ := c1.WaitFrames(ctx, 2)
	var got []string
	for _, f := range frames {
		got = append(got, string(f.Data))
	}
	if want := []string{"sub-b#sig4", "sub-c#sig5"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("new connection got %q, want %q", got, want)
	}
}

func TestRefusedHandshakesBackOffThenSucceed(t *testing.T) {
	r := newReconnectRig(t, exactBackoff)
	ctx := testCtx(t)
	r.srv.RefuseNext(3, 503, "busy")
	c0, _ := r.srv.WaitConn(ctx, 0)
	c0.Drop()
	var waits []time.Duration
	for attempt := 1; attempt <= 4; attempt++ {
		st := r.next(t, rxws.StateReconnecting)
		if st.Attempt != attempt {
			t.Fatalf("attempt %d, want %d", st.Attempt, attempt)
		}
		var he *rxws.HandshakeError
		if attempt > 1 && (!errors.As(st.Cause, &he) || he.StatusCode != 503) {
			t.Fatalf("cause %v", st.Cause)
		}
		waits = append(waits, st.Wait)
		r.mock.Add(st.Wait)
	}
	if want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second}; !reflect.DeepEqual(waits, want) {
		t.Fatalf("waits %v, want %v", waits, want)
	}
	if st := r.next(t, rxws.StateConnected); st.Downtime != 15*time.Second {
		t.Fatalf("downtime %v", st.Downtime)
	}
	if r.srv.Attempts() != 5 || r.srv.Conns() != 2 {
		t.Fatalf("attempts %d conns %d", r.srv.Attempts(), r.srv.Conns())
	}
}

func TestGivingUpEndsTheStreamWithATypedError(t *testing.T) {
	b := exactBackoff
	b.MaxAttempts = 2
	r := newReconnectRig(t, b)
	r.srv.RefuseNext(10, 401, "no")
	c0, _ := r.srv.WaitConn(testCtx(t), 0)
	c0.Drop()
	for range 2 {
		r.mock.Add(r.next(t, rxws.StateReconnecting).Wait)
	}
	err := <-r.end
	var ge *rxws.GaveUpError
	var he *rxws.HandshakeError
	if !errors.As(err, &ge) || ge.Attempts != 2 || !errors.Is(err, rxws.ErrGaveUp) || !errors.As(err, &he) {
		t.Fatalf("got %v", err)
	}
	if st := r.next(t, rxws.StateDisconnected); !errors.Is(st.Cause, rxws.ErrGaveUp) {
		t.Fatalf("state %v", st)
	}
	if err := r.m.Send(testCtx(t), rxws.TextRequest("x")); !errors.Is(err, rxws.ErrNotConnected) || !errors.Is(err, rxws.ErrGaveUp) {
		t.Fatalf("send: %v", err)
	}
}

// A server that accepts every handshake and then closes at once (an API key
// refused with a close frame) is a failing server: the waits keep growing
// and MaxAttempts is reached, with the server's close as the last error.
func TestAServerThatDropsEachNewConnectionIsBackedOffAndGivenUpOn(t *testing.T) {
	b := exactBackoff
	b.MaxAttempts = 3
	r := newReconnectRig(t, b)
	ctx := testCtx(t)
	for i, want := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second} {
		c, err := r.srv.WaitConn(ctx, i)
		if err != nil {
			t.Fatal(err)
		}
		_ = c.CloseWith(4001, "invalid api key")
		st := r.next(t, rxws.StateReconnecting)
		if st.Attempt != i+1 || st.Wait != want {
			t.Fatalf("after connection %d lasted no time: %v, want attempt %d in %v", i, st, i+1, want)
		}
		r.mock.Add(st.Wait)
	}
	c, err := r.srv.WaitConn(ctx, 3)
	if err != nil {
		t.Fatal(err)
	}
	_ = c.CloseWith(4001, "invalid api key")
	err = <-r.end
	var ge *rxws.GaveUpError
	var ce *rxws.CloseError
	if !errors.As(err, &ge) || ge.Attempts != 3 || !errors.As(err, &ce) || ce.Code != 4001 {
		t.Fatalf("stream ended with %v, want a *GaveUpError after 3 attempts, the last a close 4001", err)
	}
	if n := r.srv.Attempts(); n != 4 {
		t.Fatalf("%d dials, want 4 (Connect and 3 attempts)", n)
	}
}

// A connection that lasted Backoff.MinUptime ends an outage: the next loss
// starts again from attempt 1.
func TestAConnectionThatLastedStartsTheAttemptsAgain(t *testing.T) {
	r := newReconnectRig(t, exactBackoff)
	ctx := testCtx(t)
	c0, _ := r.srv.WaitConn(ctx, 0)
	c0.Drop()
	r.mock.Add(r.next(t, rxws.StateReconnecting).Wait)
	c1, err := r.srv.WaitConn(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	r.next(t, rxws.StateConnected)
	r.mock.Add(rxws.DefaultMinUptime - time.Nanosecond)
	c1.Drop()
	if st := r.next(t, rxws.StateReconnecting); st.Attempt != 2 {
		t.Fatalf("lost just short of MinUptime: %v, want attempt 2", st)
	}
	r.mock.Add(2 * time.Second)
	c2, err := r.srv.WaitConn(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	r.next(t, rxws.StateConnected)
	r.mock.Add(rxws.DefaultMinUptime)
	c2.Drop()
	if st := r.next(t, rxws.StateReconnecting); st.Attempt != 1 || st.Wait != time.Second {
		t.Fatalf("lost after MinUptime: %v, want attempt 1 in 1s", st)
	}
}

func TestDisconnectDuringBackoffStopsAtOnce(t *testing.T) {
	r := newReconnectRig(t, exactBackoff)
	c0, _ := r.srv.WaitConn(testCtx(t), 0)
	c0.Drop()
	r.next(t, rxws.StateReconnecting)
	if err := r.m.Disconnect(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if err := <-r.end; err != nil {
		t.Fatalf("stream ended with %v", err)
	}
	r.mock.Add(time.Hour)
	if r.srv.Attempts() != 1 {
		t.Fatal("dialled after Disconnect")
	}
	if st := r.next(t, rxws.StateDisconnected); st.Cause != nil {
		t.Fatalf("state %v", st)
	}
}

func TestSendDuringAnOutageArrivesOnceAfterReconnecting(t *testing.T) {
	r := newReconnectRig(t, exactBackoff)
	ctx := testCtx(t)
	if err := r.m.Subscribe(ctx, subscribeReq("sub")); err != nil {
		t.Fatal(err)
	}
	c0, _ := r.srv.WaitConn(ctx, 0)
	c0.Drop()
	r.next(t, rxws.StateReconnecting)
	sent := make(chan error, 1)
	go func() { sent <- r.m.Send(ctx, rxws.TextRequest("queued")) }()
	r.mock.Add(time.Second)
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	c1, _ := r.srv.WaitConn(ctx, 1)
	frames, _ := c1.WaitFrames(ctx, 2)
	if len(frames) != 2 || string(frames[0].Data) != "sub#sig2" || string(frames[1].Data) != "queued" {
		t.Fatalf("new connection got %v", frames)
	}
	for _, f := range c0.Frames() {
		if string(f.Data) == "queued" {
			t.Fatal("the old connection got it too")
		}
	}
}

func TestFailFastDuringAnOutage(t *testing.T) {
	r := newReconnectRig(t, exactBackoff, rxws.WithFailFast())
	c0, _ := r.srv.WaitConn(testCtx(t), 0)
	c0.Drop()
	r.next(t, rxws.StateReconnecting)
	if err := r.m.Send(testCtx(t), rxws.TextRequest("x")); !errors.Is(err, rxws.ErrNotConnected) {
		t.Fatalf("got %v", err)
	}
}

// WithFailFast's error during an outage says why this Connect's connection
// was lost, not how an earlier Connect ended.
func TestFailFastReportsThisOutagesCause(t *testing.T) {
	ctx := testCtx(t)
	srv := testutil.NewServer(t, testutil.Hold)
	m := rxws.NewManager(nil, rxws.WithClock(clock.NewMock()), rxws.WithFailFast())
	if err := m.Connect(ctx, srv.URL); err != nil {
		t.Fatal(err)
	}
	c0, err := srv.WaitConn(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	_ = c0.CloseWith(4001, "the first Connect's end")
	for range m.IterMessages(ctx) { // until that end
	}
	states := m.States(rxgoCtx(ctx)).Observe()
	if err := m.Connect(ctx, srv.URL, rxws.WithReconnect(rxws.Backoff{Initial: time.Hour, Jitter: rxws.NoJitter})); err != nil {
		t.Fatal(err)
	}
	c1, err := srv.WaitConn(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	c1.Drop()
	for item := range states {
		if item.V.(rxws.State).Kind == rxws.StateReconnecting {
			break
		}
	}
	err = m.Send(ctx, rxws.TextRequest("x"))
	var ce *rxws.CloseError
	if !errors.Is(err, rxws.ErrNotConnected) || !errors.As(err, &ce) || ce.Code != websocket.CloseAbnormalClosure {
		t.Fatalf("Send during the outage: %v; want ErrNotConnected with the loss's 1006", err)
	}
	if err := m.Disconnect(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestStatesSequence(t *testing.T) {
	r := newReconnectRig(t, exactBackoff)
	// Connect's own states were emitted before the observer may have
	// joined; from the drop on, the sequence is exact.
	c0, _ := r.srv.WaitConn(testCtx(t), 0)
	c0.Drop()
	st := r.next(t, rxws.StateReconnecting)
	r.mock.Add(st.Wait)
	r.next(t, rxws.StateConnected)
	if err := r.m.Disconnect(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if st := r.next(t, rxws.StateDisconnected); st.Cause != nil {
		t.Fatalf("state %v", st)
	}
	if got := fmt.Sprint(st); got == "" {
		t.Fatal("no String")
	}
}

// sinceGate is a mock clock whose first Since call (the reconnect
// goroutine's, manager.go:545, made after it installed its session and just
// before it returns) waits for the test: it stands for the reconnect
// goroutine being descheduled there.
type sinceGate struct {
	*clock.Mock
	once    sync.Once
	reached chan struct{}
	open    chan struct{}
}

func (g *sinceGate) Since(t time.Time) time.Duration {
	g.once.Do(func() { close(g.reached); <-g.open })
	return g.Mock.Since(t)
}

// A Disconnect must not wait for the reconnect loop of a later Connect (it
// did, on one WaitGroup for the manager: past its ctx, for ever with a
// server that stays down, and at times with a WaitGroup misuse panic).
func TestDisconnectWaitsOnlyForItsOwnReconnects(t *testing.T) {
	ctx := testCtx(t)
	g := &sinceGate{Mock: clock.NewMock(), reached: make(chan struct{}), open: make(chan struct{})}
	srv := testutil.NewServer(t, testutil.Echo)
	m := rxws.NewManager(nil, rxws.WithClock(g))
	rc := rxws.WithReconnect(rxws.Backoff{Initial: 10 * time.Millisecond, Max: 10 * time.Millisecond, Jitter: rxws.NoJitter})
	states := m.States(rxgoCtx(ctx)).Observe()
	await := func(k rxws.StateKind) {
		t.Helper()
		for it := range states {
			if it.V.(rxws.State).Kind == k {
				return
			}
		}
		t.Fatalf("no %v state", k)
	}
	closeConn := func(i int) {
		t.Helper()
		c, err := srv.WaitConn(ctx, i)
		if err != nil {
			t.Fatal(err)
		}
		_ = c.CloseWith(websocket.CloseNormalClosure, "")
	}

	// Life 1: connect, lose the connection, reconnect (goroutine R1).
	if err := m.Connect(ctx, srv.URL, rc); err != nil {
		t.Fatal(err)
	}
	closeConn(0)
	await(rxws.StateReconnecting) // R1's backoff timer is armed
	g.Add(10 * time.Millisecond)
	<-g.reached // R1 installed session 1 (conn 1) and is about to return

	// A: Disconnect with a ctx. It ends life 1, closes session 1 and then
	// waits in m.retries.Wait (manager.go:185), for R1 so far.
	dctx, dcancel := context.WithTimeout(ctx, time.Second)
	defer dcancel()
	aDone := make(chan error, 1)
	go func() { aDone <- m.Disconnect(dctx) }()
	await(rxws.StateDisconnected) // session 1 ended: the manager is idle

	// B: a new Connect (life 2) whose connection is lost: goroutine R2 waits
	// its backoff on the mock clock, which nobody moves.
	if err := m.Connect(ctx, srv.URL, rc); err != nil {
		t.Fatalf("second Connect: %v", err)
	}
	closeConn(2)
	await(rxws.StateReconnecting)

	close(g.open) // R1 returns: nothing of life 1 is left
	select {
	case err := <-aDone:
		t.Logf("first Disconnect returned %v", err)
	case <-time.After(5 * time.Second): // a bound, 4 s past A's ctx
		t.Errorf("Disconnect still blocked 4 s after its ctx ended: it waits in m.retries.Wait for R2, the reconnect loop of a later Connect")
		_ = m.Disconnect(context.Background()) // ends life 2, and so R2 and A
		t.Logf("first Disconnect returned %v once life 2 was ended", <-aDone)
	}
	_ = m.Disconnect(context.Background())
}

// A state names the server it is about: a Connect's StateConnecting and the
// StateDisconnected of its failure name the URL being dialled, not the one
// of the manager's last connection.
func TestStatesNameTheServerBeingDialled(t *testing.T) {
	ctx := testCtx(t)
	srv := testutil.NewServer(t, testutil.Hold)
	m := rxws.NewManager(nil)
	states := m.States(rxgoCtx(ctx)).Observe()
	if err := m.Connect(ctx, srv.URL+"/a?key=secret"); err != nil {
		t.Fatal(err)
	}
	if err := m.Disconnect(ctx); err != nil {
		t.Fatal(err)
	}
	refused := testutil.RefusedURL(t) + "/c"
	if err := m.Connect(ctx, refused); err == nil {
		t.Fatal("connected to a refused port")
	}
	var got []string
	for len(got) < 5 {
		st := (<-states).V.(rxws.State)
		got = append(got, st.Kind.String()+" "+st.URL)
	}
	want := []string{"connecting " + srv.URL + "/a?…", "connected " + srv.URL + "/a?…", "disconnected " + srv.URL + "/a?…",
		"connecting " + refused, "disconnected " + refused}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("states\n got %q\nwant %q", got, want)
	}
}

// Backoff's waits grow to Max and stay there, whatever Max: one near
// math.MaxInt64 ("no cap") once rounded, as a float, past the largest
// Duration and wrapped negative, so the waits fell to zero (a tight redial
// loop), and full jitter panicked.
func TestBackoffDelayNeverShrinksOrPanics(t *testing.T) {
	for _, max := range []time.Duration{30 * time.Second, math.MaxInt64, math.MaxInt64 - 1} {
		exact := rxws.Backoff{Max: max, Jitter: rxws.NoJitter}
		var prev time.Duration
		for n := 1; n <= 100; n++ {
			d := exact.Delay(n)
			if d < prev || d > max {
				t.Fatalf("Max %v: Delay(%d) = %v after %v", max, n, d, prev)
			}
			prev = d
			if j := (rxws.Backoff{Max: max}).Delay(n); j < 0 || j > d {
				t.Fatalf("Max %v: jittered Delay(%d) = %v, ceiling %v", max, n, j, d)
			}
		}
		if prev != max {
			t.Fatalf("Max %v: the waits end at %v", max, prev)
		}
	}
}

// blockedAtB connects m to srv (with opts) and sets up two observers: a,
// which reads, and b (with bOpts), lossless with room for one message,
// which does not. After m1 and m2, a has both and the reader waits for room
// in b for m2. It returns the connection's far end.
func blockedAtB(t *testing.T, ctx context.Context, m *rxws.Manager, srv *testutil.Server, opts []rxws.ConnectOption, bOpts ...rxws.StreamOption) (a, b <-chan rxgo.Item, c *testutil.Conn) {
	t.Helper()
	if err := m.Connect(ctx, srv.URL, opts...); err != nil {
		t.Fatal(err)
	}
	a = m.MessagesWith([]rxws.StreamOption{rxws.WithName("a")}, rxgoCtx(ctx)).Observe()
	b = m.MessagesWith(append([]rxws.StreamOption{rxws.WithName("b"), rxws.WithBuffer(1)}, bOpts...), rxgoCtx(ctx)).Observe()
	c, err := srv.WaitConn(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, msg := range []string{"m1", "m2"} {
		if err := c.SendText(msg); err != nil {
			t.Fatal(err)
		}
	}
	for _, want := range []string{"m1", "m2"} {
		if got := string((<-a).V.(*rxws.Response).Bytes()); got != want {
			t.Fatalf("a got %q, want %q", got, want)
		}
	}
	return a, b, c
}

// loseConnection drops c and sends until a write finds the loss, as the
// reader, waiting for room in a buffer, is not reading.
func loseConnection(ctx context.Context, m *rxws.Manager, c *testutil.Conn) {
	c.Drop()
	for ctx.Err() == nil && m.Send(ctx, rxws.TextRequest("finds the loss")) == nil {
	}
}

// sendOnTheNextConnection lets the backoff (1 s) pass and has the new
// connection send msg.
func sendOnTheNextConnection(t *testing.T, ctx context.Context, mock *clock.Mock, srv *testutil.Server, msg string) {
	t.Helper()
	mock.Add(time.Second)
	c1, err := srv.WaitConn(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := c1.SendText(msg); err != nil {
		t.Fatal(err)
	}
}

// reconnectAndSendM3 lets the backoff pass, has the new connection send m3
// and checks that b gets m1, m2 and m3 in order.
func reconnectAndSendM3(t *testing.T, ctx context.Context, mock *clock.Mock, srv *testutil.Server, b <-chan rxgo.Item) {
	t.Helper()
	sendOnTheNextConnection(t, ctx, mock, srv, "m3")
	var got []string
	for item := range b {
		got = append(got, string(item.V.(*rxws.Response).Bytes()))
		if len(got) == 3 {
			break
		}
	}
	if !reflect.DeepEqual(got, []string{"m1", "m2", "m3"}) {
		t.Fatalf("b got %q, want m1, m2, m3", got)
	}
}

// A lossless observer whose full buffer held a message back as the
// connection failed gets it, after the reconnect, before anything newer,
// although another observer already had it.
func TestABlockObserverGetsTheMessageItsBufferHeldBackAcrossAReconnect(t *testing.T) {
	ctx := testCtx(t)
	mock := clock.NewMock()
	srv := testutil.NewServer(t, testutil.Hold)
	m := rxws.NewManager(nil, rxws.WithClock(mock))
	states := m.States(rxgoCtx(ctx)).Observe()
	a, b, c := blockedAtB(t, ctx, m, srv, []rxws.ConnectOption{rxws.WithReconnect(rxws.Backoff{Initial: time.Second, Jitter: rxws.NoJitter})})
	loseConnection(ctx, m, c)
	for item := range states {
		if item.V.(rxws.State).Kind == rxws.StateReconnecting {
			break
		}
	}
	reconnectAndSendM3(t, ctx, mock, srv, b)
	if got := string((<-a).V.(*rxws.Response).Bytes()); got != "m3" {
		t.Fatalf("a got %q after the reconnect, want m3 (and m2 once)", got)
	}
	if err := m.Disconnect(ctx); err != nil {
		t.Fatal(err)
	}
}

// When the stream ends instead (no reconnect, or Disconnect), the message
// a full buffer held back is lost to that observer, and counted: its Stats
// and Meter count it as dropped.
func TestAMessageAFullBufferHeldBackAsTheStreamEndsIsCountedAsDropped(t *testing.T) {
	for _, disconnect := range []bool{false, true} {
		ctx := testCtx(t)
		srv := testutil.NewServer(t, testutil.Hold)
		m := rxws.NewManager(nil)
		var meter rxws.Meter
		_, b, c := blockedAtB(t, ctx, m, srv, nil, rxws.WithMeter(&meter))
		if disconnect {
			if err := m.Disconnect(ctx); err != nil {
				t.Fatal(err)
			}
		} else {
			loseConnection(ctx, m, c)
		}
		var got []string
		for item := range b {
			if item.E == nil {
				got = append(got, string(item.V.(*rxws.Response).Bytes()))
			}
		}
		if !reflect.DeepEqual(got, []string{"m1"}) || meter.Delivered() != 1 || meter.Dropped() != 1 {
			t.Errorf("Disconnect %v: b got %q; Meter delivered %d, dropped %d; want m1, 1 and 1 (m2)",
				disconnect, got, meter.Delivered(), meter.Dropped())
		}
		srv.Close()
	}
}

// The held-back message goes first on the next connection even when a
// Receive that reads for itself (its ctx never ends) waits through the
// outage: it must not read, and hand on, a newer message before it.
func TestAHeldBackMessageIsNotOvertakenByAReceiveReadingForItself(t *testing.T) {
	ctx := testCtx(t)
	mock := clock.NewMock()
	srv := testutil.NewServer(t, testutil.Hold)
	m := rxws.NewManager(nil, rxws.WithClock(mock))
	sctx, stopStates := context.WithCancel(ctx)
	states := m.States(rxgoCtx(sctx)).Observe()
	_, b, c := blockedAtB(t, ctx, m, srv, []rxws.ConnectOption{rxws.WithReconnect(rxws.Backoff{Initial: time.Second, Jitter: rxws.NoJitter})})
	loseConnection(ctx, m, c)
	for item := range states {
		if item.V.(rxws.State).Kind == rxws.StateReconnecting {
			break
		}
	}
	stopStates() // an observer woken by the next state would let the reader run first
	for range states {
	}
	received := receiveAsync(m) // waits through the outage
	runtime.Gosched()
	reconnectAndSendM3(t, ctx, mock, srv, b)
	if err := m.Disconnect(ctx); err != nil {
		t.Fatal(err)
	}
	<-received
}

// pullProbe is a post-processor that notes whether each message was read
// by a Receive for itself (pullRead) rather than by the reader goroutine,
// and holds "m2" until released.
type pullProbe struct {
	lastPulled atomic.Bool
	inPost     chan bool // m2's: whether a Receive read it for itself
	release    chan struct{}
}

func newPullProbe() *pullProbe {
	return &pullProbe{inPost: make(chan bool, 1), release: make(chan struct{})}
}

func (p *pullProbe) PostProcess(_ context.Context, r *rxws.Response) (*rxws.Response, error) {
	buf := make([]byte, 1<<16)
	pulled := strings.Contains(string(buf[:runtime.Stack(buf, false)]), "pullRead")
	p.lastPulled.Store(pulled)
	if string(r.Bytes()) == "m2" {
		p.inPost <- pulled
		<-p.release
	}
	return r, nil
}

// connect connects m to srv and settles it in pull mode; it returns the
// server's end of the connection.
func (p *pullProbe) connect(t *testing.T, ctx context.Context, m *rxws.Manager, srv *testutil.Server, opts ...rxws.ConnectOption) *testutil.Conn {
	t.Helper()
	if err := m.Connect(ctx, srv.URL, opts...); err != nil {
		t.Fatal(err)
	}
	c, err := srv.WaitConn(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	p.settle(t, m, c)
	return c
}

// settle has a message received with a context that can end, which the
// reader goroutine reads, then messages received with one that never ends
// until a Receive has read one for itself: the reader has stood down for
// good (the mock clock keeps it from lingering back), and the next Receive
// reads for itself too.
func (p *pullProbe) settle(t *testing.T, m *rxws.Manager, c *testutil.Conn) {
	t.Helper()
	ctx := testCtx(t)
	for i := 0; ; i++ {
		if i > 50 {
			t.Fatal("pull mode never settled")
		}
		w := fmt.Sprint("w", i)
		if err := c.SendText(w); err != nil {
			t.Fatal(err)
		}
		rctx := context.Background()
		if i == 0 {
			rctx = ctx
		}
		if r, err := m.Receive(rctx); err != nil || string(r.Bytes()) != w {
			t.Fatalf("%s: %v %v", w, r, err)
		}
		if i > 0 && p.lastPulled.Load() {
			return
		}
	}
}

// A message that a Receive reading for itself (its ctx never ends) read,
// and was handing on to a lossless observer when the connection failed,
// reaches that observer from the next connection, before anything newer,
// as the reader's own leftovers do.
func TestAMessageAReceiveReadForItselfReachesABlockObserverAcrossAReconnect(t *testing.T) {
	ctx := testCtx(t)
	srv := testutil.NewServer(t, testutil.Hold)
	probe := newPullProbe()
	mock := clock.NewMock() // pull mode's linger never ends
	m := rxws.NewManager(nil, rxws.WithClock(mock), rxws.WithPostProcessors(probe))
	sctx, stopStates := context.WithCancel(ctx)
	states := m.States(rxgoCtx(sctx)).Observe()
	c := probe.connect(t, ctx, m, srv, rxws.WithReconnect(rxws.Backoff{Initial: time.Second, Jitter: rxws.NoJitter}))
	got := receiveAsync(m)
	if err := c.SendText("m2"); err != nil {
		t.Fatal(err)
	}
	if pulled := <-probe.inPost; !pulled {
		t.Fatal("the reader goroutine read m2, not the Receive")
	}
	var meter rxws.Meter
	// Lossless, and without room until it reads; it does not read yet.
	obs := m.MessagesWith([]rxws.StreamOption{rxws.WithBuffer(-1), rxws.WithMeter(&meter)}, rxgoCtx(ctx)).Observe()
	close(probe.release)
	loseConnection(ctx, m, c)
	if r := <-got; r != "m2" {
		t.Fatalf("Receive got %q, want m2, read for itself", r)
	}
	for item := range states {
		if item.V.(rxws.State).Kind == rxws.StateReconnecting {
			break
		}
	}
	stopStates()
	for range states {
	}
	sendOnTheNextConnection(t, ctx, mock, srv, "m3")
	for _, want := range []string{"m2", "m3"} {
		item := <-obs
		if item.E != nil || string(item.V.(*rxws.Response).Bytes()) != want {
			t.Fatalf("the observer got %v, want %s (Meter: delivered %d, dropped %d)", item, want, meter.Delivered(), meter.Dropped())
		}
	}
	if err := m.Disconnect(ctx); err != nil {
		t.Fatal(err)
	}
}

// Disconnect while a Receive reading for itself hands a message on to a
// lossless observer ends the stream: the observer gets the message or
// counts it as dropped, never neither (a later frame the reader read during
// the close handshake could overwrite what was owed).
func TestDisconnectDuringAReceivesHandOnCountsWhatItCut(t *testing.T) {
	ctx := testCtx(t)
	srv := testutil.NewServer(t, testutil.Hold)
	probe := newPullProbe()
	m := rxws.NewManager(nil, rxws.WithClock(clock.NewMock()), rxws.WithPostProcessors(probe))
	c := probe.connect(t, ctx, m, srv)
	got := receiveAsync(m)
	for _, msg := range []string{"m2", "y"} {
		if err := c.SendText(msg); err != nil {
			t.Fatal(err)
		}
	}
	if pulled := <-probe.inPost; !pulled {
		t.Fatal("the reader goroutine read m2, not the Receive")
	}
	var meter rxws.Meter
	obs := m.MessagesWith([]rxws.StreamOption{rxws.WithBuffer(-1), rxws.WithMeter(&meter)}, rxgoCtx(ctx)).Observe()
	disconnected := make(chan error, 1)
	go func() { disconnected <- m.Disconnect(ctx) }()
	close(probe.release)
	if r := <-got; r != "m2" {
		t.Fatalf("Receive got %q, want m2", r)
	}
	if err := <-disconnected; err != nil {
		t.Fatal(err)
	}
	gotM2 := false
	for item := range obs {
		gotM2 = gotM2 || item.E == nil && string(item.V.(*rxws.Response).Bytes()) == "m2"
	}
	if !gotM2 && meter.Dropped() == 0 {
		t.Fatalf("m2 neither reached the observer nor counted as dropped (Meter: delivered %d, dropped %d)", meter.Delivered(), meter.Dropped())
	}
}
