package rxws

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/reactivex/rxgo/v2"
	"github.com/rxpype/rxpype/operators"
	"github.com/rxpype/rxpype/source"
)

// Manager is a WebSocket client whose incoming messages are a hot stream
// and whose sends go through an ordered pipeline to a single writer.
//
// One Manager holds at most one connection at a time; Connect after
// Disconnect (or after the connection was lost) dials again. Its methods are
// safe for concurrent use.
type Manager struct {
	cfg  config
	conn *Connection
	post operators.Chain[*Response]

	mu         sync.Mutex
	sess       *session
	connecting bool
	msgs       *source.Subject[rxgo.Item]
	lastErr    error     // how the last session ended
	subs       []Request // requests passed to Subscribe, in order

	lastRecv atomic.Int64 // clock's UnixNano of the last data frame; unset is math.MinInt64
}

// NewManager returns an unconnected Manager on conn (nil means a new
// Connection with the same options).
func NewManager(conn *Connection, opts ...Option) *Manager {
	cfg := newConfig(opts)
	if conn == nil {
		conn = &Connection{clock: cfg.clock}
	}
	conn.useLogger(cfg.logger)
	m := &Manager{cfg: cfg, conn: conn, msgs: source.NewSubject[rxgo.Item]()}
	m.lastRecv.Store(math.MinInt64)
	for _, p := range cfg.post {
		m.post = append(m.post, func(ctx context.Context, r *Response) (*Response, bool, error) {
			out, err := p.PostProcess(ctx, r)
			return out, out != nil, err
		})
	}
	return m
}

// Connect dials url and starts the reader and the writer. It fails with
// ErrAlreadyConnected if the manager is connected or connecting, with an
// error wrapping ErrBadURL for a URL that is not ws:// or wss://, with a
// *HandshakeError if the server refuses the upgrade, and with ctx's error
// if ctx ends first.
func (m *Manager) Connect(ctx context.Context, url string, opts ...ConnectOption) error {
	m.mu.Lock()
	if m.sess != nil || m.connecting {
		m.mu.Unlock()
		return ErrAlreadyConnected
	}
	m.connecting = true
	m.mu.Unlock()

	cfg := newConnectConfig(opts)
	ws, err := m.conn.dial(ctx, url, cfg)

	m.mu.Lock()
	defer m.mu.Unlock()
	m.connecting = false
	if err != nil {
		return err
	}
	m.sess = m.start(ws, cfg)
	return nil
}

// Connected reports whether the manager has a live connection.
func (m *Manager) Connected() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.sess != nil
}

// Disconnect sends a normal close frame (1000), waits briefly for the peer's
// close frame, closes the socket and waits until every goroutine of the
// connection has ended. Observers of Messages and IterMessages complete
// without an error. It is a no-op on a manager that is not connected, so it
// is safe to call twice. It returns ctx's error if ctx ends first; the
// connection is closed either way.
func (m *Manager) Disconnect(ctx context.Context) error {
	m.mu.Lock()
	s := m.sess
	m.mu.Unlock()
	if s == nil {
		return nil
	}
	if s.planned.CompareAndSwap(false, true) {
		s.quiet()
		err := s.ws.WriteControl(websocket.CloseMessage,
			websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(closeWait))
		if err == nil {
			// A wire deadline, like the handshake's: wall time, so that a mock
			// clock never leaves Disconnect waiting on a silent peer.
			t := time.NewTimer(closeWait)
			select {
			case <-s.readerDone:
			case <-t.C:
			case <-ctx.Done():
			}
			t.Stop()
		}
		s.stop(nil)
	}
	select {
	case <-s.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Send writes req and returns once the frame is written, or with the error
// that stopped it: a pre-processor's, auth's, the throttler's, the write's,
// or ctx's. Nothing is written when a processor or auth fails, or when ctx
// ends before the frame is handed to the socket. req is not changed.
func (m *Manager) Send(ctx context.Context, req Request) error {
	s, err := m.current()
	if err != nil {
		return err
	}
	return s.send(ctx, &envelope{ctx: ctx, req: req})
}

// Subscribe sends req like Send and, once it is written, remembers it as a
// subscription of this manager.
func (m *Manager) Subscribe(ctx context.Context, req Request) error {
	if err := m.Send(ctx, req); err != nil {
		return err
	}
	m.mu.Lock()
	m.subs = append(m.subs, req.clone())
	m.mu.Unlock()
	return nil
}

// Subscriptions returns the requests passed to Subscribe, in order.
func (m *Manager) Subscriptions() []Request {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Request, len(m.subs))
	for i, r := range m.subs {
		out[i] = r.clone()
	}
	return out
}

// Ping writes a ping frame through the writer, in order with sends.
func (m *Manager) Ping(ctx context.Context) error {
	s, err := m.current()
	if err != nil {
		return err
	}
	return s.send(ctx, &envelope{ctx: ctx, control: true, mt: websocket.PingMessage})
}

// Messages returns the incoming messages as a hot Observable: each item is a
// *Response, or an error (a post-processor's, which does not end the stream,
// or the one that ended the connection, which does). Every Observe attaches a
// new subscriber before it returns, and each sees every message from then
// on. A normal close completes the stream without an error.
//
// The Observable belongs to the connection current (or next) at the call.
// Each observer has a lossless buffer of source.DefaultBuffer messages; pass
// rxgo.WithContext and cancel it to leave, or the observer holds the reader
// once its buffer is full.
func (m *Manager) Messages(opts ...rxgo.Option) rxgo.Observable {
	return source.Items(m.stream(), source.Config{}, opts...)
}

// IterMessages yields every message received from the start of the
// iteration on. A post-processor's error is yielded with a nil response and
// iteration goes on; iteration ends after a normal close, or by yielding
// the error that ended the connection or ctx's error.
func (m *Manager) IterMessages(ctx context.Context) iter.Seq2[*Response, error] {
	return func(yield func(*Response, error) bool) {
		sub := m.stream().Subscribe(source.Config{})
		defer sub.Close()
		for {
			it, err := sub.Next(ctx)
			switch {
			case err == io.EOF:
				return
			case err != nil:
				yield(nil, err)
				return
			case it.E != nil:
				if !yield(nil, it.E) {
					return
				}
			default:
				if !yield(it.V.(*Response), nil) {
					return
				}
			}
		}
	}
}

// Receive returns the next message. With nobody else listening the reader
// waits for it, so a reply to a Send that came first is never lost. It
// returns io.EOF after a normal close, the connection's error after any
// other, and ErrNotConnected when there is no connection.
func (m *Manager) Receive(ctx context.Context) (*Response, error) {
	if _, err := m.current(); err != nil {
		return nil, err
	}
	sub := m.stream().Subscribe(source.Config{Once: true})
	defer sub.Close()
	it, err := sub.Next(ctx)
	if err != nil {
		return nil, err
	}
	if it.E != nil {
		return nil, it.E
	}
	return it.V.(*Response), nil
}

// LastRecvTime is the clock's time of the last data frame received, or the
// zero time before the first.
func (m *Manager) LastRecvTime() time.Time {
	n := m.lastRecv.Load()
	if n == math.MinInt64 {
		return time.Time{}
	}
	return time.Unix(0, n)
}

// current returns the live session, or ErrNotConnected saying why there is none.
func (m *Manager) current() (*session, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.sess == nil {
		return nil, m.notConnected()
	}
	return m.sess, nil
}

func (m *Manager) notConnected() error {
	if m.lastErr != nil {
		return fmt.Errorf("%w (%w)", ErrNotConnected, m.lastErr)
	}
	return ErrNotConnected
}

// stream returns the message Subject for the current or next connection.
func (m *Manager) stream() *source.Subject[rxgo.Item] {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.openStream()
}

func (m *Manager) openStream() *source.Subject[rxgo.Item] {
	select {
	case <-m.msgs.Done():
		if m.sess == nil {
			m.msgs = source.NewSubject[rxgo.Item]()
		}
	default:
	}
	return m.msgs
}

// ended is called by a session once all its goroutines are gone.
func (m *Manager) ended(s *session, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.sess == s {
		m.sess = nil
	}
	m.lastErr = err
	s.msgs.Close(err)
}

// classify turns what stopped a session into the error its observers see:
// nil for a planned disconnect or a normal close.
func classify(url string, planned bool, cause error) error {
	if planned || cause == nil {
		return nil
	}
	var ce *websocket.CloseError
	switch {
	case errors.As(cause, &ce):
		if ce.Code == websocket.CloseNormalClosure {
			return nil
		}
		return &CloseError{URL: url, Code: ce.Code, Reason: ce.Text}
	case errors.Is(cause, ErrPingTimeout), errors.Is(cause, ErrMessageTimeout), errors.Is(cause, ErrClosed):
		return cause
	}
	return &CloseError{URL: url, Code: websocket.CloseAbnormalClosure, Err: cause}
}
