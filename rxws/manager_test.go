package rxws_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/reactivex/rxgo/v2"
	"github.com/rxpype/rxpype/clock"
	"github.com/rxpype/rxpype/internal/testutil"
	"github.com/rxpype/rxpype/rxws"
)

func TestSendAndReceiveEachKind(t *testing.T) {
	_, m := connect(t, testutil.Echo)
	ctx := testCtx(t)

	if err := m.Send(ctx, rxws.JSONRequest(map[string]any{"op": "hi", "id": 12345678901234567})); err != nil {
		t.Fatal(err)
	}
	got := receive(t, m).Data().(map[string]any)
	if got["op"] != "hi" || got["id"] != json.Number("12345678901234567") {
		t.Fatalf("JSON: got %#v", got)
	}

	for _, tc := range []struct {
		req  rxws.Request
		want any
		kind rxws.Kind
	}{
		{rxws.TextRequest("ping"), "ping", rxws.KindText},
		{rxws.TextRequest(`{"broken":`), `{"broken":`, rxws.KindText}, // invalid JSON stays text
		{rxws.TextRequest(`[1,"a"]`), []any{json.Number("1"), "a"}, rxws.KindText},
		{rxws.BinaryRequest([]byte{0, 1, 2}), []byte{0, 1, 2}, rxws.KindBinary},
	} {
		if err := m.Send(ctx, tc.req); err != nil {
			t.Fatal(err)
		}
		r := receive(t, m)
		if !reflect.DeepEqual(r.Data(), tc.want) || r.Kind() != tc.kind {
			t.Errorf("%v: got %#v (%v), want %#v (%v)", tc.req.Payload, r.Data(), r.Kind(), tc.want, tc.kind)
		}
	}
}

func TestResponseDecode(t *testing.T) {
	_, m := connect(t, testutil.Echo)
	if err := m.Send(testCtx(t), rxws.TextRequest(`{"price":"1.5","qty":3}`)); err != nil {
		t.Fatal(err)
	}
	r := receive(t, m)
	var v struct {
		Price string `json:"price"`
		Qty   int    `json:"qty"`
	}
	if err := r.Decode(&v); err != nil || v.Price != "1.5" || v.Qty != 3 {
		t.Fatalf("got %+v, %v", v, err)
	}
	if string(r.Bytes()) != `{"price":"1.5","qty":3}` {
		t.Fatalf("Bytes: %q", r.Bytes())
	}
	var n int
	if err := r.Decode(&n); err == nil || !strings.Contains(err.Error(), "decode") {
		t.Fatalf("want a decode error, got %v", err)
	}
}

func TestProcessorsRunInOrderAndAuthOnlyWhenRequired(t *testing.T) {
	tag := func(name string) rxws.PreProcessor {
		return rxws.PreProcessorFunc(func(_ context.Context, r rxws.Request) (rxws.Request, error) {
			p := r.Payload.(map[string]any)
			p["trail"] = p["trail"].(string) + name
			return r, nil
		})
	}
	auth := rxws.AuthFunc(func(_ context.Context, r rxws.Request) (rxws.Request, error) {
		r.Payload.(map[string]any)["sig"] = "signed:" + r.Payload.(map[string]any)["trail"].(string)
		return r, nil
	})
	post := func(name string) rxws.PostProcessor {
		return rxws.PostProcessorFunc(func(_ context.Context, r *rxws.Response) (*rxws.Response, error) {
			d := r.Data().(map[string]any)
			d["seen"] = d["seen"].(string) + name
			return r, nil
		})
	}
	srv, m := connect(t, testutil.Echo,
		rxws.WithPreProcessors(tag("a"), tag("b")), rxws.WithAuth(auth),
		rxws.WithPostProcessors(post("x"), post("y")))
	ctx := testCtx(t)

	plain := rxws.JSONRequest(map[string]any{"trail": "", "seen": ""})
	signed := plain
	signed.AuthRequired = true
	for _, r := range []rxws.Request{plain, signed} {
		if err := m.Send(ctx, r); err != nil {
			t.Fatal(err)
		}
		if got := receive(t, m).Data().(map[string]any)["seen"]; got != "xy" {
			t.Fatalf("post-processors ran as %q", got)
		}
	}
	got := dataFrames(t, srv, 0, 2)
	want := []string{`{"seen":"","trail":"ab"}`, `{"seen":"","sig":"signed:ab","trail":"ab"}`}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("server got %q, want %q", got, want)
	}
}

func TestFailingProcessorOrAuthWritesNothing(t *testing.T) {
	boom := errors.New("boom")
	pre := rxws.PreProcessorFunc(func(_ context.Context, r rxws.Request) (rxws.Request, error) {
		if r.Payload == "bad-pre" {
			return r, boom
		}
		return r, nil
	})
	auth := rxws.AuthFunc(func(_ context.Context, r rxws.Request) (rxws.Request, error) {
		return r, boom
	})
	srv, m := connect(t, testutil.Echo, rxws.WithPreProcessors(pre), rxws.WithAuth(auth))
	ctx := testCtx(t)

	if err := m.Send(ctx, rxws.TextRequest("bad-pre")); !errors.Is(err, boom) {
		t.Fatalf("pre-processor: got %v", err)
	}
	needsAuth := rxws.TextRequest("bad-auth")
	needsAuth.AuthRequired = true
	if err := m.Send(ctx, needsAuth); !errors.Is(err, boom) || !strings.Contains(err.Error(), "auth") {
		t.Fatalf("auth: got %v", err)
	}
	if err := m.Send(ctx, rxws.JSONRequest(make(chan int))); err == nil {
		t.Fatal("unencodable payload: want an error")
	}
	if err := m.Send(ctx, rxws.TextRequest("good")); err != nil {
		t.Fatal(err)
	}
	if got := dataFrames(t, srv, 0, 1); !reflect.DeepEqual(got, []string{"good"}) {
		t.Fatalf("server got %q", got)
	}
}

func TestAuthRequiredWithoutAuth(t *testing.T) {
	srv, m := connect(t, testutil.Echo)
	req := rxws.TextRequest("secret")
	req.AuthRequired = true
	if err := m.Send(testCtx(t), req); !errors.Is(err, rxws.ErrNoAuth) {
		t.Fatalf("got %v", err)
	}
	if err := m.Send(testCtx(t), rxws.TextRequest("ok")); err != nil {
		t.Fatal(err)
	}
	if got := dataFrames(t, srv, 0, 1); len(got) != 1 || got[0] != "ok" {
		t.Fatalf("server got %q", got)
	}
}

func TestRequestIsNotMutated(t *testing.T) {
	mutate := rxws.PreProcessorFunc(func(_ context.Context, r rxws.Request) (rxws.Request, error) {
		p := r.Payload.(map[string]any)
		p["added"] = true
		p["args"].([]any)[0] = "changed"
		p["nested"].(map[string]any)["k"] = "changed"
		r.LimitID = "changed"
		return r, nil
	})
	_, m := connect(t, testutil.Echo, rxws.WithPreProcessors(mutate))
	req := rxws.JSONRequest(map[string]any{
		"args":   []any{"orig"},
		"nested": map[string]any{"k": "orig"},
	})
	before, _ := json.Marshal(req.Payload)
	if err := m.Subscribe(testCtx(t), req); err != nil {
		t.Fatal(err)
	}
	receive(t, m)
	after, _ := json.Marshal(req.Payload)
	if string(before) != string(after) || req.LimitID != "" {
		t.Fatalf("request changed: %s -> %s", before, after)
	}
	if subs := m.Subscriptions(); len(subs) != 1 || subs[0].Kind != rxws.KindJSON {
		t.Fatalf("subscriptions: %+v", subs)
	}
}

// Typed payloads are copied all the way down too, not only the shapes of
// decoded JSON: a pre-processor that signs a struct's map in place signs
// the copy, and the server sees the signature.
func TestTypedRequestIsNotMutated(t *testing.T) {
	type params struct {
		Symbols []string       `json:"symbols"`
		Depth   map[string]int `json:"depth"`
	}
	type sub struct {
		Op     string  `json:"op"`
		Params *params `json:"params"`
	}
	sign := rxws.PreProcessorFunc(func(_ context.Context, r rxws.Request) (rxws.Request, error) {
		s := r.Payload.(*sub)
		s.Params.Symbols[0] = "SIGNED"
		s.Params.Depth["signed"] = 1
		return r, nil
	})
	srv, m := connect(t, testutil.Echo, rxws.WithPreProcessors(sign))
	req := rxws.JSONRequest(&sub{Op: "subscribe", Params: &params{Symbols: []string{"BTC"}, Depth: map[string]int{"BTC": 10}}})
	before, _ := json.Marshal(req.Payload)
	if err := m.Send(testCtx(t), req); err != nil {
		t.Fatal(err)
	}
	if after, _ := json.Marshal(req.Payload); string(after) != string(before) {
		t.Fatalf("request changed: %s -> %s", before, after)
	}
	want := `{"op":"subscribe","params":{"symbols":["SIGNED"],"depth":{"BTC":10,"signed":1}}}`
	if got := dataFrames(t, srv, 0, 1); len(got) != 1 || got[0] != want {
		t.Fatalf("server got %q, want %s", got, want)
	}
}

// A payload that contains itself cannot be encoded: Send says so, writes
// nothing, and the connection goes on.
func TestSendOfACyclicPayloadFails(t *testing.T) {
	srv, m := connect(t, testutil.Echo)
	loop := map[string]any{"op": "subscribe"}
	loop["self"] = loop
	err := m.Send(testCtx(t), rxws.JSONRequest(loop))
	if err == nil || !strings.Contains(err.Error(), "cycle") {
		t.Fatalf("got %v, want an error about the cycle", err)
	}
	if err := m.Send(testCtx(t), rxws.TextRequest("ok")); err != nil {
		t.Fatal(err)
	}
	if got := dataFrames(t, srv, 0, 1); len(got) != 1 || got[0] != "ok" {
		t.Fatalf("server got %q", got)
	}
}

func TestPostProcessorDropsAndErrors(t *testing.T) {
	post := rxws.PostProcessorFunc(func(_ context.Context, r *rxws.Response) (*rxws.Response, error) {
		switch r.Data() {
		case "drop":
			return nil, nil
		case "fail":
			return nil, errors.New("cannot parse")
		}
		return r.WithData("kept:" + r.Data().(string)), nil
	})
	_, m := connect(t, testutil.Echo, rxws.WithPostProcessors(post))
	ctx := testCtx(t)
	for _, s := range []string{"drop", "fail", "a"} {
		if err := m.Send(ctx, rxws.TextRequest(s)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := m.Receive(ctx); err == nil || !strings.Contains(err.Error(), "cannot parse") {
		t.Fatalf("want the post-processor's error, got %v", err)
	}
	if got := receive(t, m).Data(); got != "kept:a" {
		t.Fatalf("got %v", got)
	}
}

func TestServerPingAnsweredAndPingSent(t *testing.T) {
	srv, m := connect(t, testutil.Hold)
	c, err := srv.WaitConn(testCtx(t), 0)
	if err != nil {
		t.Fatal(err)
	}
	// The reader answers pings only while it reads, which it does while
	// someone listens.
	it := m.IterMessages(testCtx(t))
	go func() {
		for range it {
		}
	}()
	if err := c.Ping("hello"); err != nil {
		t.Fatal(err)
	}
	if data, err := c.WaitPong(testCtx(t)); err != nil || string(data) != "hello" {
		t.Fatalf("pong %q, %v", data, err)
	}
	if err := m.Ping(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if err := m.Disconnect(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	<-c.Done() // every frame the client wrote is recorded by now
	for _, f := range c.Frames() {
		if f.Type == websocket.PingMessage {
			return
		}
	}
	t.Fatal("server saw no ping")
}

func TestServerCloseCodeSurfaces(t *testing.T) {
	srv := testutil.NewServer(t, func(c *testutil.Conn) {
		_ = c.SendText("last")
		_ = c.CloseWith(4001, "maintenance")
	})
	m := rxws.NewManager(nil)
	ctx := testCtx(t)
	if err := m.Connect(ctx, srv.URL); err != nil {
		t.Fatal(err)
	}
	var got []string
	var end error
	for r, err := range m.IterMessages(ctx) {
		if err != nil {
			end = err
			break
		}
		got = append(got, r.Data().(string))
	}
	var ce *rxws.CloseError
	if !errors.As(end, &ce) || ce.Code != 4001 || ce.Reason != "maintenance" || !errors.Is(end, rxws.ErrClosed) {
		t.Fatalf("got %v", end)
	}
	if !strings.Contains(end.Error(), srv.URL) || !reflect.DeepEqual(got, []string{"last"}) {
		t.Fatalf("error %q, messages %q", end, got)
	}
	if m.Connected() {
		t.Fatal("still connected")
	}
	if err := m.Send(ctx, rxws.TextRequest("x")); !errors.Is(err, rxws.ErrNotConnected) || !errors.As(err, &ce) {
		t.Fatalf("send after close: %v", err)
	}
	if _, err := m.Receive(ctx); !errors.Is(err, rxws.ErrNotConnected) {
		t.Fatalf("receive after close: %v", err)
	}
	// A late iteration, or a late observer, learns of the end at once
	// rather than waiting: one item, the close error.
	var late []error
	for _, err := range m.IterMessages(ctx) {
		late = append(late, err)
	}
	for item := range m.Messages().Observe(rxgo.WithContext(ctx)) {
		late = append(late, item.E)
	}
	if len(late) != 2 {
		t.Fatalf("late iteration and observer saw %v; want the close error once each", late)
	}
	for _, err := range late {
		if !errors.As(err, &ce) || ce.Code != 4001 {
			t.Fatalf("late iteration or observer saw %v; want the close error", err)
		}
	}
}

func TestNormalCloseCompletesWithoutError(t *testing.T) {
	srv := testutil.NewServer(t, testutil.Stream([][]byte{[]byte("1"), []byte("2")}))
	m := rxws.NewManager(nil)
	ctx := testCtx(t)
	obs := m.Messages() // before Connect: sees everything
	if err := m.Connect(ctx, srv.URL); err != nil {
		t.Fatal(err)
	}
	var got []any
	for item := range obs.Observe() {
		if item.E != nil {
			t.Fatalf("error item: %v", item.E)
		}
		got = append(got, item.V.(*rxws.Response).Data())
	}
	if !reflect.DeepEqual(got, []any{json.Number("1"), json.Number("2")}) {
		t.Fatalf("got %v", got)
	}
	if _, err := m.Receive(ctx); !errors.Is(err, rxws.ErrNotConnected) {
		t.Fatalf("receive: %v", err)
	}
}

func TestTwoObserversSeeEveryMessage(t *testing.T) {
	const n = 500
	msgs := make([][]byte, n)
	for i := range msgs {
		msgs[i], _ = json.Marshal(i)
	}
	srv := testutil.NewServer(t, testutil.Stream(msgs))
	m := rxws.NewManager(nil)
	ctx := testCtx(t)
	obs := m.Messages()
	var wg sync.WaitGroup
	counts := make([]int, 2)
	for k := range counts {
		ch := obs.Observe(rxgo.WithContext(ctx))
		wg.Add(1)
		go func() {
			defer wg.Done()
			for item := range ch {
				if item.E == nil && item.V.(*rxws.Response).Data() == json.Number(jsonInt(counts[k])) {
					counts[k]++
				}
			}
		}()
	}
	if err := m.Connect(ctx, srv.URL); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if counts[0] != n || counts[1] != n {
		t.Fatalf("observers saw %v in order, want %d each", counts, n)
	}
}

func jsonInt(i int) string { b, _ := json.Marshal(i); return string(b) }

func TestLastRecvTimeMovesOnDataFramesOnly(t *testing.T) {
	mock := clock.NewMock()
	srv, m := connect(t, testutil.Hold, rxws.WithClock(mock))
	c, _ := srv.WaitConn(testCtx(t), 0)
	if !m.LastRecvTime().IsZero() {
		t.Fatal("LastRecvTime set before any frame")
	}
	mock.Add(time.Minute)
	_ = c.SendText("a")
	receive(t, m)
	t1 := mock.Now()
	if !m.LastRecvTime().Equal(t1) {
		t.Fatalf("got %v, want %v", m.LastRecvTime(), t1)
	}
	mock.Add(time.Minute)
	// A ping is read and answered by the reader while Receive waits, and
	// must not move LastRecvTime; the data frame after it does.
	go func() { _ = c.Ping("p"); _, _ = c.WaitPong(context.Background()); _ = c.SendText("b") }()
	r := receive(t, m)
	if !m.LastRecvTime().Equal(mock.Now()) || !r.Received().Equal(mock.Now()) {
		t.Fatalf("got %v, want %v", m.LastRecvTime(), mock.Now())
	}
	mock.Add(time.Minute)
	go func() { _ = c.Ping("q") }()
	if _, err := c.WaitPong(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if m.LastRecvTime().Equal(mock.Now()) {
		t.Fatal("a ping moved LastRecvTime")
	}
}

// A message's Received time is when its bytes came off the socket: messages
// that one read brought in share it, however long each waits to be taken.
func TestMessagesReadTogetherShareTheirReceivedTime(t *testing.T) {
	send := make(chan struct{})
	srv := testutil.NewRawServer(t, func(c *testutil.RawConn) {
		if c.Upgrade() != nil {
			return
		}
		select {
		case <-send:
		case <-c.Done():
			return
		}
		// Two text frames, "a" and "b", in one write: one read takes both.
		if _, err := c.Write([]byte{0x81, 1, 'a', 0x81, 1, 'b'}); err != nil {
			return
		}
		for { // answer Disconnect's close frame
			f, err := c.ReadFrame()
			if err != nil || f.Op == websocket.CloseMessage {
				_ = c.WriteClose(websocket.CloseNormalClosure, "")
				return
			}
		}
	})
	mock := clock.NewMock()
	// A Connection of its own, made without the clock: the manager's clock
	// still times its messages.
	m := rxws.NewManager(rxws.NewConnection(), rxws.WithClock(mock))
	if err := m.Connect(testCtx(t), srv.URL); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := m.Disconnect(testCtx(t)); err != nil {
			t.Error(err)
		}
	}()
	mock.Add(time.Minute)
	arrived := mock.Now()
	close(send)
	// Receive with a context that never ends reads the socket itself (pull
	// mode): a is taken before the clock moves on, and b only after it,
	// from the read buffer (by this Receive, or by the reader once pull mode
	// lapses on the clock's move).
	a, err := m.Receive(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	mock.Add(time.Minute)
	b, err := m.Receive(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if string(a.Bytes()) != "a" || string(b.Bytes()) != "b" {
		t.Fatalf("got %v, %v", a, b)
	}
	if !a.Received().Equal(arrived) || !b.Received().Equal(arrived) || !m.LastRecvTime().Equal(arrived) {
		t.Fatalf("Received %v and %v, LastRecvTime %v; want all %v",
			a.Received(), b.Received(), m.LastRecvTime(), arrived)
	}
}

func TestConnectErrors(t *testing.T) {
	ctx := testCtx(t)
	m := rxws.NewManager(nil)
	for _, u := range []string{"http://127.0.0.1:1/x?key=secret", "ws://", "::bad::", "ws://u:secret@127.0.0.1:1/%zz?token=secret"} {
		err := m.Connect(ctx, u)
		if !errors.Is(err, rxws.ErrBadURL) || strings.Contains(err.Error(), "secret") {
			t.Errorf("%q: got %v", u, err)
		}
	}

	srv := testutil.NewServer(t, testutil.Echo)
	srv.RefuseNext(1, http.StatusUnauthorized, "invalid api key")
	err := m.Connect(ctx, srv.URL+"/feed?apikey=secret")
	var he *rxws.HandshakeError
	if !errors.As(err, &he) || he.StatusCode != 401 || he.Body != "invalid api key" || !errors.Is(err, websocket.ErrBadHandshake) {
		t.Fatalf("got %v", err)
	}
	if msg := err.Error(); !strings.Contains(msg, srv.URL+"/feed") || !strings.Contains(msg, "401") || strings.Contains(msg, "secret") {
		t.Fatalf("message %q", msg)
	}

	if err := m.Send(ctx, rxws.TextRequest("x")); !errors.Is(err, rxws.ErrNotConnected) {
		t.Fatalf("send before connect: %v", err)
	}
	if err := m.Ping(ctx); !errors.Is(err, rxws.ErrNotConnected) {
		t.Fatalf("ping before connect: %v", err)
	}
	if err := m.Connect(ctx, srv.URL, rxws.WithHeaders(http.Header{"X-Key": {"k1"}})); err != nil {
		t.Fatal(err)
	}
	if err := m.Connect(ctx, srv.URL); !errors.Is(err, rxws.ErrAlreadyConnected) {
		t.Fatalf("second connect: %v", err)
	}
	if c, _ := srv.WaitConn(ctx, 0); c.Request().Header.Get("X-Key") != "k1" {
		t.Fatal("header not sent")
	}
	if err := m.Disconnect(ctx); err != nil {
		t.Fatal(err)
	}
	if err := m.Disconnect(ctx); err != nil {
		t.Fatalf("second disconnect: %v", err)
	}
	c, _ := srv.WaitConn(ctx, 0)
	<-c.Done()
	frames := c.Frames()
	if last := frames[len(frames)-1]; last.Type != websocket.CloseMessage || last.Code != websocket.CloseNormalClosure {
		t.Fatalf("server's last frame: %+v", last)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := m.Connect(cctx, srv.URL); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled connect: %v", err)
	}
}

func TestDisconnectCompletesObserversAndReconnectWorks(t *testing.T) {
	srv := testutil.NewServer(t, testutil.Echo)
	m := rxws.NewManager(nil)
	ctx := testCtx(t)
	if err := m.Connect(ctx, srv.URL); err != nil {
		t.Fatal(err)
	}
	// The iteration is under way (it has had the echo, which the reader
	// holds until someone listens) when Disconnect comes, so that Disconnect
	// is what ends it.
	if err := m.Send(ctx, rxws.TextRequest("hello")); err != nil {
		t.Fatal(err)
	}
	iterating := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		var err error
		first := true
		for _, e := range m.IterMessages(ctx) {
			if first {
				close(iterating)
				first = false
			}
			err = e
		}
		done <- err
	}()
	<-iterating
	if err := m.Disconnect(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("iteration ended with %v", err)
	}
	if err := m.Connect(ctx, srv.URL); err != nil {
		t.Fatal(err)
	}
	if err := m.Send(ctx, rxws.TextRequest("again")); err != nil {
		t.Fatal(err)
	}
	if got := receive(t, m).Data(); got != "again" {
		t.Fatalf("got %v", got)
	}
	if err := m.Disconnect(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestSendWithCancelledContext(t *testing.T) {
	srv, m := connect(t, testutil.Echo)
	ctx, cancel := context.WithCancel(testCtx(t))
	cancel()
	if err := m.Send(ctx, rxws.TextRequest("never")); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v", err)
	}
	if err := m.Send(testCtx(t), rxws.TextRequest("after")); err != nil {
		t.Fatal(err)
	}
	if got := dataFrames(t, srv, 0, 1); got[0] != "after" {
		t.Fatalf("server got %q", got)
	}
}

// A context that ends while its request is being prepared (here the
// pre-processor ends it) ends before the socket has the frame: nothing is
// written, and Send says why. Inline (no throttler) and through the writer.
func TestSendWhoseContextEndsWhilePreparedWritesNothing(t *testing.T) {
	for _, throttled := range []bool{false, true} {
		t.Run(fmt.Sprintf("throttler=%v", throttled), func(t *testing.T) {
			cancels := make(map[string]context.CancelFunc)
			var mu sync.Mutex
			pre := rxws.PreProcessorFunc(func(_ context.Context, req rxws.Request) (rxws.Request, error) {
				mu.Lock()
				defer mu.Unlock()
				if cancel := cancels[req.Payload.(string)]; cancel != nil {
					cancel()
				}
				return req, nil
			})
			opts := []rxws.Option{rxws.WithPreProcessors(pre)}
			if throttled {
				opts = append(opts, rxws.WithThrottler(rxws.NewThrottler(nil)))
			}
			srv, m := connect(t, testutil.Echo, opts...)
			ctx, cancel := context.WithCancel(testCtx(t))
			mu.Lock()
			cancels["late"] = cancel
			mu.Unlock()
			if err := m.Send(ctx, rxws.TextRequest("late")); !errors.Is(err, context.Canceled) {
				t.Fatalf("got %v, want context.Canceled", err)
			}
			if err := m.Send(testCtx(t), rxws.TextRequest("after")); err != nil {
				t.Fatal(err)
			}
			if got := dataFrames(t, srv, 0, 1); got[0] != "after" {
				t.Fatalf("server got %q", got)
			}
		})
	}
}

// Once the writer has taken a request, a Send whose context ends returns
// only when the writer is done with it, so the caller may then change what
// the copy still shares with its payload (state behind unexported fields,
// here a big.Int's digits) without a data race; -race checks it.
func TestSendReturnsWhenTheWriterIsDoneWithTheRequest(t *testing.T) {
	type order struct {
		Qty *big.Int `json:"qty"`
	}
	var mu sync.Mutex
	var cancel context.CancelFunc
	pre := rxws.PreProcessorFunc(func(_ context.Context, req rxws.Request) (rxws.Request, error) {
		if o, ok := req.Payload.(order); ok {
			mu.Lock()
			cancel()
			mu.Unlock()
			runtime.Gosched()
			_ = o.Qty.Int64() // reads the digits the caller's big.Int shares
		}
		return req, nil
	})
	// The throttler makes every send go through the writer goroutine.
	srv, m := connect(t, testutil.Echo, rxws.WithPreProcessors(pre), rxws.WithThrottler(rxws.NewThrottler(nil)))
	qty := big.NewInt(12345)
	ctx, c := context.WithCancel(testCtx(t))
	mu.Lock()
	cancel = c
	mu.Unlock()
	if err := m.Send(ctx, rxws.JSONRequest(order{Qty: qty})); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
	qty.SetInt64(7) // the caller's to change now
	if err := m.Send(testCtx(t), rxws.TextRequest("after")); err != nil {
		t.Fatal(err)
	}
	if got := dataFrames(t, srv, 0, 1); got[0] != "after" {
		t.Fatalf("server got %q", got)
	}
}

func TestFactoryClosesItsManagers(t *testing.T) {
	srv := testutil.NewServer(t, testutil.Echo)
	f := rxws.NewFactory(nil, rxws.WithPreProcessors(rxws.PreProcessorFunc(
		func(_ context.Context, r rxws.Request) (rxws.Request, error) {
			r.Payload = "factory:" + r.Payload.(string)
			return r, nil
		})))
	ctx := testCtx(t)
	var ms []*rxws.Manager
	for range 3 {
		m, err := f.WSManager()
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Connect(ctx, srv.URL); err != nil {
			t.Fatal(err)
		}
		ms = append(ms, m)
	}
	if err := ms[2].Send(ctx, rxws.TextRequest("x")); err != nil {
		t.Fatal(err)
	}
	if got := receive(t, ms[2]).Data(); got != "factory:x" {
		t.Fatalf("got %v", got)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if m.Connected() {
			t.Fatal("a manager is still connected")
		}
	}
	if _, err := f.WSManager(); !errors.Is(err, rxws.ErrFactoryClosed) {
		t.Fatalf("got %v", err)
	}
	// Nor can its managers connect again (a Connect that lost a race with
	// Close would otherwise outlive the factory).
	if err := ms[0].Connect(ctx, srv.URL); !errors.Is(err, rxws.ErrFactoryClosed) || ms[0].Connected() {
		_ = ms[0].Disconnect(ctx)
		t.Fatalf("Connect after Close: %v", err)
	}
}
