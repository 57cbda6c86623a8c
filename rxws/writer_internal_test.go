package rxws

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/rxpype/rxpype/clock"
	"github.com/rxpype/rxpype/internal/testutil"
)

// blockingPre returns a pre-processor that, for the text payload "B",
// signals bIn and waits for release.
func blockingPre(bIn chan struct{}, release chan struct{}) PreProcessor {
	var once sync.Once
	return PreProcessorFunc(func(_ context.Context, r Request) (Request, error) {
		if p, _ := r.Payload.(string); p == "B" {
			once.Do(func() { close(bIn) })
			<-release
		}
		return r, nil
	})
}

// An Auth that numbers requests (a nonce): while the inline send B is being
// prepared, A queued for the writer waits for it, so the frames go out in
// the order they were signed (the writer prepared A meanwhile, and wrote it
// after B, once its stages ran without the socket's lock).
func TestFramesAreWrittenInTheOrderTheyWereSigned(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	srv := testutil.NewServer(t, testutil.Hold)
	bIn, release := make(chan struct{}), make(chan struct{})
	var nonce atomic.Int64
	auth := AuthFunc(func(_ context.Context, r Request) (Request, error) {
		return TextRequest(fmt.Sprintf("%s#%d", r.Payload, nonce.Add(1))), nil
	})
	m := NewManager(nil, WithPreProcessors(blockingPre(bIn, release)), WithAuth(auth))
	if err := m.Connect(ctx, srv.URL); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = m.Disconnect(context.Background()) }()
	c, err := srv.WaitConn(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 2)
	go func() { errs <- m.Send(ctx, Request{Kind: KindText, Payload: "B", AuthRequired: true}) }()
	<-bIn // B is being prepared inline
	go func() { errs <- m.Send(ctx, Request{Kind: KindText, Payload: "A", AuthRequired: true}) }()
	s := currentSession(m)
	until(t, ctx, "A queued for the writer", func() bool { return s.queued.Load() == 1 })
	close(release)
	for i := 0; i < 2; i++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	fs, err := c.WaitFrames(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	if got := dataOf(fs); got[0] != "B#1" || got[1] != "A#2" {
		t.Fatalf("frames on the wire, in order: %q; each must be signed in the order it is written", got)
	}
}

// A ping waits only for a frame being written, not for a send's
// preparation (user code): it goes out while an inline send's
// pre-processor runs, and its ctx bounds its wait.
func TestAPingDoesNotWaitForASendBeingPrepared(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	srv := testutil.NewServer(t, testutil.Hold)
	bIn, release := make(chan struct{}), make(chan struct{})
	defer close(release)
	m := NewManager(nil, WithPreProcessors(blockingPre(bIn, release)))
	if err := m.Connect(ctx, srv.URL); err != nil {
		t.Fatal(err)
	}
	go func() { _ = m.Send(ctx, TextRequest("B")) }()
	<-bIn
	pctx, pcancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer pcancel()
	done := make(chan error, 1)
	go func() { done <- m.Ping(pctx) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Ping: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Ping(ctx) with a 100ms deadline still blocked after 5s")
	}
}

// A pre-processor may ping: the ping needs the socket, not the preparation
// its own goroutine is in.
func TestAPingFromAPreProcessorReturns(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	srv := testutil.NewServer(t, testutil.Hold)
	var m *Manager
	pinged := make(chan error, 1)
	pre := PreProcessorFunc(func(_ context.Context, r Request) (Request, error) {
		pctx, pcancel := context.WithTimeout(ctx, 100*time.Millisecond)
		defer pcancel()
		pinged <- m.Ping(pctx)
		return r, nil
	})
	m = NewManager(nil, WithPreProcessors(pre))
	if err := m.Connect(ctx, srv.URL); err != nil {
		t.Fatal(err)
	}
	go func() { _ = m.Send(ctx, TextRequest("x")) }()
	select {
	case err := <-pinged:
		if err != nil {
			t.Fatalf("Ping from a pre-processor: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Ping(ctx 100ms) from a pre-processor of an inline send never returned")
	}
}

// Auto pings go out while a heartbeat's pre-processors run (without a
// throttler the heartbeat is sent inline).
func TestAutoPingsGoOutWhileAHeartbeatIsPrepared(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	mock := clock.NewMock()
	srv := testutil.NewServer(t, testutil.Hold)
	hbIn, release := make(chan struct{}), make(chan struct{})
	defer close(release)
	var once sync.Once
	pre := PreProcessorFunc(func(_ context.Context, r Request) (Request, error) {
		if p, _ := r.Payload.(string); p == "hb" {
			once.Do(func() { close(hbIn) })
			<-release
		}
		return r, nil
	})
	m := NewManager(nil, WithClock(mock), WithPreProcessors(pre))
	if err := m.Connect(ctx, srv.URL, WithHeartbeat(10*time.Second, TextRequest("hb"), nil),
		WithPingInterval(15*time.Second), WithPingTimeout(time.Hour)); err != nil {
		t.Fatal(err)
	}
	c, err := srv.WaitConn(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	mock.Add(10 * time.Second) // heartbeat
	<-hbIn
	mock.Add(5 * time.Second) // auto ping due at 15s
	wctx, wcancel := context.WithTimeout(ctx, 3*time.Second)
	defer wcancel()
	if _, err := c.WaitCount(wctx, websocket.PingMessage, 1); err != nil {
		t.Fatalf("no ping reached the server while a heartbeat's pre-processor ran: %v", err)
	}
}

// A pre-processor that Sends: the inner Send cannot go out before the send
// being prepared, but it gives up when its ctx ends, and the outer send then
// goes on (both used to wait for ever on the inline path).
func TestASendFromAPreProcessorGivesUpWithItsContext(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	srv := testutil.NewServer(t, testutil.Hold)
	var m *Manager
	inner := make(chan error, 1)
	pre := PreProcessorFunc(func(_ context.Context, r Request) (Request, error) {
		if p, _ := r.Payload.(string); p == "outer" {
			ictx, icancel := context.WithTimeout(ctx, 100*time.Millisecond)
			defer icancel()
			inner <- m.Send(ictx, TextRequest("inner"))
		}
		return r, nil
	})
	m = NewManager(nil, WithPreProcessors(pre))
	if err := m.Connect(ctx, srv.URL); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = m.Disconnect(context.Background()) }()
	if err := m.Send(ctx, TextRequest("outer")); err != nil {
		t.Fatal(err)
	}
	if err := <-inner; err != context.DeadlineExceeded {
		t.Fatalf("Send from a pre-processor: %v, want its ctx's error", err)
	}
}
