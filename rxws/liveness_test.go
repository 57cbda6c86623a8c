package rxws_test

import (
	"context"
	"errors"
	"runtime"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/rxpype/rxpype/clock"
	"github.com/rxpype/rxpype/internal/testutil"
	"github.com/rxpype/rxpype/rxws"
)

// liveSetup connects a manager on a mock clock to a Hold server and keeps a
// listener on its stream, so that the reader reads (and sees pongs). The
// returned channel gets the error that ends the stream (nil for a normal end).
func liveSetup(t *testing.T, answerPings bool, opts ...rxws.ConnectOption) (*clock.Mock, *rxws.Manager, *testutil.Conn, <-chan error, <-chan *rxws.Response) {
	t.Helper()
	mock := clock.NewMock()
	srv := testutil.NewServer(t, testutil.Hold)
	srv.SetAnswerPings(answerPings)
	m := rxws.NewManager(nil, rxws.WithClock(mock))
	ctx := testCtx(t)
	msgs := make(chan *rxws.Response, 100)
	end := make(chan error, 1)
	it := m.IterMessages(ctx) // subscribes when ranged; ranged before Connect returns data
	started, finished := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finished)
		var last error
		close(started)
		for r, err := range it {
			if err != nil {
				last = err
				continue
			}
			msgs <- r
		}
		end <- last
	}()
	<-started
	if err := m.Connect(ctx, srv.URL, opts...); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Disconnect(context.Background()); <-finished })
	c, err := srv.WaitConn(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	return mock, m, c, end, msgs
}

func waitPings(t *testing.T, c *testutil.Conn, n int) {
	t.Helper()
	if got, err := c.WaitCount(testCtx(t), websocket.PingMessage, n); err != nil {
		t.Fatalf("waiting for ping %d: have %d: %v", n, got, err)
	}
}

func pingCount(c *testutil.Conn) int {
	n := 0
	for _, f := range c.Frames() {
		if f.Type == websocket.PingMessage {
			n++
		}
	}
	return n
}

// barrier sends a data frame and waits until the server has it: every frame
// the writer had queued before is on the server by then.
func barrier(t *testing.T, m *rxws.Manager, c *testutil.Conn, n int) {
	t.Helper()
	if err := m.Send(testCtx(t), rxws.TextRequest("barrier")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.WaitFrames(testCtx(t), n); err != nil {
		t.Fatal(err)
	}
}

func TestAutoPingGoesOutAtEachInterval(t *testing.T) {
	mock, m, c, _, _ := liveSetup(t, true, rxws.WithAutoPing(), rxws.WithPingTimeout(10*time.Second))
	for k := 1; k <= 3; k++ {
		mock.Add(5*time.Second - time.Nanosecond)
		barrier(t, m, c, k)
		if n := pingCount(c); n != k-1 {
			t.Fatalf("a tick early: %d pings, want %d", n, k-1)
		}
		mock.Add(time.Nanosecond)
		waitPings(t, c, k)
	}
	if !m.Connected() {
		t.Fatal("answered pings, yet disconnected")
	}
	// Pongs are activity, not data.
	if !m.LastRecvTime().IsZero() {
		t.Fatalf("LastRecvTime moved without data: %v", m.LastRecvTime())
	}
	if err := m.Disconnect(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	n := pingCount(c)
	mock.Add(time.Hour) // no timer survives Disconnect
	if pingCount(c) != n {
		t.Fatal("a ping after Disconnect")
	}
}

func TestLastActivityCountsPongs(t *testing.T) {
	mock, m, c, _, _ := liveSetup(t, true)
	mock.Add(time.Minute)
	if err := m.Ping(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	waitPings(t, c, 1)
	// The pong is the only frame the client gets, so there is no event to
	// wait on but the stamp itself: spin (yielding, not sleeping) on it.
	ctx := testCtx(t)
	for !m.LastActivity().Equal(mock.Now()) {
		if ctx.Err() != nil {
			t.Fatal("the pong never moved LastActivity")
		}
		runtime.Gosched()
	}
	if !m.LastRecvTime().IsZero() {
		t.Fatal("a pong moved LastRecvTime")
	}
}

func TestPingTimeoutDeclaresTheConnectionDeadExactly(t *testing.T) {
	mock, m, c, end, _ := liveSetup(t, false, rxws.WithAutoPing(), rxws.WithPingTimeout(10*time.Second))
	mock.Add(5 * time.Second) // ping 1 at 5s: its deadline is 15s
	waitPings(t, c, 1)
	mock.Add(5 * time.Second) // ping 2 at 10s
	waitPings(t, c, 2)
	mock.Add(5*time.Second - time.Nanosecond)
	barrier(t, m, c, 1)
	if !m.Connected() {
		t.Fatal("declared dead before the ping timeout")
	}
	mock.Add(time.Nanosecond)
	err := <-end
	if !errors.Is(err, rxws.ErrPingTimeout) {
		t.Fatalf("stream ended with %v", err)
	}
	if _, err := m.Receive(testCtx(t)); !errors.Is(err, rxws.ErrNotConnected) || !errors.Is(err, rxws.ErrPingTimeout) {
		t.Fatalf("receive: %v", err)
	}
}

func TestDataKeepsAConnectionAliveWithoutPongs(t *testing.T) {
	mock, m, c, end, msgs := liveSetup(t, false, rxws.WithAutoPing(), rxws.WithPingTimeout(10*time.Second))
	for k := 1; k <= 5; k++ {
		mock.Add(5 * time.Second)
		waitPings(t, c, k)
		_ = c.SendText("tick")
		<-msgs
	}
	if !m.Connected() {
		t.Fatal("declared dead while data flowed")
	}
	for range 6 { // then silence: dead within a ping timeout and an interval
		mock.Add(5 * time.Second)
	}
	if err := <-end; !errors.Is(err, rxws.ErrPingTimeout) {
		t.Fatalf("stream ended with %v", err)
	}
}

func TestMessageTimeoutEndsASilentStream(t *testing.T) {
	mock, m, c, end, msgs := liveSetup(t, true, rxws.WithMessageTimeout(30*time.Second))
	_ = c.SendText("a")
	<-msgs
	mock.Add(20 * time.Second)
	_ = c.SendText("b") // the timeout now runs to 50s
	<-msgs
	_ = c.Ping("not data") // control frames do not count
	if _, err := c.WaitPong(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	mock.Add(30*time.Second - time.Nanosecond)
	if !m.Connected() {
		t.Fatal("message timeout fired early")
	}
	mock.Add(time.Nanosecond)
	if err := <-end; !errors.Is(err, rxws.ErrMessageTimeout) {
		t.Fatalf("stream ended with %v", err)
	}
}

func TestHeartbeatGoesThroughThePipelineAndRepliesAreFiltered(t *testing.T) {
	mock := clock.NewMock()
	srv := testutil.NewServer(t, func(c *testutil.Conn) {
		for {
			f, err := c.Recv(context.Background())
			if err != nil {
				return
			}
			if string(f.Data) == `{"client":"me","op":"ping","sig":"ok"}` {
				_ = c.SendText(`{"op":"pong"}`)
				continue
			}
			_ = c.Send(f.Type, f.Data)
		}
	})
	tagger := rxws.PreProcessorFunc(func(_ context.Context, r rxws.Request) (rxws.Request, error) {
		if p, ok := r.Payload.(map[string]any); ok {
			p["client"] = "me"
		}
		return r, nil
	})
	auth := rxws.AuthFunc(func(_ context.Context, r rxws.Request) (rxws.Request, error) {
		r.Payload.(map[string]any)["sig"] = "ok"
		return r, nil
	})
	m := rxws.NewManager(nil, rxws.WithClock(mock), rxws.WithPreProcessors(tagger), rxws.WithAuth(auth))
	hb := rxws.JSONRequest(map[string]any{"op": "ping"})
	hb.AuthRequired = true
	isPong := func(r *rxws.Response) bool {
		d, ok := r.Data().(map[string]any)
		return ok && d["op"] == "pong"
	}
	ctx := testCtx(t)
	if err := m.Connect(ctx, srv.URL, rxws.WithHeartbeat(15*time.Second, hb, isPong)); err != nil {
		t.Fatal(err)
	}
	defer m.Disconnect(ctx)
	c, _ := srv.WaitConn(ctx, 0)
	mock.Add(15 * time.Second)
	if _, err := c.WaitFrames(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if err := m.Send(ctx, rxws.TextRequest("hello")); err != nil {
		t.Fatal(err)
	}
	// The pong reply came first and was filtered out.
	if got := receive(t, m).Data(); got != "hello" {
		t.Fatalf("got %v", got)
	}
	if !m.LastRecvTime().Equal(mock.Now()) {
		t.Fatal("a heartbeat reply is still a data frame for LastRecvTime")
	}
}
