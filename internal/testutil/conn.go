package testutil

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// Frame is one frame the server received.
type Frame struct {
	// Type is websocket.TextMessage, BinaryMessage, PingMessage,
	// PongMessage or CloseMessage.
	Type int
	// Data is the payload: the message for data frames, the application
	// data for pings and pongs, the reason text for close frames.
	Data []byte
	// Code is the close code of a close frame (websocket.CloseNoStatusReceived
	// if the frame carried none); 0 for other frames.
	Code int
}

// IsData reports whether f is a data frame (text or binary).
func (f Frame) IsData() bool {
	return f.Type == websocket.TextMessage || f.Type == websocket.BinaryMessage
}

// Conn is the server side of one accepted WebSocket connection.
// All methods are safe for concurrent use.
type Conn struct {
	srv   *Server
	ws    *websocket.Conn
	req   *http.Request
	index int

	wmu sync.Mutex // serializes data writes (gorilla allows one writer)

	mu       sync.Mutex
	frames   []Frame // every frame, in order
	data     []Frame // data frames only, in order
	next     int     // next data frame for Recv
	pongs    [][]byte
	nextPong int // next pong for WaitPong
	changed  chan struct{}
	err      error // why the read loop ended
	closing  bool  // CloseWith, Drop or finish has started
	done     chan struct{}
}

func newConn(s *Server, ws *websocket.Conn, r *http.Request) *Conn {
	c := &Conn{
		srv:     s,
		ws:      ws,
		req:     r.Clone(context.Background()),
		changed: make(chan struct{}),
		done:    make(chan struct{}),
	}
	// Handlers are read-side state: install them before the read loop starts.
	ws.SetPingHandler(func(app string) error {
		c.record(Frame{Type: websocket.PingMessage, Data: []byte(app)})
		if !s.answerPings.Load() {
			return nil
		}
		err := ws.WriteControl(websocket.PongMessage, []byte(app), time.Now().Add(SafetyTimeout))
		var ne net.Error
		if err == nil || errors.Is(err, websocket.ErrCloseSent) || (errors.As(err, &ne) && ne.Timeout()) {
			return nil
		}
		return err
	})
	ws.SetPongHandler(func(app string) error {
		c.record(Frame{Type: websocket.PongMessage, Data: []byte(app)})
		return nil
	})
	ws.SetCloseHandler(func(code int, text string) error {
		c.record(Frame{Type: websocket.CloseMessage, Data: []byte(text), Code: code})
		// Reply like gorilla's default handler; ErrCloseSent if we closed first.
		_ = ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, ""), time.Now().Add(SafetyTimeout))
		return nil
	})
	return c
}

// Index returns the connection's position in accept order (0-based).
func (c *Conn) Index() int { return c.index }

// Request returns a copy of the client's handshake request (method, URL,
// headers). Its body is empty.
func (c *Conn) Request() *http.Request { return c.req }

// Recv returns the next data frame received that no earlier Recv returned.
// Frames queue without bound until taken. Once the queue is empty and the read
// loop has ended (the client closed, or the connection broke or was closed),
// Recv returns the read loop's error, e.g. a *websocket.CloseError. It also
// returns ctx's error if ctx ends first.
func (c *Conn) Recv(ctx context.Context) (Frame, error) {
	var f Frame
	err := c.waitFor(ctx, func() bool {
		if c.next < len(c.data) {
			f = c.data[c.next]
			c.next++
			return true
		}
		return false
	})
	return f, err
}

// waitFor calls check with c.mu held until it reports true, and otherwise
// waits for the next frame. It returns nil once check is satisfied, the read
// loop's error once that has ended, or ctx's error.
func (c *Conn) waitFor(ctx context.Context, check func() bool) error {
	for {
		c.mu.Lock()
		if check() {
			c.mu.Unlock()
			return nil
		}
		err, ch := c.err, c.changed
		c.mu.Unlock()
		if err != nil {
			return err
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Frames returns every frame received on this connection so far, data and
// control frames, in order. The frames' Data must not be modified.
func (c *Conn) Frames() []Frame {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Frame(nil), c.frames...)
}

// WaitFrames waits until at least n data frames have been received in total
// (whether or not Recv took them) and returns all data frames received so far.
// If the read loop ends or ctx ends first, it returns the data frames received
// so far with the read loop's or ctx's error.
func (c *Conn) WaitFrames(ctx context.Context, n int) ([]Frame, error) {
	var got []Frame
	err := c.waitFor(ctx, func() bool {
		got = append(got[:0], c.data...)
		return len(got) >= n
	})
	return got, err
}

// WaitPong waits for the next pong received that no earlier WaitPong returned
// and returns its application data. It fails with the read loop's error once
// the read loop has ended with no pong pending, or with ctx's error.
func (c *Conn) WaitPong(ctx context.Context) ([]byte, error) {
	var p []byte
	err := c.waitFor(ctx, func() bool {
		if c.nextPong < len(c.pongs) {
			p = c.pongs[c.nextPong]
			c.nextPong++
			return true
		}
		return false
	})
	return p, err
}

// Send writes one data message of type mt (websocket.TextMessage or
// websocket.BinaryMessage).
func (c *Conn) Send(mt int, data []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.srv.sent.Add(1) // before the write, so a frame the client has read is counted
	if err := c.ws.WriteMessage(mt, data); err != nil {
		c.srv.sent.Add(-1)
		return err
	}
	return nil
}

// SendText writes s as a text frame.
func (c *Conn) SendText(s string) error {
	return c.Send(websocket.TextMessage, []byte(s))
}

// SendBinary writes b as a binary frame.
func (c *Conn) SendBinary(b []byte) error {
	return c.Send(websocket.BinaryMessage, b)
}

// SendJSON writes the JSON encoding of v as a text frame.
func (c *Conn) SendJSON(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return c.Send(websocket.TextMessage, b)
}

// SendPrepared writes a prepared message; the fast path for bulk sends of the
// same payload.
func (c *Conn) SendPrepared(pm *websocket.PreparedMessage) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.srv.sent.Add(1)
	if err := c.ws.WritePreparedMessage(pm); err != nil {
		c.srv.sent.Add(-1)
		return err
	}
	return nil
}

// Ping sends a ping with the given application data (at most 125 bytes).
// The client's answer is seen through WaitPong and Frames.
func (c *Conn) Ping(data string) error {
	return c.ws.WriteControl(websocket.PingMessage, []byte(data), time.Now().Add(SafetyTimeout))
}

// CloseWith sends a close frame with code and reason, waits for the client's
// close reply (at most SafetyTimeout), then closes the TCP connection and waits
// for the read loop to end. It returns the error of writing the close frame
// (websocket.ErrCloseSent if a close frame was already sent, for example in
// reply to the client's). Calling it after the connection is closing is a no-op
// that returns net.ErrClosed.
func (c *Conn) CloseWith(code int, reason string) error {
	if !c.startClosing() {
		<-c.done
		return net.ErrClosed
	}
	err := c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), time.Now().Add(SafetyTimeout))
	if err == nil {
		c.awaitReadEnd()
	}
	_ = c.ws.Close()
	<-c.done
	return err
}

// Drop closes the TCP connection abruptly, without a close frame, and waits
// for the read loop to end. It is idempotent.
func (c *Conn) Drop() {
	c.startClosing()
	_ = c.ws.Close()
	<-c.done
}

// Done returns a channel that is closed when the connection's read loop has
// ended: the client closed, the connection broke, or the server closed it.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Err returns why the read loop ended (e.g. a *websocket.CloseError carrying
// the client's close code), or nil while it is still running.
func (c *Conn) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// startClosing marks the connection as closing and reports whether the caller
// is the first to do so.
func (c *Conn) startClosing() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	first := !c.closing
	c.closing = true
	return first
}

// awaitReadEnd waits for the read loop to end, at most SafetyTimeout.
func (c *Conn) awaitReadEnd() {
	t := time.NewTimer(SafetyTimeout)
	defer t.Stop()
	select {
	case <-c.done:
	case <-t.C:
	}
}

// finish runs when the handler returns: close normally unless the handler
// already closed the connection.
func (c *Conn) finish() {
	if !c.startClosing() {
		return
	}
	select {
	case <-c.done: // the client closed or the connection broke
	default:
		err := c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(SafetyTimeout))
		if err == nil {
			c.awaitReadEnd()
		}
	}
	_ = c.ws.Close()
	<-c.done
}

func (c *Conn) readLoop() {
	defer c.srv.wg.Done()
	for {
		mt, data, err := c.ws.ReadMessage()
		if err != nil {
			c.mu.Lock()
			c.err = err
			close(c.done)
			c.notifyLocked()
			c.mu.Unlock()
			return
		}
		c.record(Frame{Type: mt, Data: data})
	}
}

func (c *Conn) record(f Frame) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.frames = append(c.frames, f)
	switch {
	case f.IsData():
		c.data = append(c.data, f)
	case f.Type == websocket.PongMessage:
		c.pongs = append(c.pongs, f.Data)
	}
	c.notifyLocked()
}

// notifyLocked wakes every waiter. c.mu must be held.
func (c *Conn) notifyLocked() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// WaitCount waits until at least n frames of message type mt (data or
// control) have been received and returns how many there are. If the read
// loop or ctx ends first, it returns the count so far with that error.
func (c *Conn) WaitCount(ctx context.Context, mt, n int) (int, error) {
	got := 0
	err := c.waitFor(ctx, func() bool {
		got = 0
		for _, f := range c.frames {
			if f.Type == mt {
				got++
			}
		}
		return got >= n
	})
	return got, err
}
