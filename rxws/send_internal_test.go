package rxws

import (
	"context"
	"fmt"
	"runtime"
	"sort"
	"sync/atomic"
	"testing"
	"time"

	"github.com/reactivex/rxgo/v2"
	"github.com/rxpype/rxpype/clock"
	"github.com/rxpype/rxpype/internal/testutil"
)

// Sends still waiting for the writer when the connection breaks were never
// written: each goes out once on the next connection, none is written to
// the dead socket (which would fail it), and the one whose pre-processor was
// running at the break goes too.
func TestSendsQueuedAtALossGoOutOnTheNextConnection(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	mock := clock.NewMock()
	srv := testutil.NewServer(t, testutil.Hold)

	var calls atomic.Int32
	var lost atomic.Pointer[context.Context]
	entered := make(chan struct{})
	pre := PreProcessorFunc(func(_ context.Context, req Request) (Request, error) {
		if calls.Add(1) == 2 {
			close(entered)
			<-(*lost.Load()).Done() // hold the pipeline until the connection is gone
		}
		return req, nil
	})
	m := NewManager(nil, WithClock(mock), WithPreProcessors(pre))
	states := m.States(rxgo.WithContext(ctx)).Observe()
	if err := m.Connect(ctx, srv.URL, WithReconnect(Backoff{Initial: time.Second, Jitter: NoJitter})); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = m.Disconnect(context.Background()) }()
	m.mu.Lock()
	s := m.sess
	m.mu.Unlock()
	lost.Store(&s.ctx)

	if err := m.Send(ctx, TextRequest("first")); err != nil {
		t.Fatal(err)
	}
	const n = 50
	results := make(chan error, n)
	go func() { results <- m.Send(ctx, TextRequest("q0")) }()
	<-entered
	for i := 1; i < n; i++ {
		go func() { results <- m.Send(ctx, TextRequest(fmt.Sprint("q", i))) }()
	}
	for s.queued.Load() != n-1 { // every other send waits for the writer
		if ctx.Err() != nil {
			t.Fatal("the sends never queued")
		}
		runtime.Gosched()
	}
	c0, err := srv.WaitConn(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	c0.Drop()
	for it := range states {
		if it.V.(State).Kind == StateReconnecting {
			break
		}
	}
	mock.Add(time.Second)
	for range n {
		if err := <-results; err != nil {
			t.Fatalf("a send that was never written failed: %v", err)
		}
	}
	c1, err := srv.WaitConn(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	frames, err := c1.WaitFrames(ctx, n)
	if err != nil {
		t.Fatal(err)
	}
	var got, want []string
	for i, f := range frames {
		got = append(got, string(f.Data))
		want = append(want, fmt.Sprint("q", i))
	}
	sort.Strings(got)
	sort.Strings(want)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("the new connection got %q, want each of %q once", got, want)
	}
}
