package rxws_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/rxpype/rxpype/internal/testutil"
	"github.com/rxpype/rxpype/rxws"
)

// A post-processor may end the connection, as on a server's "bye": with the
// ctx it was given, Disconnect returns at once instead of waiting for the
// reader goroutine it runs in. goleak (TestMain) checks that the
// connection's goroutines end after all.
func TestDisconnectFromAPostProcessor(t *testing.T) {
	ctx := testCtx(t)
	srv := testutil.NewServer(t, testutil.Hold)
	var m *rxws.Manager
	res := make(chan error, 1)
	m = rxws.NewManager(nil, rxws.WithPostProcessors(rxws.PostProcessorFunc(func(pctx context.Context, r *rxws.Response) (*rxws.Response, error) {
		if string(r.Bytes()) == "bye" {
			dctx, cancel := context.WithTimeout(pctx, time.Minute) // derived from it: fine too
			defer cancel()
			res <- m.Disconnect(dctx)
			return nil, nil
		}
		return r, nil
	})))
	if err := m.Connect(ctx, srv.URL); err != nil {
		t.Fatal(err)
	}
	msgs := m.Messages().Observe(rxgoCtx(ctx))
	c, err := srv.WaitConn(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.SendText("bye"); err != nil {
		t.Fatal(err)
	}
	if err := <-res; err != nil {
		t.Fatalf("Disconnect from a post-processor: %v", err)
	}
	for item := range msgs {
		t.Fatalf("the stream should end without an item, got %v", item)
	}
	if m.Connected() {
		t.Fatal("still connected")
	}
	<-c.Done()
}

// The same from a pre-processor, run by the writer goroutine (a throttler
// makes every send queue) or inline by the sender.
func TestDisconnectFromAPreProcessor(t *testing.T) {
	for _, queued := range []bool{true, false} {
		ctx := testCtx(t)
		srv := testutil.NewServer(t, testutil.Hold)
		var m *rxws.Manager
		res := make(chan error, 1)
		opts := []rxws.Option{rxws.WithPreProcessors(rxws.PreProcessorFunc(func(pctx context.Context, r rxws.Request) (rxws.Request, error) {
			res <- m.Disconnect(pctx)
			return r, nil
		}))}
		if queued {
			opts = append(opts, rxws.WithThrottler(rxws.NewThrottler([]rxws.RateLimit{{LimitID: "x", Limit: 1000, Interval: time.Second}})))
		}
		m = rxws.NewManager(nil, opts...)
		if err := m.Connect(ctx, srv.URL); err != nil {
			t.Fatal(err)
		}
		sent := m.Send(ctx, rxws.TextRequest("last words"))
		if err := <-res; err != nil {
			t.Fatalf("queued %v: Disconnect from a pre-processor: %v", queued, err)
		}
		if !errors.Is(sent, rxws.ErrNotConnected) {
			t.Fatalf("queued %v: the send that disconnected returned %v, want ErrNotConnected", queued, sent)
		}
		c, err := srv.WaitConn(ctx, 0)
		if err != nil {
			t.Fatal(err)
		}
		<-c.Done()
		for _, f := range c.Frames() {
			if string(f.Data) == "last words" {
				t.Fatalf("queued %v: written after Disconnect", queued)
			}
		}
		srv.Close()
	}
}

// A pre-processor that waits on its ctx (for a token, say) does not hold
// up Disconnect, whatever the sender's ctx: its ctx ends with the
// connection.
func TestDisconnectDoesNotWaitForAPreProcessorWaitingOnItsContext(t *testing.T) {
	for _, queued := range []bool{true, false} {
		ctx := testCtx(t)
		srv := testutil.NewServer(t, testutil.Hold)
		in := make(chan struct{})
		opts := []rxws.Option{rxws.WithPreProcessors(rxws.PreProcessorFunc(func(pctx context.Context, r rxws.Request) (rxws.Request, error) {
			close(in)
			<-pctx.Done()
			return r, pctx.Err()
		}))}
		if queued {
			opts = append(opts, rxws.WithThrottler(rxws.NewThrottler([]rxws.RateLimit{{LimitID: "x", Limit: 1000, Interval: time.Second}})))
		}
		m := rxws.NewManager(nil, opts...)
		if err := m.Connect(ctx, srv.URL); err != nil {
			t.Fatal(err)
		}
		sent := make(chan error, 1)
		go func() { sent <- m.Send(context.Background(), rxws.TextRequest("x")) }()
		<-in
		if err := m.Disconnect(ctx); err != nil {
			t.Fatalf("queued %v: Disconnect: %v", queued, err)
		}
		if err := <-sent; !errors.Is(err, rxws.ErrNotConnected) {
			t.Fatalf("queued %v: Send returned %v, want ErrNotConnected", queued, err)
		}
		srv.Close()
	}
}
