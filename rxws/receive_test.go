package rxws_test

import (
	"context"
	"errors"
	"fmt"
	"io"
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

// inReceive reports whether the calling goroutine is inside Manager.Receive:
// a post-processor that asks it learns who read the frame.
func inReceive() bool {
	pcs := make([]uintptr, 64)
	frames := runtime.CallersFrames(pcs[:runtime.Callers(2, pcs)])
	for {
		f, more := frames.Next()
		if strings.HasSuffix(f.Function, "rxws.(*Manager).Receive") {
			return true
		}
		if !more {
			return false
		}
	}
}

// inPullMode connects a manager to a Hold server and takes two messages
// with pullReceive, so that the reader has stood down; the mock clock never
// moves, so it stays down.
func inPullMode(t *testing.T) (*testutil.Conn, *rxws.Manager) {
	t.Helper()
	c, m, _ := inPullModeWithClock(t)
	return c, m
}

// inPullModeWithClock is inPullMode that also returns the manager's clock.
func inPullModeWithClock(t *testing.T) (*testutil.Conn, *rxws.Manager, *clock.Mock) {
	t.Helper()
	mock := clock.NewMock()
	srv, m := connect(t, testutil.Hold, rxws.WithClock(mock))
	c, err := srv.WaitConn(testCtx(t), 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"a", "b"} {
		_ = c.SendText(s)
		if got := string(pullReceive(t, m).Bytes()); got != s {
			t.Fatalf("got %q, want %q", got, s)
		}
	}
	return c, m, mock
}

// pullReceive is Receive with a context that never ends, the kind that
// reads for itself. Should it hang, the test's context ending disconnects
// the manager, which ends it, and the test fails.
func pullReceive(t *testing.T, m *rxws.Manager) *rxws.Response {
	t.Helper()
	stop := context.AfterFunc(testCtx(t), func() { _ = m.Disconnect(context.Background()) })
	defer stop()
	r, err := m.Receive(context.Background())
	if err != nil {
		t.Fatalf("receive: %v", err)
	}
	return r
}

// receiveAsync runs Receive(context.Background()) in a goroutine and sends
// the message's text, or the error's, on the channel it returns.
func receiveAsync(m *rxws.Manager) <-chan string {
	out := make(chan string, 1)
	go func() {
		r, err := m.Receive(context.Background())
		if err != nil {
			out <- err.Error()
			return
		}
		out <- string(r.Bytes())
	}()
	return out
}

// readByReceive counts the messages a post-processor saw read inside Receive.
func readByReceive(n *atomic.Int64) rxws.Option {
	return rxws.WithPostProcessors(rxws.PostProcessorFunc(func(_ context.Context, r *rxws.Response) (*rxws.Response, error) {
		if inReceive() {
			n.Add(1)
		}
		return r, nil
	}))
}

// With only Receive listening, and with contexts that never end, replies are
// read in Receive's own goroutine (pull mode): a request and its reply never
// cross goroutines.
func TestReceiveReadsRepliesItself(t *testing.T) {
	var byReceive atomic.Int64
	// The mock clock never moves, so pull mode never lapses.
	_, m := connect(t, testutil.Echo, rxws.WithClock(clock.NewMock()), readByReceive(&byReceive))
	ctx := testCtx(t)
	const n = 50
	for i := range n {
		want := fmt.Sprint(i)
		if err := m.Send(ctx, rxws.TextRequest(want)); err != nil {
			t.Fatal(err)
		}
		if got := pullReceive(t, m).Bytes(); string(got) != want {
			t.Fatalf("reply %d is %q", i, got)
		}
	}
	// The first reply may be read by the reader goroutine, which then
	// stands down.
	if got := byReceive.Load(); got < n-1 {
		t.Fatalf("%d of %d replies read inside Receive, want at least %d", got, n, n-1)
	}
}

// A streaming subscriber that joins in pull mode brings the reader back,
// and sees every message from then on; a Receive alongside it gets one.
func TestObserverJoiningInPullModeGetsEverything(t *testing.T) {
	var byReceive atomic.Int64
	srv, m := connect(t, testutil.Hold, rxws.WithClock(clock.NewMock()), readByReceive(&byReceive))
	ctx := testCtx(t)
	c, err := srv.WaitConn(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		_ = c.SendText(fmt.Sprint("p", i))
		if got := string(pullReceive(t, m).Bytes()); got != fmt.Sprint("p", i) {
			t.Fatalf("got %q", got)
		}
	}
	if byReceive.Load() == 0 {
		t.Fatal("no message was read inside Receive: pull mode never started")
	}
	// A Receive waits, holding the read token, while the observer joins.
	first := receiveAsync(m)
	items := observe(ctx, m)
	const n = 20
	for i := range n {
		_ = c.SendText(fmt.Sprint(i))
	}
	for i := range n {
		it := <-items
		if it.E != nil || string(it.V.(*rxws.Response).Bytes()) != fmt.Sprint(i) {
			t.Fatalf("observer item %d: %v %v", i, it.V, it.E)
		}
	}
	// The Receive may have subscribed before or after the observer, or
	// after every message so far (its goroutine may not have run yet):
	// send more, one at a time, until it has one.
	var got string
	for got == "" {
		select {
		case got = <-first:
		default:
			_ = c.SendText("more")
			if it := <-items; it.E != nil || string(it.V.(*rxws.Response).Bytes()) != "more" {
				t.Fatalf("observer: %v %v", it.V, it.E)
			}
		}
	}
	if got != "more" && strings.TrimLeft(got, "0123456789") != "" {
		t.Fatalf("the waiting Receive got %q", got)
	}
}

// observe subscribes a Messages observer now, bounded by ctx.
func observe(ctx context.Context, m *rxws.Manager) <-chan rxgo.Item {
	return m.Messages().Observe(rxgoCtx(ctx))
}

// Receive calls running together in pull mode each get a message and
// none waits forever, whoever of them holds the read token.
func TestConcurrentReceivesInPullMode(t *testing.T) {
	srv, m := connect(t, testutil.Hold, rxws.WithClock(clock.NewMock()))
	ctx := testCtx(t)
	c, _ := srv.WaitConn(ctx, 0)
	_ = c.SendText("warm")
	pullReceive(t, m) // pull mode from here on
	var wg sync.WaitGroup
	got := make([]string, 2)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := m.Receive(context.Background())
			if err != nil {
				got[i] = err.Error()
				return
			}
			got[i] = string(r.Bytes())
		}()
	}
	// Each takes the first message that arrives while it waits; two
	// messages are enough for both, however they interleave.
	_ = c.SendText("a")
	_ = c.SendText("b")
	wg.Wait()
	for i, g := range got {
		if g != "a" && g != "b" {
			t.Fatalf("Receive %d got %q", i, g)
		}
	}
}

// Disconnect while a Receive reads for itself: the close handshake
// completes, and Receive ends with io.EOF.
func TestDisconnectDuringPullModeReceive(t *testing.T) {
	srv, m := connect(t, testutil.Echo, rxws.WithClock(clock.NewMock()))
	ctx := testCtx(t)
	for range 2 {
		if err := m.Send(ctx, rxws.TextRequest("x")); err != nil {
			t.Fatal(err)
		}
		pullReceive(t, m)
	}
	errc := make(chan error, 1)
	go func() {
		_, err := m.Receive(context.Background())
		errc <- err
	}()
	if err := m.Disconnect(ctx); err != nil {
		t.Fatal(err)
	}
	// io.EOF if it was reading; ErrNotConnected if its goroutine only
	// got to Receive after Disconnect.
	if err := <-errc; !errors.Is(err, io.EOF) && !errors.Is(err, rxws.ErrNotConnected) {
		t.Fatalf("Receive: %v, want io.EOF", err)
	}
	c, _ := srv.WaitConn(ctx, 0)
	<-c.Done()
	var ce *websocket.CloseError
	if err := c.Err(); !errors.As(err, &ce) || ce.Code != websocket.CloseNormalClosure {
		t.Fatalf("server side: %v, want a normal close", err)
	}
}

// A close frame read by a Receive in pull mode ends the connection as the
// reader goroutine would: Receive returns the CloseError.
func TestPeerCloseReadByPullModeReceive(t *testing.T) {
	c, m := inPullMode(t)
	ctx := testCtx(t)
	// Nobody reads in pull mode until Receive: the close handshake waits
	// for it.
	closed := make(chan struct{})
	go func() { defer close(closed); _ = c.CloseWith(4002, "bye") }()
	_, err := m.Receive(context.Background())
	<-closed
	var ce *rxws.CloseError
	if !errors.As(err, &ce) || ce.Code != 4002 || ce.Reason != "bye" {
		t.Fatalf("Receive: %v", err)
	}
	if _, err := m.Receive(ctx); !errors.Is(err, rxws.ErrNotConnected) {
		t.Fatalf("second Receive: %v", err)
	}
}

// A connection lost while a Receive reads for itself: with reconnecting on,
// the Receive goes on waiting and gets the next connection's first message.
func TestPullModeReceiveWaitsThroughAReconnect(t *testing.T) {
	mock := clock.NewMock()
	srv := testutil.NewServer(t, testutil.Hold)
	m := rxws.NewManager(nil, rxws.WithClock(mock))
	ctx := testCtx(t)
	if err := m.Connect(ctx, srv.URL, rxws.WithReconnect(exactBackoff)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Disconnect(context.Background()) })
	states := m.States(rxgoCtx(ctx)).Observe()
	c0, _ := srv.WaitConn(ctx, 0)
	for _, s := range []string{"a", "b"} {
		_ = c0.SendText(s)
		if got := string(pullReceive(t, m).Bytes()); got != s {
			t.Fatalf("got %q, want %q", got, s)
		}
	}
	got := receiveAsync(m)
	c0.Drop()
	for it := range states {
		if it.V.(rxws.State).Kind == rxws.StateReconnecting {
			break
		}
	}
	mock.Add(exactBackoff.Initial)
	c1, err := srv.WaitConn(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	_ = c1.SendText("again")
	if g := <-got; g != "again" {
		t.Fatalf("Receive got %q, want the new connection's message", g)
	}
}

// A Receive whose context can end never reads for itself: it returns when
// its context ends, even in pull mode, and the connection goes on.
func TestCancellableReceiveReturnsInPullMode(t *testing.T) {
	c, m := inPullMode(t)
	ctx := testCtx(t)
	short, cancel := context.WithCancel(ctx)
	errc := make(chan error, 1)
	go func() {
		_, err := m.Receive(short)
		errc <- err
	}()
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("Receive: %v, want context.Canceled", err)
	}
	// The cancelled Receive woke the reader, which now reads.
	_ = c.SendText("c")
	r, err := m.Receive(ctx)
	if err != nil || string(r.Bytes()) != "c" {
		t.Fatalf("after a cancelled Receive: %v, %v", r, err)
	}
	if !m.Connected() {
		t.Fatal("a cancelled Receive broke the connection")
	}
}

// Pull mode lapses once no Receive has read for a while on the manager's
// clock: the reader reads again, so a ping the peer sent meanwhile is
// answered, and the next Receive gets the message the reader holds.
func TestPullModeLapsesWhenReceiveStops(t *testing.T) {
	c, m, mock := inPullModeWithClock(t)
	ctx := testCtx(t)
	if err := c.Ping("idle?"); err != nil {
		t.Fatal(err)
	}
	pong := make(chan error, 1)
	go func() {
		_, err := c.WaitPong(ctx)
		pong <- err
	}()
	for answered := false; !answered; {
		select {
		case err := <-pong:
			if err != nil {
				t.Fatal(err)
			}
			answered = true
		default:
			if ctx.Err() != nil {
				t.Fatal("the ping was never answered")
			}
			mock.Add(10 * time.Millisecond) // the reader resumes 50-100ms after the last Receive
			runtime.Gosched()
		}
	}
	_ = c.SendText("after")
	if got := string(pullReceive(t, m).Bytes()); got != "after" {
		t.Fatalf("got %q", got)
	}
}

// A Receive whose own read fails (here a compressed message over the read
// limit, an error gorilla does not keep) ends the connection with that
// error: the reader must not take the token back and read past it.
func TestFailedPullReadIsNotReadPast(t *testing.T) {
	for i := range 10 { // the reader and Receive race for the token at the start
		srv := testutil.NewServerWith(t, func(c *testutil.Conn) {
			_ = c.SendBinary(make([]byte, 64<<10)) // small on the wire, 64 KiB inflated
			_ = c.SendText("next")
			<-c.Done()
		}, testutil.ServerConfig{Compression: true})
		m := rxws.NewManager(nil, rxws.WithClock(clock.NewMock()))
		if err := m.Connect(testCtx(t), srv.URL, rxws.WithCompression(), rxws.WithReadLimit(1<<10)); err != nil {
			t.Fatal(err)
		}
		stop := context.AfterFunc(testCtx(t), func() { _ = m.Disconnect(context.Background()) })
		r, err := m.Receive(context.Background())
		stop()
		var big *rxws.MessageTooBigError
		if !errors.As(err, &big) {
			t.Fatalf("run %d: Receive returned %v, %v; want the read-limit error", i, r, err)
		}
		_ = m.Disconnect(context.Background())
		srv.Close()
	}
}

// Ending an iteration's ctx ends it at once, whatever its buffer holds:
// Next hands out buffered messages before it looks at ctx, so a feed that
// kept the buffer full kept the loop going after the cancel.
func TestIterMessagesEndsAtOnceWhenItsContextEnds(t *testing.T) {
	msgs := [][]byte{[]byte("1"), []byte("2"), []byte("3"), []byte("4"), []byte("5")}
	_, m := connect(t, testutil.Stream(msgs))
	guard := testCtx(t)
	ctx, cancel := context.WithCancel(guard)
	defer cancel()
	n := 0
	for resp, err := range m.IterMessages(ctx) {
		if err != nil {
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("ended with %v", err)
			}
			break
		}
		if n++; n > 1 {
			t.Fatalf("message %s yielded after the cancel", resp.Bytes())
		}
		for st := m.Stats(); len(st) == 0 || st[0].Buffered < 4; st = m.Stats() {
			if guard.Err() != nil {
				t.Fatal("the rest never buffered")
			}
			runtime.Gosched()
		}
		cancel()
	}
}
