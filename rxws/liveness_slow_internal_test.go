package rxws

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/reactivex/rxgo/v2"
	"github.com/rxpype/rxpype/clock"
	"github.com/rxpype/rxpype/internal/testutil"
)

func currentSession(m *Manager) *session {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.sess
}

func rxgoCtx(ctx context.Context) rxgo.Option { return rxgo.WithContext(ctx) }

// slowPostProcessing connects a manager on a mock clock whose post-processor
// holds the message "slow" until free is called, sends "slow", and returns
// once the reader is in the post-processor, at t=0.
func slowPostProcessing(t *testing.T, opt ConnectOption) (context.Context, *clock.Mock, *Manager, *session, *testutil.Conn, func()) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	mock := clock.NewMock()
	srv := testutil.NewServer(t, testutil.Hold) // answers pings
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	free := func() { once.Do(func() { close(release) }) }
	t.Cleanup(free)
	slow := PostProcessorFunc(func(_ context.Context, r *Response) (*Response, error) {
		if string(r.Bytes()) == "slow" {
			close(entered)
			<-release
		}
		return r, nil
	})
	m := NewManager(nil, WithClock(mock), WithPostProcessors(slow))
	if err := m.Connect(ctx, srv.URL, opt); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Disconnect(context.Background()) })
	c, err := srv.WaitConn(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.SendText("slow"); err != nil {
		t.Fatal(err)
	}
	<-entered
	return ctx, mock, m, currentSession(m), c, free
}

// A post-processor runs in the read loop. While it works the reader does
// not read, so the silence is ours, as when the reader is parked: the pong
// deadline must not judge the peer, whose pong sits unread in the socket.
func TestASlowPostProcessorDoesNotGetALivePeerDeclaredDead(t *testing.T) {
	ctx, mock, m, s, c, free := slowPostProcessing(t, WithPingTimeout(10*time.Second))
	mock.Add(time.Second)
	if err := m.Ping(ctx); err != nil { // at t=1s
		t.Fatal(err)
	}
	if _, err := c.WaitCount(ctx, websocket.PingMessage, 1); err != nil { // the server has it, and pongs
		t.Fatal(err)
	}
	mock.Add(10 * time.Second)
	until(t, ctx, "pong deadline judged", func() bool { return !l(s).armed() })
	free()
	if s.ctx.Err() != nil {
		<-s.done
		t.Fatalf("the peer answered the ping at once, but the connection ended with: %v", s.cause)
	}
}

// The same for the message timeout: the peer's next data frame has been
// waiting in the socket since t=1s while a post-processor held the reader;
// it is read, and only a whole timeout of silence after it ends the
// connection.
func TestASlowPostProcessorDoesNotTripTheMessageTimeout(t *testing.T) {
	ctx, mock, m, s, c, free := slowPostProcessing(t, WithMessageTimeout(10*time.Second))
	mock.Add(time.Second)
	_ = c.SendText("next")     // sent at t=1s, unread
	mock.Add(10 * time.Second) // t=11s: 10s after "slow" was read, 10s after "next" was sent
	until(t, ctx, "the message timer has looked", func() bool { return s.live.sawParked.Load() || s.ctx.Err() != nil })
	if s.ctx.Err() != nil {
		<-s.done
		t.Fatalf("data was sent at t=1s and is not yet read by us; ended at t=11s with: %v", s.cause)
	}
	free()
	got := m.Messages().Observe(rxgoCtx(ctx))
	for _, want := range []string{"slow", "next"} {
		if it := <-got; it.E != nil || string(it.V.(*Response).Bytes()) != want {
			t.Fatalf("got %v, want %s", it, want)
		}
	}
	// From t=21s, 10s after "next" was read: at most two more timeouts, as
	// a timer that finds the reader still handing "next" on gives the peer
	// a whole timeout of reading after it.
	for i := 0; i < 3 && s.ctx.Err() == nil; i++ {
		looked := s.live.sawParked.Load()
		mock.Add(10 * time.Second)
		until(t, ctx, "the timer's look", func() bool { return s.ctx.Err() != nil || s.live.sawParked.Load() != looked })
	}
	<-s.done
	if !errors.Is(s.cause, ErrMessageTimeout) {
		t.Fatalf("ended with %v", s.cause)
	}
}

type liveView struct{ s *session }

func l(s *session) liveView { return liveView{s} }
func (v liveView) armed() bool {
	v.s.live.mu.Lock()
	defer v.s.live.mu.Unlock()
	return v.s.live.armed && v.s.ctx.Err() == nil
}

// A send waiting on the throttler holds every auto ping behind it in the
// writer queue: a dead peer is not detected for as long as that wait.
func TestAThrottledSendDoesNotStopThePings(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	mock := clock.NewMock()
	tmock := clock.NewMock() // the throttler's clock never moves: the second send waits
	srv := testutil.NewServer(t, testutil.Hold)
	srv.SetAnswerPings(false) // a dead peer
	th := NewThrottler([]RateLimit{{LimitID: "orders", Limit: 1, Interval: time.Hour}}, WithThrottlerClock(tmock))
	m := NewManager(nil, WithClock(mock), WithThrottler(th))
	if err := m.Connect(ctx, srv.URL, WithAutoPing(), WithPingTimeout(10*time.Second)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Disconnect(context.Background()) })
	s := currentSession(m)
	c, _ := srv.WaitConn(ctx, 0)
	req := TextRequest("order")
	req.LimitID = "orders"
	if err := m.Send(ctx, req); err != nil {
		t.Fatal(err)
	}
	sctx, scancel := context.WithCancel(context.Background())
	defer scancel()
	go func() { _ = m.Send(sctx, req) }()
	until(t, ctx, "second send queued", func() bool { return s.queued.Load() == 1 })
	mock.Add(5 * time.Second) // the first auto ping, while the send waits
	if _, err := c.WaitCount(ctx, websocket.PingMessage, 1); err != nil {
		t.Fatalf("no ping written while a send waits for the throttler: %v", err)
	}
	mock.Add(10 * time.Second) // its deadline: the peer is dead
	until(t, ctx, "the ping timeout's verdict", func() bool { return s.ctx.Err() != nil })
	<-s.done
	if !errors.Is(s.cause, ErrPingTimeout) {
		t.Fatalf("ended with %v", s.cause)
	}
}
