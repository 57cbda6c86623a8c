// Package testutil provides a real loopback WebSocket server for the tests of
// rxpype.
//
// A Server listens on 127.0.0.1 with a kernel-chosen port and speaks the
// WebSocket protocol through gorilla/websocket. Every accepted connection is
// handed to a Handler in its own goroutine, and a background read loop records
// every frame the client sends (data and control frames, in order) so tests can
// assert on them. Fault switches refuse handshakes, stop answering pings, close
// with a chosen code or drop the TCP connection without a close frame.
//
// Nothing here sleeps: waiting is done on channels and contexts. Real-time
// deadlines appear only as safety nets that bound a wait on a misbehaving
// client (see SafetyTimeout). Close ends every goroutine the server started,
// so tests can verify with goleak.
package testutil

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// SafetyTimeout bounds the real-time waits that protect the server against a
// client that never answers: waiting for the client's close reply, writing a
// control frame and Server.Conn waiting for a connection. It is a safety net,
// not a synchronisation mechanism; correct tests never reach it.
const SafetyTimeout = 5 * time.Second

// ErrServerClosed is returned by Server.WaitConn once the server is closed.
var ErrServerClosed = errors.New("testutil: server closed")

// Handler serves one accepted WebSocket connection. It runs once per
// connection, in its own goroutine. When it returns, the server closes the
// connection (a close frame with code 1000, a bounded wait for the client's
// close reply, then TCP close) unless the handler already closed it with
// Conn.CloseWith or Conn.Drop.
//
// A handler that blocks must return once the connection ends (Conn.Done is
// closed, or Conn.Recv and the Send methods fail), otherwise Server.Close
// waits for it forever.
type Handler func(c *Conn)

// Server is a loopback WebSocket server for tests. Create it with NewServer.
// All methods are safe for concurrent use.
type Server struct {
	// URL is the server's WebSocket address, ws://127.0.0.1:PORT.
	URL string

	t        testing.TB
	h        Handler
	hs       *httptest.Server
	upgrader websocket.Upgrader

	answerPings atomic.Bool
	sent        atomic.Int64
	attempts    atomic.Int64

	wg        sync.WaitGroup // handler goroutines and read loops
	closeOnce sync.Once

	mu           sync.Mutex
	closed       bool
	conns        []*Conn
	changed      chan struct{} // closed and replaced when conns or closed change
	refuseN      int
	refuseStatus int
	refuseBody   string
}

// NewServer starts a server on 127.0.0.1 with a free port that serves every
// accepted connection with h. A nil h means Hold. It registers t.Cleanup(s.Close).
func NewServer(t testing.TB, h Handler) *Server {
	t.Helper()
	return NewServerWith(t, h, ServerConfig{})
}

// Close stops the listener, closes every live connection abruptly (TCP close,
// no close frame) and waits until every handler and read loop has returned.
// It is idempotent; concurrent callers all wait for the shutdown to finish.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		conns := append([]*Conn(nil), s.conns...)
		s.notifyLocked()
		s.mu.Unlock()

		for _, c := range conns {
			c.Drop()
		}
		s.hs.Close()
		s.wg.Wait()
	})
}

// Conns returns the number of connections accepted (upgraded) so far.
// Refused handshakes are not counted.
func (s *Server) Conns() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// Attempts returns the number of HTTP requests the server has received so far,
// refused handshakes included.
func (s *Server) Attempts() int {
	return int(s.attempts.Load())
}

// Conn returns the i-th accepted connection (0-based), waiting up to
// SafetyTimeout for it to be accepted. The client's Dial may return before the
// server has registered the connection, so tests should use Conn or WaitConn
// rather than checking Conns. If the connection does not appear, Conn reports
// an error on the test and returns nil.
func (s *Server) Conn(i int) *Conn {
	ctx, cancel := context.WithTimeout(context.Background(), SafetyTimeout)
	defer cancel()
	c, err := s.WaitConn(ctx, i)
	if err != nil {
		s.t.Errorf("testutil: Conn(%d): %v", i, err)
		return nil
	}
	return c
}

// WaitConn waits until the i-th connection (0-based) has been accepted and
// returns it. It fails with ctx's error, or ErrServerClosed if the server is
// closed before that connection is accepted.
func (s *Server) WaitConn(ctx context.Context, i int) (*Conn, error) {
	if i < 0 {
		return nil, fmt.Errorf("testutil: negative connection index %d", i)
	}
	for {
		s.mu.Lock()
		if i < len(s.conns) {
			c := s.conns[i]
			s.mu.Unlock()
			return c, nil
		}
		closed, ch := s.closed, s.changed
		s.mu.Unlock()
		if closed {
			return nil, ErrServerClosed
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// Received returns, per accepted connection in accept order, every frame the
// server has received on it so far (data and control frames, in order).
// The frames' Data must not be modified.
func (s *Server) Received() [][]Frame {
	s.mu.Lock()
	conns := append([]*Conn(nil), s.conns...)
	s.mu.Unlock()
	out := make([][]Frame, len(conns))
	for i, c := range conns {
		out[i] = c.Frames()
	}
	return out
}

// RefuseNext makes the server answer the next n handshakes with the HTTP
// status and body given (for example 401 and "bad key") instead of upgrading.
// It replaces any refusals still pending.
func (s *Server) RefuseNext(n int, status int, body string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refuseN, s.refuseStatus, s.refuseBody = n, status, body
}

// SetAnswerPings controls whether the server answers the client's pings with
// pongs (the default) or only records them, as a dead peer would.
// It applies to live connections at once.
func (s *Server) SetAnswerPings(on bool) {
	s.answerPings.Store(on)
}

// Sent returns the total number of data frames the server has written, over
// all connections. A frame is counted when its write starts and uncounted if
// the write fails, so every frame a client has read is already counted, and a
// write blocked by a client that does not read counts once.
func (s *Server) Sent() int64 {
	return s.sent.Load()
}

// notifyLocked wakes every WaitConn. s.mu must be held.
func (s *Server) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	s.attempts.Add(1)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		http.Error(w, "testutil: server closed", http.StatusServiceUnavailable)
		return
	}
	if s.refuseN > 0 {
		s.refuseN--
		status, body := s.refuseStatus, s.refuseBody
		s.mu.Unlock()
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
		return
	}
	// Counted under s.mu while !closed, so Close's Wait never races this Add.
	s.wg.Add(1)
	s.mu.Unlock()
	defer s.wg.Done()

	ws, err := s.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // Upgrade has already answered with an HTTP error.
	}
	c := newConn(s, ws, r)

	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		_ = ws.Close()
		return
	}
	c.index = len(s.conns)
	s.conns = append(s.conns, c)
	s.wg.Add(1) // the read loop
	s.notifyLocked()
	s.mu.Unlock()

	go c.readLoop()
	defer c.finish()
	defer func() {
		if p := recover(); p != nil {
			s.t.Errorf("testutil: handler panicked on conn %d: %v\n%s", c.index, p, debug.Stack())
		}
	}()
	s.h(c)
}
