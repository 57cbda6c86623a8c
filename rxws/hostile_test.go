package rxws_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/reactivex/rxgo/v2"
	"github.com/rxpype/rxpype/internal/testutil"
	"github.com/rxpype/rxpype/rxws"
)

// watch is an observer of a connection's messages that joined before
// Connect: a peer that fails at once must not end the connection before the
// test listens.
type watch struct {
	t     *testing.T
	items <-chan rxgo.Item
}

// next returns the next message.
func (w *watch) next() *rxws.Response {
	w.t.Helper()
	it, ok := <-w.items
	if !ok || it.E != nil {
		w.t.Fatalf("want a message, got %v (open: %v)", it.E, ok)
	}
	return it.V.(*rxws.Response)
}

// end skips messages and returns the error that ended the connection.
func (w *watch) end() error {
	w.t.Helper()
	for it := range w.items {
		if it.E != nil {
			return it.E
		}
	}
	w.t.Fatal("the connection ended without an error")
	return nil
}

// connectTo connects a new manager to url with the connect options given,
// watched from before Connect.
func connectTo(t *testing.T, url string, copts []rxws.ConnectOption, opts ...rxws.Option) (*rxws.Manager, *watch) {
	t.Helper()
	m := rxws.NewManager(nil, opts...)
	w := &watch{t: t, items: m.Messages().Observe(rxgo.WithContext(testCtx(t)))}
	if err := m.Connect(testCtx(t), url, copts...); err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { _ = m.Disconnect(context.Background()) })
	return m, w
}

// closeErr asserts that err is a *rxws.CloseError with the code and returns it.
func closeErr(t *testing.T, err error, code int) *rxws.CloseError {
	t.Helper()
	var ce *rxws.CloseError
	if !errors.As(err, &ce) || ce.Code != code || !errors.Is(err, rxws.ErrClosed) {
		t.Fatalf("want a *CloseError with code %d, got %T %v", code, err, err)
	}
	return ce
}

func TestMessageOverDefaultReadLimit(t *testing.T) {
	srv := testutil.NewServer(t, func(c *testutil.Conn) {
		_ = c.SendText("small")
		_ = c.SendBinary(make([]byte, 32<<20)) // fails once the client hangs up
		<-c.Done()
	})
	m, w := connectTo(t, srv.URL, nil)
	if r := w.next(); r.Data() != "small" {
		t.Fatalf("got %v", r)
	}
	end := w.end()
	closeErr(t, end, websocket.CloseMessageTooBig)
	var tb *rxws.MessageTooBigError
	if !errors.As(end, &tb) || tb.Limit != rxws.DefaultReadLimit || !errors.Is(end, rxws.ErrMessageTooBig) ||
		!errors.Is(end, websocket.ErrReadLimit) {
		t.Fatalf("got %v", end)
	}
	t.Log(end)
	if msg := end.Error(); !strings.Contains(msg, "16777216") || !strings.Contains(msg, srv.URL) {
		t.Fatalf("message %q names neither limit nor server", msg)
	}
	// The client told the server why before hanging up.
	c := srv.Conn(0)
	<-c.Done()
	var wce *websocket.CloseError
	if !errors.As(c.Err(), &wce) || wce.Code != websocket.CloseMessageTooBig {
		t.Fatalf("server saw %v", c.Err())
	}
	if err := m.Send(testCtx(t), rxws.TextRequest("x")); !errors.Is(err, rxws.ErrNotConnected) || !errors.Is(err, rxws.ErrMessageTooBig) {
		t.Fatalf("send after: %v", err)
	}
}

func TestReadLimitOption(t *testing.T) {
	const limit = 1024
	srv := testutil.NewServer(t, func(c *testutil.Conn) {
		_ = c.SendBinary(make([]byte, limit))
		_ = c.SendBinary(make([]byte, limit+1))
		<-c.Done()
	})
	_, w := connectTo(t, srv.URL, []rxws.ConnectOption{rxws.WithReadLimit(limit)})
	if r := w.next(); len(r.Bytes()) != limit {
		t.Fatalf("a message at the limit: %d bytes", len(r.Bytes()))
	}
	var tb *rxws.MessageTooBigError
	if end := w.end(); !errors.As(end, &tb) || tb.Limit != limit {
		t.Fatalf("got %v", end)
	}
}

func TestWriteTimeoutWhenPeerStopsReading(t *testing.T) {
	srv := testutil.NewRawServer(t, func(c *testutil.RawConn) {
		if c.Upgrade() != nil {
			return
		}
		// A small receive window fills the pipe sooner; then read nothing.
		_ = c.Conn.(*net.TCPConn).SetReadBuffer(4096)
		<-c.Done()
	})
	const timeout = 100 * time.Millisecond
	m, w := connectTo(t, srv.URL+"/feed?key=secret", []rxws.ConnectOption{rxws.WithWriteTimeout(timeout)})
	ctx := testCtx(t)
	chunk := rxws.BinaryRequest(make([]byte, 1<<20))
	var err error
	for i := 0; i < 1024 && err == nil; i++ { // the kernel's buffers hold a few MiB at most
		err = m.Send(ctx, chunk)
	}
	var te *rxws.TimeoutError
	if !errors.As(err, &te) || te.Op != "write" || te.After != timeout || !te.Timeout() ||
		!errors.Is(err, rxws.ErrWriteTimeout) || !errors.Is(err, os.ErrDeadlineExceeded) ||
		errors.Is(err, rxws.ErrHandshakeTimeout) || errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %T %v", err, err)
	}
	t.Log(err)
	if msg := err.Error(); !strings.Contains(msg, srv.URL+"/feed") || strings.Contains(msg, "secret") {
		t.Fatalf("message %q", msg)
	}
	// The failed write ended the connection; its observers see why.
	if err := w.end(); !errors.Is(err, rxws.ErrWriteTimeout) || !errors.Is(err, rxws.ErrClosed) {
		t.Fatalf("observers saw %v", err)
	}
}

// A server that accepts and never answers, over ws and over wss (where the
// TLS handshake is what times out: crypto/tls then returns the dial's
// context error, which must not pass for the caller's).
func TestHandshakeTimeoutOnSilentServer(t *testing.T) {
	for _, scheme := range []string{"ws", "wss"} {
		t.Run(scheme, func(t *testing.T) { handshakeTimeoutOnSilentServer(t, scheme) })
	}
}

func handshakeTimeoutOnSilentServer(t *testing.T, scheme string) {
	srv := testutil.NewRawServer(t, func(c *testutil.RawConn) { <-c.Done() }) // accepts, never answers
	url := scheme + strings.TrimPrefix(srv.URL, "ws")
	m := rxws.NewManager(nil)
	const timeout = 50 * time.Millisecond
	err := m.Connect(testCtx(t), url+"/feed?token=secret", rxws.WithHandshakeTimeout(timeout))
	var te *rxws.TimeoutError
	if !errors.As(err, &te) || te.Op != "handshake" || te.URL != url+"/feed?…" || te.After != timeout ||
		!errors.Is(err, rxws.ErrHandshakeTimeout) || !errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, rxws.ErrWriteTimeout) ||
		errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %T %v", err, err)
	}
	t.Log(err)
	if msg := err.Error(); !strings.Contains(msg, url+"/feed") || strings.Contains(msg, "secret") {
		t.Fatalf("message %q", msg)
	}
	if m.Connected() {
		t.Fatal("connected")
	}
}

// Disconnect while Connect waits for the handshake: Connect gives up with
// ErrDisconnected, the manager stays disconnected, and a later Connect works.
func TestDisconnectDuringConnect(t *testing.T) {
	arrived := make(chan struct{})
	var conns atomic.Int32
	srv := testutil.NewRawServer(t, func(c *testutil.RawConn) {
		if conns.Add(1) == 1 {
			close(arrived)
			<-c.Done() // the first client: never answered
			return
		}
		if c.Upgrade() == nil {
			_, _ = c.ReadUntilClose()
		}
	})
	m := rxws.NewManager(nil)
	done := make(chan error, 1)
	go func() { done <- m.Connect(testCtx(t), srv.URL) }()
	<-arrived
	if err := m.Disconnect(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	err := <-done
	if !errors.Is(err, rxws.ErrDisconnected) || errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), srv.URL) {
		t.Fatalf("Connect returned %v, want ErrDisconnected naming %s", err, srv.URL)
	}
	if m.Connected() {
		t.Fatal("connected after Disconnect")
	}
	if err := m.Connect(testCtx(t), srv.URL); err != nil {
		t.Fatal(err)
	}
	if err := m.Disconnect(testCtx(t)); err != nil {
		t.Fatal(err)
	}
}

// Connect's context ends while the server sits on the handshake: Connect
// returns at once with the context's error (gorilla's dial alone would wait
// for the handshake timeout: it watches only a context's deadline).
func TestConnectCancelledDuringTheHandshake(t *testing.T) {
	arrived := make(chan struct{})
	var once sync.Once
	srv := testutil.NewRawServer(t, func(c *testutil.RawConn) {
		once.Do(func() { close(arrived) })
		<-c.Done() // never answers
	})
	m := rxws.NewManager(nil)
	// No deadline: gorilla would use it as the handshake's.
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Connect(ctx, srv.URL, rxws.WithHandshakeTimeout(time.Hour)) }()
	<-arrived
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Connect returned %v, want context.Canceled", err)
		}
	case <-testCtx(t).Done():
		t.Fatal("Connect did not return when its context was cancelled")
	}
	if m.Connected() {
		t.Fatal("connected")
	}
}

// pastDeadline is a context whose deadline has passed but whose own timer
// has not yet ended it: the moment in which the socket's deadline (ctx's)
// can fire first.
type pastDeadline struct{ context.Context }

func (pastDeadline) Deadline() (time.Time, bool) { return time.Now().Add(-time.Millisecond), true }

// A Connect whose ctx deadline passes fails with ctx's error, whichever of
// ctx's timer and the socket's deadline (the same instant) fires first, not
// with a handshake timeout that was never reached.
func TestConnectPastItsDeadlineFailsWithTheContextsError(t *testing.T) {
	srv := testutil.NewServer(t, testutil.Hold)
	err := rxws.NewManager(nil).Connect(pastDeadline{context.Background()}, srv.URL)
	var te *rxws.TimeoutError
	if !errors.Is(err, context.DeadlineExceeded) || errors.As(err, &te) {
		t.Fatalf("Connect = %v, want context.DeadlineExceeded and no *TimeoutError", err)
	}
	for i := range 100 { // real deadlines, racing the handshake
		m := rxws.NewManager(nil)
		ctx, cancel := context.WithTimeout(context.Background(), time.Duration(i%30)*100*time.Microsecond)
		err := m.Connect(ctx, srv.URL)
		cancel()
		if err == nil {
			_ = m.Disconnect(context.Background())
		} else if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Connect %d: %v, want context.DeadlineExceeded", i, err)
		}
	}
}

func TestHandshakeRefused(t *testing.T) {
	srv := testutil.NewServer(t, testutil.Echo)
	long := strings.Repeat("x", 2000)
	for _, tc := range []struct {
		status int
		body   string
		want   string
	}{
		{http.StatusUnauthorized, `{"error":"invalid api key"}`, `{"error":"invalid api key"}`},
		{http.StatusForbidden, "forbidden: ip not allowed", "forbidden: ip not allowed"},
		{http.StatusInternalServerError, long, long[:512]}, // the first bytes only
		{http.StatusServiceUnavailable, "", ""},
	} {
		srv.RefuseNext(1, tc.status, tc.body)
		err := rxws.NewManager(nil).Connect(testCtx(t), srv.URL+"/ws?apikey=secret")
		var he *rxws.HandshakeError
		if !errors.As(err, &he) || he.StatusCode != tc.status || he.Body != tc.want ||
			!strings.HasPrefix(he.Status, fmt.Sprint(tc.status)) || !errors.Is(err, websocket.ErrBadHandshake) {
			t.Errorf("%d: got %T %v", tc.status, err, err)
			continue
		}
		if msg := err.Error(); !strings.Contains(msg, fmt.Sprint(tc.status)) || strings.Contains(msg, "secret") {
			t.Errorf("%d: message %q", tc.status, msg)
		}
	}
}

// closeWith returns a raw handler that upgrades, writes frame and then
// reports the close code the client answers with.
func closeWith(frame func(c *testutil.RawConn) error, answered chan<- int) testutil.RawHandler {
	return func(c *testutil.RawConn) {
		if c.Upgrade() != nil || frame(c) != nil {
			answered <- -1
			return
		}
		f, err := c.ReadUntilClose()
		if err != nil {
			answered <- -1
			return
		}
		answered <- f.Code()
	}
}

func TestReservedCloseCodes(t *testing.T) {
	// RFC 6455 7.4: 1004 is reserved, 1005, 1006 and 1015 must never be
	// sent, 0-999 are not used, 1014-2999 are for later standards, 5000 up
	// do not exist. gorilla fails the connection on each with 1002.
	for _, code := range []uint16{0, 999, 1004, 1005, 1006, 1014, 1015, 1016, 2999, 5000, 65535} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			answered := make(chan int, 1)
			srv := testutil.NewRawServer(t, closeWith(func(c *testutil.RawConn) error {
				return c.WriteClose(code, "bye")
			}, answered))
			_, w := connectTo(t, srv.URL, nil)
			end := w.end()
			closeErr(t, end, websocket.CloseProtocolError)
			var pe *rxws.ProtocolError
			if !errors.As(end, &pe) || !errors.Is(end, rxws.ErrProtocol) || !strings.Contains(end.Error(), fmt.Sprintf("bad close code %d", code)) {
				t.Fatalf("got %v", end)
			}
			if got := <-answered; got != websocket.CloseProtocolError {
				t.Fatalf("client answered close code %d, want 1002", got)
			}
		})
	}
}

func TestOtherProtocolViolations(t *testing.T) {
	for name, tc := range map[string]struct {
		frame func(c *testutil.RawConn) error
		want  string
	}{
		"reserved bits":              {func(c *testutil.RawConn) error { return c.WriteFrame(0xC1, []byte("x")) }, "RSV1 set"},
		"unknown opcode":             {func(c *testutil.RawConn) error { return c.WriteFrame(0x83, []byte("x")) }, "bad opcode 3"},
		"fragmented ping":            {func(c *testutil.RawConn) error { return c.WriteFrame(0x09, []byte("x")) }, "FIN not set on control"},
		"invalid UTF-8 close reason": {func(c *testutil.RawConn) error { return c.WriteClose(4000, "\xff\xfe") }, "invalid utf8"},
	} {
		t.Run(name, func(t *testing.T) {
			answered := make(chan int, 1)
			srv := testutil.NewRawServer(t, closeWith(tc.frame, answered))
			_, w := connectTo(t, srv.URL, nil)
			end := w.end()
			closeErr(t, end, websocket.CloseProtocolError)
			if !errors.Is(end, rxws.ErrProtocol) || !strings.Contains(end.Error(), tc.want) {
				t.Fatalf("got %v", end)
			}
			if got := <-answered; got != websocket.CloseProtocolError {
				t.Fatalf("client answered close code %d, want 1002", got)
			}
		})
	}
}

func TestCloseFrameWithoutCode(t *testing.T) {
	answered := make(chan int, 1)
	srv := testutil.NewRawServer(t, closeWith(func(c *testutil.RawConn) error { return c.WriteFrame(0x88, nil) }, answered))
	_, w := connectTo(t, srv.URL, nil)
	end := w.end()
	// An empty close frame is legal: "no status" (1005), not a violation.
	closeErr(t, end, websocket.CloseNoStatusReceived)
	if errors.Is(end, rxws.ErrProtocol) {
		t.Fatalf("got %v", end)
	}
	<-answered
}

func TestServerDiesMidFrame(t *testing.T) {
	for name, die := range map[string]func(c *testutil.RawConn) error{
		"in the payload": func(c *testutil.RawConn) error {
			if err := c.WriteHeader(0x81, 100); err != nil {
				return err
			}
			_, err := c.Write([]byte("only ten b"))
			return err
		},
		"in the header": func(c *testutil.RawConn) error {
			_, err := c.Write([]byte{0x82, 127, 0, 0})
			return err
		},
	} {
		t.Run(name, func(t *testing.T) {
			srv := testutil.NewRawServer(t, func(c *testutil.RawConn) {
				if c.Upgrade() == nil && c.WriteFrame(0x81, []byte("whole")) == nil {
					_ = die(c)
				} // returning closes the TCP connection
			})
			_, w := connectTo(t, srv.URL, nil)
			if r := w.next(); r.Data() != "whole" {
				t.Fatalf("got %v", r)
			}
			end := w.end()
			closeErr(t, end, websocket.CloseAbnormalClosure)
			if !errors.Is(end, io.ErrUnexpectedEOF) || errors.Is(end, rxws.ErrProtocol) {
				t.Fatalf("got %v", end)
			}
		})
	}
}

// gorilla v1.5.3 does not check that text frames hold UTF-8 (RFC 6455 8.1
// says the client should fail the connection with 1007). rxpype chooses to
// deliver such a frame rather than drop a feed over one bad byte: Bytes
// keeps the payload exactly, Data is the payload as a Go string (not
// valid UTF-8); JSON with bad bytes is not valid JSON (json.Valid checks
// UTF-8), so it too stays a string.
func TestInvalidUTF8TextFrameIsDelivered(t *testing.T) {
	bad := []byte("price\xff\xfe")
	badJSON := []byte(`{"s":"a\xffb"}`)
	srv := testutil.NewServer(t, func(c *testutil.Conn) {
		_ = c.Send(websocket.TextMessage, bad)
		_ = c.Send(websocket.TextMessage, badJSON)
		testutil.Echo(c)
	})
	m, w := connectTo(t, srv.URL, nil)
	r := w.next()
	if r.Kind() != rxws.KindText || !bytes.Equal(r.Bytes(), bad) || r.Data() != string(bad) {
		t.Fatalf("got %v %q", r.Kind(), r.Data())
	}
	r = w.next()
	if r.Data() != string(badJSON) || !bytes.Equal(r.Bytes(), badJSON) {
		t.Fatalf("got %#v", r.Data())
	}
	// The connection goes on.
	if err := m.Send(testCtx(t), rxws.TextRequest("still here")); err != nil {
		t.Fatal(err)
	}
	if r := w.next(); r.Data() != "still here" {
		t.Fatalf("got %v", r)
	}
}

// The server closes while the client is sending. gorilla answers the close
// at once, and a Send written after that fails with ErrCloseSent: the
// stream must still end with the server's close (its code and reason, or no
// error for 1000), not with a 1006 made of that refused write.
func TestPeerCloseWhileSendingKeepsTheCloseCode(t *testing.T) {
	for _, code := range []int{4001, websocket.CloseNormalClosure} {
		for i := range 50 {
			srv := testutil.NewServer(t, func(c *testutil.Conn) {
				if _, err := c.Recv(context.Background()); err == nil {
					_ = c.CloseWith(code, "bye")
				}
			})
			m, w := connectTo(t, srv.URL, nil)
			sent := make(chan struct{})
			go func() {
				defer close(sent)
				for m.Send(testCtx(t), rxws.TextRequest("tick")) == nil {
				}
			}()
			var end error
			for it := range w.items {
				if it.E != nil {
					end = it.E
				}
			}
			<-sent
			if code == websocket.CloseNormalClosure {
				if end != nil {
					t.Fatalf("close %d, run %d: the stream ended with %v", code, i, end)
				}
			} else if ce := closeErr(t, end, code); ce.Reason != "bye" {
				t.Fatalf("close %d, run %d: reason %q", code, i, ce.Reason)
			}
			_ = m.Disconnect(context.Background())
			srv.Close()
		}
	}
}

// Sends racing Disconnect: once its close frame is out, the rest are
// refused (ErrNotConnected), but the socket stays open until the close
// handshake ends, so every frame whose Send returned nil reaches the server.
// Closing it at the first refused write made the kernel reset the
// connection, and the server lose frames it had not read yet.
func TestSendsRacingDisconnectLoseNoWrittenFrame(t *testing.T) {
	srv := testutil.NewServer(t, testutil.Echo)
	for trial := range 20 {
		m := rxws.NewManager(nil)
		if err := m.Connect(testCtx(t), srv.URL); err != nil {
			t.Fatal(err)
		}
		var mu sync.Mutex
		var ok []string
		var wg sync.WaitGroup
		started := make(chan struct{}, 4)
		for g := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; ; i++ {
					p := fmt.Sprintf("t%d-g%d-%d", trial, g, i)
					if err := m.Send(testCtx(t), rxws.TextRequest(p)); err != nil {
						if !errors.Is(err, rxws.ErrNotConnected) {
							t.Errorf("send after Disconnect: %v, want ErrNotConnected", err)
						}
						return
					}
					mu.Lock()
					ok = append(ok, p)
					mu.Unlock()
					if i == 20 {
						started <- struct{}{}
					}
				}
			}()
		}
		for range 4 {
			<-started
		}
		if err := m.Disconnect(testCtx(t)); err != nil {
			t.Fatal(err)
		}
		wg.Wait()
		c := srv.Conn(trial)
		<-c.Done()
		got := map[string]bool{}
		for _, f := range c.Frames() {
			if f.IsData() {
				got[string(f.Data)] = true
			}
		}
		for _, p := range ok {
			if !got[p] {
				t.Fatalf("trial %d: %q was sent (Send returned nil) but the server never got it; the server saw %v", trial, p, c.Err())
			}
		}
	}
}
