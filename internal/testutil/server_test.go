package testutil_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"reflect"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/goleak"

	"github.com/rxpype/rxpype/internal/testutil"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// testCtx bounds a test's waits; it is a safety net, not a synchronisation means.
func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func dial(t *testing.T, s *testutil.Server, h http.Header) *websocket.Conn {
	t.Helper()
	ws, resp, err := websocket.DefaultDialer.DialContext(testCtx(t), s.URL, h)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("dial status = %d", resp.StatusCode)
	}
	t.Cleanup(func() { _ = ws.Close() })
	return ws
}

type msg struct {
	typ  int
	data []byte
}

// readAll reads the client conn in a goroutine (so gorilla's control-frame
// handlers run) and delivers messages on the returned channel, which is closed
// after the read error is delivered on errc.
func readAll(ws *websocket.Conn) (<-chan msg, <-chan error) {
	out := make(chan msg, 1024)
	errc := make(chan error, 1)
	go func() {
		defer close(out)
		for {
			mt, data, err := ws.ReadMessage()
			if err != nil {
				errc <- err
				return
			}
			out <- msg{mt, data}
		}
	}()
	return out, errc
}

func waitErr(t *testing.T, errc <-chan error) error {
	t.Helper()
	select {
	case err := <-errc:
		return err
	case <-testCtx(t).Done():
		t.Fatal("timed out waiting for the client's read error")
		return nil
	}
}

func TestEchoTextAndBinary(t *testing.T) {
	s := testutil.NewServer(t, testutil.Echo)
	ws := dial(t, s, nil)

	if err := ws.WriteMessage(websocket.TextMessage, []byte("hello")); err != nil {
		t.Fatal(err)
	}
	mt, data, err := ws.ReadMessage()
	if err != nil || mt != websocket.TextMessage || string(data) != "hello" {
		t.Fatalf("got %d %q %v, want text hello", mt, data, err)
	}
	bin := []byte{0, 1, 2, 255}
	if err := ws.WriteMessage(websocket.BinaryMessage, bin); err != nil {
		t.Fatal(err)
	}
	mt, data, err = ws.ReadMessage()
	if err != nil || mt != websocket.BinaryMessage || !bytes.Equal(data, bin) {
		t.Fatalf("got %d %v %v, want binary %v", mt, data, err, bin)
	}
	if got := s.Sent(); got != 2 {
		t.Fatalf("Sent = %d, want 2", got)
	}

	// A normal client close ends Echo; the server replies to the close.
	if err := ws.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ws.ReadMessage(); !websocket.IsCloseError(err, websocket.CloseNormalClosure) {
		t.Fatalf("read after close = %v, want close 1000", err)
	}
	c := s.Conn(0)
	<-c.Done()
	var ce *websocket.CloseError
	if !errors.As(c.Err(), &ce) || ce.Code != websocket.CloseNormalClosure {
		t.Fatalf("server conn Err = %v, want close 1000", c.Err())
	}
}

func TestRefuseNext(t *testing.T) {
	s := testutil.NewServer(t, testutil.Echo)
	s.RefuseNext(2, http.StatusUnauthorized, "bad key")

	for i := 0; i < 2; i++ {
		ws, resp, err := websocket.DefaultDialer.DialContext(testCtx(t), s.URL, nil)
		if ws != nil {
			ws.Close()
		}
		if !errors.Is(err, websocket.ErrBadHandshake) {
			t.Fatalf("dial %d err = %v, want ErrBadHandshake", i, err)
		}
		if resp == nil || resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("dial %d resp = %+v, want 401", i, resp)
		}
		body, _ := io.ReadAll(resp.Body)
		if string(body) != "bad key" {
			t.Fatalf("dial %d body = %q, want %q", i, body, "bad key")
		}
	}
	ws := dial(t, s, nil)
	if err := ws.WriteMessage(websocket.TextMessage, []byte("ok")); err != nil {
		t.Fatal(err)
	}
	if _, data, err := ws.ReadMessage(); err != nil || string(data) != "ok" {
		t.Fatalf("echo after refusals = %q %v", data, err)
	}
	if s.Conns() != 1 || s.Attempts() != 3 {
		t.Fatalf("Conns, Attempts = %d, %d; want 1, 3", s.Conns(), s.Attempts())
	}
}

func TestCloseWithCodeSeenByClient(t *testing.T) {
	s := testutil.NewServer(t, testutil.Script(
		func(c *testutil.Conn) error { return c.SendText("last") },
		func(c *testutil.Conn) error { return c.CloseWith(4001, "going") },
	))
	ws := dial(t, s, nil)
	msgs, errc := readAll(ws)

	err := waitErr(t, errc)
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != 4001 || ce.Text != "going" {
		t.Fatalf("client err = %v, want close 4001 going", err)
	}
	if m := <-msgs; string(m.data) != "last" {
		t.Fatalf("client got %q, want last", m.data)
	}
	// The gorilla client's default close handler echoes the code back.
	c := s.Conn(0)
	<-c.Done()
	fr := c.Frames()
	if len(fr) != 1 || fr[0].Type != websocket.CloseMessage || fr[0].Code != 4001 {
		t.Fatalf("server frames = %+v, want the client's close 4001", fr)
	}
}

func TestStreamClosesNormally(t *testing.T) {
	s := testutil.NewServer(t, testutil.Stream([][]byte{[]byte("a"), []byte("b"), []byte("c")}))
	ws := dial(t, s, nil)
	msgs, errc := readAll(ws)

	err := waitErr(t, errc)
	if !websocket.IsCloseError(err, websocket.CloseNormalClosure) {
		t.Fatalf("client err = %v, want close 1000", err)
	}
	var got []string
	for m := range msgs {
		if m.typ != websocket.TextMessage {
			t.Fatalf("type = %d, want text", m.typ)
		}
		got = append(got, string(m.data))
	}
	if !reflect.DeepEqual(got, []string{"a", "b", "c"}) {
		t.Fatalf("client got %q", got)
	}
	if s.Sent() != 3 {
		t.Fatalf("Sent = %d, want 3", s.Sent())
	}
}

func TestServerPingAnsweredByClient(t *testing.T) {
	s := testutil.NewServer(t, testutil.Hold)
	ws := dial(t, s, nil)
	_, errc := readAll(ws) // gorilla answers pings while reading

	c := s.Conn(0)
	if err := c.Ping("hi"); err != nil {
		t.Fatal(err)
	}
	p, err := c.WaitPong(testCtx(t))
	if err != nil || string(p) != "hi" {
		t.Fatalf("WaitPong = %q %v, want hi", p, err)
	}
	want := []testutil.Frame{{Type: websocket.PongMessage, Data: []byte("hi")}}
	if fr := c.Frames(); !reflect.DeepEqual(fr, want) {
		t.Fatalf("Frames = %+v, want %+v", fr, want)
	}

	ws.Close()
	waitErr(t, errc)
	if _, err := c.WaitPong(testCtx(t)); err == nil {
		t.Fatal("WaitPong after the client left: want an error")
	}
}

func TestClientPingAnswerSwitch(t *testing.T) {
	s := testutil.NewServer(t, testutil.Echo)
	ws := dial(t, s, nil)
	pongs := make(chan string, 8)
	ws.SetPongHandler(func(app string) error { pongs <- app; return nil })
	msgs, errc := readAll(ws)

	// Echo's reply to "x" is written after the server handled the ping, so by
	// the time "x" arrives any pong has arrived (and been handled) before it.
	roundTrip := func(ping string) {
		t.Helper()
		if err := ws.WriteControl(websocket.PingMessage, []byte(ping), time.Now().Add(time.Second)); err != nil {
			t.Fatal(err)
		}
		if err := ws.WriteMessage(websocket.TextMessage, []byte("x")); err != nil {
			t.Fatal(err)
		}
		if m := <-msgs; string(m.data) != "x" {
			t.Fatalf("echo = %q", m.data)
		}
	}

	roundTrip("p1")
	select {
	case p := <-pongs:
		if p != "p1" {
			t.Fatalf("pong = %q, want p1", p)
		}
	default:
		t.Fatal("no pong for p1")
	}

	s.SetAnswerPings(false)
	roundTrip("p2")
	select {
	case p := <-pongs:
		t.Fatalf("unexpected pong %q with answers off", p)
	default:
	}

	fr := s.Conn(0).Frames()
	want := []testutil.Frame{
		{Type: websocket.PingMessage, Data: []byte("p1")},
		{Type: websocket.TextMessage, Data: []byte("x")},
		{Type: websocket.PingMessage, Data: []byte("p2")},
		{Type: websocket.TextMessage, Data: []byte("x")},
	}
	if !reflect.DeepEqual(fr, want) {
		t.Fatalf("Frames = %+v, want %+v", fr, want)
	}
	ws.Close()
	waitErr(t, errc)
}

func TestDropGivesClientReadError(t *testing.T) {
	s := testutil.NewServer(t, testutil.Hold)
	ws := dial(t, s, nil)
	_, errc := readAll(ws)

	c := s.Conn(0)
	c.Drop()
	err := waitErr(t, errc)
	if !websocket.IsCloseError(err, websocket.CloseAbnormalClosure) {
		t.Fatalf("client err = %v, want abnormal closure 1006", err)
	}
	if _, err := c.Recv(testCtx(t)); err == nil {
		t.Fatal("Recv after Drop: want an error")
	}
	if err := c.SendText("late"); err == nil {
		t.Fatal("SendText after Drop: want an error")
	}
	c.Drop() // idempotent
}

func TestReceivedRecordsAllFrames(t *testing.T) {
	s := testutil.NewServer(t, testutil.Hold)
	ws := dial(t, s, http.Header{"X-Api-Key": {"k1"}})
	_, errc := readAll(ws)
	c := s.Conn(0)
	if got := c.Request().Header.Get("X-Api-Key"); got != "k1" {
		t.Fatalf("handshake header = %q, want k1", got)
	}

	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(time.Second)
	must(ws.WriteMessage(websocket.TextMessage, []byte("a")))
	must(ws.WriteMessage(websocket.BinaryMessage, []byte{1, 2}))
	must(ws.WriteControl(websocket.PingMessage, []byte("p"), deadline))
	must(ws.WriteControl(websocket.PongMessage, []byte("unsolicited"), deadline))
	must(ws.WriteJSON(map[string]int{"n": 1}))

	got, err := c.WaitFrames(testCtx(t), 3)
	if err != nil || len(got) != 3 {
		t.Fatalf("WaitFrames = %d frames, %v", len(got), err)
	}
	f, err := c.Recv(testCtx(t))
	if err != nil || f.Type != websocket.TextMessage || string(f.Data) != "a" {
		t.Fatalf("Recv = %+v %v", f, err)
	}

	must(ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseGoingAway, "bye"), deadline))
	if err := waitErr(t, errc); !websocket.IsCloseError(err, websocket.CloseGoingAway) {
		t.Fatalf("client err = %v, want the echoed close 1001", err)
	}
	<-c.Done()

	want := []testutil.Frame{
		{Type: websocket.TextMessage, Data: []byte("a")},
		{Type: websocket.BinaryMessage, Data: []byte{1, 2}},
		{Type: websocket.PingMessage, Data: []byte("p")},
		{Type: websocket.PongMessage, Data: []byte("unsolicited")},
		{Type: websocket.TextMessage, Data: []byte("{\"n\":1}\n")},
		{Type: websocket.CloseMessage, Data: []byte("bye"), Code: websocket.CloseGoingAway},
	}
	if r := s.Received(); len(r) != 1 || !reflect.DeepEqual(r[0], want) {
		t.Fatalf("Received = %+v, want [%+v]", r, want)
	}
	// Recv drains the queue, then reports why the read loop ended.
	for _, w := range []string{"\x01\x02", "{\"n\":1}\n"} {
		if f, err := c.Recv(testCtx(t)); err != nil || string(f.Data) != w {
			t.Fatalf("Recv = %q %v, want %q", f.Data, err, w)
		}
	}
	if _, err := c.Recv(testCtx(t)); !websocket.IsCloseError(err, websocket.CloseGoingAway) {
		t.Fatalf("Recv at end = %v, want close 1001", err)
	}
}

func TestSendJSONAndPrepared(t *testing.T) {
	const n = 500
	pm, err := websocket.NewPreparedMessage(websocket.BinaryMessage, []byte("bulk"))
	if err != nil {
		t.Fatal(err)
	}
	steps := []func(*testutil.Conn) error{
		func(c *testutil.Conn) error { return c.SendJSON(map[string]string{"k": "v"}) },
		func(c *testutil.Conn) error { return c.SendBinary([]byte{9}) },
	}
	for i := 0; i < n; i++ {
		steps = append(steps, func(c *testutil.Conn) error { return c.SendPrepared(pm) })
	}
	s := testutil.NewServer(t, testutil.Script(steps...))
	ws := dial(t, s, nil)

	var v map[string]string
	if err := ws.ReadJSON(&v); err != nil || v["k"] != "v" {
		t.Fatalf("ReadJSON = %v %v", v, err)
	}
	if mt, data, err := ws.ReadMessage(); err != nil || mt != websocket.BinaryMessage || !bytes.Equal(data, []byte{9}) {
		t.Fatalf("binary = %d %v %v", mt, data, err)
	}
	for i := 0; i < n; i++ {
		mt, data, err := ws.ReadMessage()
		if err != nil || mt != websocket.BinaryMessage || string(data) != "bulk" {
			t.Fatalf("prepared %d = %d %q %v", i, mt, data, err)
		}
	}
	if _, _, err := ws.ReadMessage(); !websocket.IsCloseError(err, websocket.CloseNormalClosure) {
		t.Fatalf("after script = %v, want close 1000", err)
	}
	if got := s.Sent(); got != n+2 {
		t.Fatalf("Sent = %d, want %d", got, n+2)
	}
}

func TestWaitConnAndClose(t *testing.T) {
	before := goleak.IgnoreCurrent()
	s := testutil.NewServer(t, nil) // Hold

	var errcs []<-chan error
	for i := 0; i < 3; i++ {
		ws := dial(t, s, nil)
		_, errc := readAll(ws)
		errcs = append(errcs, errc)
	}
	for i := 0; i < 3; i++ {
		if c, err := s.WaitConn(testCtx(t), i); err != nil || c.Index() != i {
			t.Fatalf("WaitConn(%d) = %v, %v", i, c, err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.WaitConn(ctx, 3); !errors.Is(err, context.Canceled) {
		t.Fatalf("WaitConn(3) with a cancelled ctx = %v", err)
	}

	waiting := make(chan error, 1)
	go func() {
		_, err := s.WaitConn(context.Background(), 3)
		waiting <- err
	}()

	s.Close()
	s.Close() // idempotent
	for _, errc := range errcs {
		if err := waitErr(t, errc); err == nil {
			t.Fatal("client read after server Close: want an error")
		}
	}
	if err := <-waiting; !errors.Is(err, testutil.ErrServerClosed) {
		t.Fatalf("WaitConn blocked across Close = %v, want ErrServerClosed", err)
	}
	if _, _, err := websocket.DefaultDialer.DialContext(testCtx(t), s.URL, nil); err == nil {
		t.Fatal("dial after Close: want an error")
	}
	goleak.VerifyNone(t, before)
}

func TestHandlerReturnAfterClientGone(t *testing.T) {
	// The handler keeps sending until its write fails; closing the server must
	// not wait on it beyond that.
	s := testutil.NewServer(t, func(c *testutil.Conn) {
		for c.SendText("tick") == nil {
		}
	})
	ws := dial(t, s, nil)
	if _, data, err := ws.ReadMessage(); err != nil || string(data) != "tick" {
		t.Fatalf("read = %q %v", data, err)
	}
	ws.Close()
	<-s.Conn(0).Done()
	s.Close()
}

func TestRefusedURLRefuses(t *testing.T) {
	u := testutil.RefusedURL(t)
	_, _, err := websocket.DefaultDialer.Dial(u, nil)
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("dial %s: %v, want connection refused", u, err)
	}
}
