package rxws

import (
	"context"
	"errors"
	"fmt"
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
	factory    *Factory // the Factory that made it, if any; it holds the manager while connected
	// abortConnect ends the dial of the Connect in flight; Disconnect
	// calls it and sets it to nil, which tells Connect to give up.
	abortConnect context.CancelFunc
	msgs         *source.Subject[rxgo.Item]
	lastErr      error          // why there is no connection: how the last one ended, or the last Connect failed
	subs         []subscription // requests passed to Subscribe, in order
	outage       chan struct{}  // non-nil while reconnecting; closed when it ends
	life         *lifetime      // the current Connect's, until the stream ends
	// carried is a message a connection received and nobody took before
	// it failed (see session.unread), for the next Receive or the next
	// connection's first listener; Connect and Disconnect drop it.
	carried *rxgo.Item // nil: none
	// owed is a message a connection handed to some subscribers but not
	// yet to others, whose full Block buffers held it back when it failed
	// (see session.rest): the next connection's reader finishes handing it
	// on before anything newer. Until then, or if the stream ends first,
	// nobody else may take it.
	owed *source.Rest[rxgo.Item]

	states *source.Subject[State]

	// epoch is the clock's time at NewManager. The times the manager keeps
	// are nanoseconds since it, so that comparing them uses the monotonic
	// clock: a step of the wall clock (NTP, a VM resumed) cannot stop or
	// stretch a timeout.
	epoch    time.Time
	lastRecv atomic.Int64 // since epoch, of the last data frame; unset is math.MinInt64
	lastAct  atomic.Int64 // the same for any frame
}

// NewManager returns an unconnected Manager on conn (nil means a new
// Connection with the same options).
func NewManager(conn *Connection, opts ...Option) *Manager {
	cfg := newConfig(opts)
	if conn == nil {
		conn = &Connection{}
	}
	conn.useLogger(cfg.logger)
	m := &Manager{cfg: cfg, conn: conn, msgs: source.NewSubject[rxgo.Item](), states: source.NewSubject[State]()}
	m.epoch = cfg.clock.Now()
	m.lastRecv.Store(math.MinInt64)
	m.lastAct.Store(math.MinInt64)
	for _, p := range cfg.post {
		m.post = append(m.post, func(ctx context.Context, r *Response) (*Response, bool, error) {
			out, err := p.PostProcess(ctx, r)
			return out, out != nil, err
		})
	}
	return m
}

// Connect dials url and starts the reader and the writer. It fails with
// ErrAlreadyConnected if the manager is connected, connecting or
// reconnecting, with an
// error wrapping ErrBadURL for a URL that is not ws:// or wss://, with a
// *HandshakeError if the server refuses the upgrade, with a *ProtocolError
// if its answer breaks the protocol (see ProtocolError), with ctx's error if
// ctx ends first, and with an error wrapping ErrDisconnected if Disconnect
// is called before it is done. A manager whose Factory was closed fails
// with ErrFactoryClosed.
func (m *Manager) Connect(ctx context.Context, url string, opts ...ConnectOption) error {
	// Options first: one that panics leaves the manager as it was.
	cfg := newConnectConfig(opts)
	m.mu.Lock()
	if m.factory != nil && !m.factory.enlist(m) {
		m.mu.Unlock()
		return ErrFactoryClosed
	}
	if m.sess != nil || m.connecting || m.outage != nil {
		m.mu.Unlock()
		return ErrAlreadyConnected // enlisted by its own Connect, still
	}
	_, shown, err := parseURL(url)
	if err != nil {
		m.leaveFactoryLocked()
		m.mu.Unlock()
		return err // nothing to dial, so no state to report
	}
	m.connecting = true
	m.subs = nil // remembered subscriptions belong to the Connect they were made under
	dialCtx, abort := context.WithCancel(ctx)
	defer abort()
	m.abortConnect = abort
	// States are emitted under m.mu, so that they come in the order of the
	// changes they report (another Connect, a session's end).
	m.emit(State{Kind: StateConnecting, URL: shown})
	m.mu.Unlock()

	ws, sock, err := m.conn.dial(dialCtx, url, cfg, m.cfg.clock)

	m.mu.Lock()
	m.connecting = false
	disconnected := m.abortConnect == nil
	m.abortConnect = nil
	if disconnected && (err == nil || errors.Is(err, context.Canceled) && ctx.Err() == nil) {
		if err == nil {
			_ = m.conn.close(ws)
		}
		err = fmt.Errorf("rxws: connect to %s: %w", shown, ErrDisconnected)
	}
	if err != nil {
		m.lastErr = err
		m.leaveFactoryLocked()
		m.emit(State{Kind: StateDisconnected, URL: shown, Cause: err})
		m.mu.Unlock()
		return err
	}
	m.lastErr = nil
	lt := newLifetime()
	m.life = lt
	m.carried = nil
	m.dropOwedLocked()
	s := m.start(ws, sock, cfg, url, lt, 0)
	close(s.ready)
	m.sess = s
	m.emit(State{Kind: StateConnected}) // before the state s's end emits, however soon
	m.mu.Unlock()
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
// connection has ended. A Connect in flight gives up, with an error
// wrapping ErrDisconnected, and leaves the manager disconnected. Observers
// of Messages and IterMessages complete without an error; those set up
// while no connection had been made wait for the next Connect (cancel
// their context to leave). It is a no-op on a manager that is not
// connected, so it is safe to call twice. It returns ctx's error if ctx
// ends first; the connection is closed either way.
//
// A processor (PreProcessor, PostProcessor, Auth) may call Disconnect with
// the ctx it was given, or one derived from it: Disconnect then closes the
// connection and returns without waiting for the connection's goroutines,
// one of which may be running the processor; they end once it returns.
// Called from a processor with another ctx, Disconnect waits for the
// processor itself until that ctx ends.
func (m *Manager) Disconnect(ctx context.Context) error {
	m.mu.Lock()
	s, lt := m.sess, m.life
	if m.abortConnect != nil { // a Connect in flight gives up
		m.abortConnect()
		m.abortConnect = nil
	}
	m.carried = nil
	m.dropOwedLocked()
	if lt != nil {
		// No reconnect from here on. Under m.mu, so that a reconnect whose
		// dial has just succeeded either installed its session before
		// (s is it) or finds life ended and closes its connection.
		lt.end()
	}
	m.mu.Unlock()
	if s == nil {
		if lt == nil {
			return nil
		}
		return lt.wait(ctx) // in an outage: its reconnect ends the stream
	}
	// From one of s's processors, with the ctx it was given: its goroutine
	// (or one waiting for it) cannot end before Disconnect returns.
	in, _ := ctx.Value(insideKey{}).(inside)
	within := in.s == s
	if s.planned.CompareAndSwap(false, true) {
		s.quiet()
		err := s.ws.WriteControl(websocket.CloseMessage,
			websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(closeWait))
		if err == nil && !(within && in.reader) { // the reader would see the peer's close
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
	if within {
		return nil // the connection's goroutines end once the processor returns
	}
	select {
	case <-s.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	if lt == nil { // not reached: a session always has a lifetime
		return nil
	}
	return lt.wait(ctx)
}

// lifetime is one Connect's span: across its reconnects, until Disconnect
// or the stream's end. Disconnect waits for its reconnects only, not for
// those of a Connect made after it.
type lifetime struct {
	ctx     context.Context
	end     context.CancelFunc
	retries sync.WaitGroup // its reconnect goroutines; none is added once ctx has ended
}

func newLifetime() *lifetime {
	lt := &lifetime{}
	lt.ctx, lt.end = context.WithCancel(context.Background())
	return lt
}

// wait returns once the lifetime's reconnects have ended, or with ctx's
// error. They end promptly once lt.ctx has: they wait on nothing else.
func (lt *lifetime) wait(ctx context.Context) error {
	done := make(chan struct{})
	go func() {
		lt.retries.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Send writes req and returns once the frame is written, or with the error
// that stopped it: a pre-processor's, auth's, the throttler's, the write's,
// or ctx's. Nothing is written when a processor or auth fails, or when ctx
// ends before the frame is handed to the socket. req is not changed:
// processors and auth work on a deep copy (see Request).
//
// When ctx ends while the request waits for the writer, Send returns at
// once. Once the writer has taken it, Send returns when the writer is done
// with it: the processors and auth are given ctx and the throttler's wait
// ends with it, so this is prompt unless a processor ignores ctx, or the
// frame is already being written: a write is not cut short (half a frame
// would break the connection), and only WithWriteTimeout bounds it, as
// when the peer stops reading. Either way nothing of the manager reads req
// after Send returns.
//
// During a reconnect outage Send waits for the next connection (and for the
// subscriptions to be sent again) until ctx ends, unless WithFailFast was
// given. A send that the lost connection never wrote goes out once on the
// next one; one that was being written when it broke fails with the error.
// So does one that comes after a close frame went out (Disconnect's, or
// the answer to the server's): it waits for the close handshake to end, at
// most about a second, then goes on the next connection, or fails with
// ErrNotConnected.
func (m *Manager) Send(ctx context.Context, req Request) error {
	// A copy per attempt: one whose session ended may have been changed by
	// the pre-processors already.
	return m.deliver(ctx, func() *envelope { return &envelope{ctx: ctx, req: req.clone()} })
}

func (m *Manager) deliver(ctx context.Context, env func() *envelope) error {
	_, err := m.deliverOn(ctx, env)
	return err
}

// deliverOn is deliver, also returning the session that took the frame.
func (m *Manager) deliverOn(ctx context.Context, env func() *envelope) (*session, error) {
	for {
		s, err := m.current(ctx)
		if err != nil {
			return nil, err
		}
		err = s.send(ctx, env())
		if err != errSessionGone {
			return s, err
		}
		// The session ended before writing it: try the next one, if any.
	}
}

// Subscribe sends req like Send and, once it is written, remembers it: with
// WithReconnect, every remembered subscription is sent again on each new
// connection of this Connect, in order (a later Connect starts with none).
// Subscribing to a request identical to a remembered one (same kind and
// encoded payload) sends it but remembers it once. If the connection is
// lost and made again between the write and the remembering, Subscribe
// sends it on the new connection too, as that one's replay missed it; if
// that second send fails (ctx ends first, a processor refuses it), Subscribe
// returns its error: the subscription is remembered, but the connection of
// the moment lacks it.
func (m *Manager) Subscribe(ctx context.Context, req Request) error {
	env := func() *envelope { return &envelope{ctx: ctx, req: req.clone()} }
	wrote, err := m.deliverOn(ctx, env)
	if err != nil {
		return err
	}
	id := identity(req)
	m.mu.Lock()
	if m.life != wrote.lt {
		// The Connect it was written under has ended (Disconnect, and
		// maybe a new Connect, came in between): it is not this one's.
		m.mu.Unlock()
		return nil
	}
	for _, s := range m.subs {
		if s.id == id {
			m.mu.Unlock()
			return nil
		}
	}
	m.subs = append(m.subs, subscription{id: id, req: req.clone()})
	now := m.sess
	m.mu.Unlock()
	if now == nil || now == wrote {
		return nil // the next connection's replay, if any, has it
	}
	select {
	case <-now.ready:
	case <-now.done:
		return nil // its successor's replay has it
	case <-ctx.Done():
		return ctx.Err()
	}
	if err := now.send(ctx, env()); err != errSessionGone {
		return err
	}
	return nil
}

// Unsubscribe forgets the subscription made with sub (matched by kind and
// encoded payload, as Subscribe remembers it) so that it is not sent again
// on a reconnect, then sends unsub, the server's unsubscribe request, like
// Send. The subscription is forgotten even if the send fails.
func (m *Manager) Unsubscribe(ctx context.Context, sub, unsub Request) error {
	id := identity(sub)
	m.mu.Lock()
	for i, s := range m.subs {
		if s.id == id {
			m.subs = append(m.subs[:i:i], m.subs[i+1:]...)
			break
		}
	}
	m.mu.Unlock()
	return m.Send(ctx, unsub)
}

// Subscriptions returns the remembered subscriptions, in order.
func (m *Manager) Subscriptions() []Request {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Request, len(m.subs))
	for i, s := range m.subs {
		out[i] = s.req.clone()
	}
	return out
}

// Ping writes a ping frame. It does not wait for sends queued before it
// (one may wait for the throttler), only for a frame being written. The
// peer must answer (with any frame) within the ping timeout.
func (m *Manager) Ping(ctx context.Context) error {
	return m.deliver(ctx, func() *envelope { return &envelope{ctx: ctx, control: true, mt: pingFrame} })
}

// States returns the manager's connection state changes as a hot
// Observable of State values, from the moment of each Observe on. Each
// observer keeps the latest 64 changes if it falls behind (older ones are
// dropped, never the manager held). Pass rxgo.WithContext and cancel it to
// stop observing.
func (m *Manager) States(opts ...rxgo.Option) rxgo.Observable {
	return m.states.Observable(source.Config{Buffer: 64, Policy: source.DropOldest}, opts...)
}

// emit sends st, naming the server last connected to unless st names one.
func (m *Manager) emit(st State) {
	st.At = m.cfg.clock.Now()
	if st.URL == "" {
		st.URL = m.conn.URL()
	}
	m.states.Emit(st)
}

// Messages returns the incoming messages as a hot Observable: each item is a
// *Response, or an error (a post-processor's, which does not end the stream,
// or the one that ended the connection, which does). Every Observe attaches a
// new subscriber before it returns, and each sees every message from then
// on. A normal close completes the stream without an error.
//
// The Observable belongs to the connection current (or next) at the call.
// Each observer has a lossless buffer of source.DefaultBuffer messages; pass
// rxgo.WithContext to Observe and cancel it to leave, or the observer holds
// the reader once its buffer is full. MessagesWith takes other buffers and
// policies.
func (m *Manager) Messages() rxgo.Observable {
	return m.MessagesWith(nil)
}

// IterMessages yields every message received from the start of the
// iteration on. A post-processor's error is yielded with a nil response and
// iteration goes on; iteration ends after a normal close, or by yielding
// the error that ended the connection or ctx's error.
func (m *Manager) IterMessages(ctx context.Context) iter.Seq2[*Response, error] {
	return m.IterMessagesWith(ctx)
}

// Receive returns the next message. With nobody else listening the reader
// waits for it, so a reply to a Send that came first is never lost: not
// even when the connection fails (a write breaks, a liveness timeout)
// before Receive is called, as the message was received whole; it is then
// the next Receive's, or the next connection's first listener's, unless
// Connect or Disconnect is called first. In pull mode (below) nobody reads
// between Receive calls, so a reply still in the socket when a write
// breaks the connection is lost with it. A
// Receive waiting when the connection ends returns io.EOF for a normal
// close and the connection's error for any other; one called when there is
// no connection returns ErrNotConnected (wrapping the last connection's
// error, if it had one).
//
// Given a context that is never done (context.Background(), or one made
// with context.WithoutCancel), Receive reads the frame itself, in the
// caller's goroutine, when nobody else is reading: then a request and its
// reply cost no goroutine hand-off, and Send-then-Receive is as fast as a
// bare gorilla round trip; the post-processors then run in the caller's
// goroutine too. Once such a Receive has taken a message and no
// Messages observer or iteration listens, the reader goroutine stands down
// (pull mode) and the connection is read only by Receive calls, until
// 50–100 ms on the manager's clock pass without one reading: then the
// reader reads again, so that an idle connection still answers pings and
// sees a close, and holds the next message for the next Receive. A Receive
// whose ctx can end waits for the reader goroutine instead, so that it
// returns when ctx ends.
//
// Receive calls waiting when a message is read all get it (it is not a
// queue shared among them). A message read before any was waiting, which
// the reader holds for the next listener, goes to the first to come, and a
// message left by a failed connection to the one that takes it; so
// Receive calls started together may get different messages. A
// post-processor's error is returned as Receive's error, and the
// connection goes on. During a reconnect outage Receive waits for the next
// connection, or, called then under WithFailFast, fails at once with
// ErrNotConnected; one already waiting when the connection was lost goes
// on waiting, until its ctx ends. Do not call it from inside an iteration
// of IterMessages, or from a Messages observer's goroutine (see
// IterMessagesWith).
func (m *Manager) Receive(ctx context.Context) (*Response, error) {
	// A message the last connection received before it failed comes
	// first. It is looked for again after current, which waits for a
	// failing connection's end, and before the next connection's reader
	// could hand on a later message.
	it, carried := m.takeCarried()
	var s *session
	var err error
	if !carried {
		s, err = m.current(ctx)
		it, carried = m.takeCarried()
	}
	switch {
	case carried:
	case err != nil:
		return nil, err
	case ctx.Done() == nil:
		// Reading in the caller's goroutine cannot stop when ctx ends (an
		// interrupted gorilla read breaks the connection), so only a
		// context that never ends reads for itself.
		it, err = s.receiveReading()
	default:
		it, err = s.receiveWaiting(ctx)
	}
	if err != nil {
		return nil, err
	}
	if it.E != nil {
		return nil, it.E
	}
	return it.V.(*Response), nil
}

// LastRecvTime is the Received time of the last data frame read (the
// clock's time when its bytes came off the socket), or the zero time before
// the first. It is kept as time since NewManager on the monotonic clock, so
// after a step of the wall clock its wall reading is off by the step, while
// time.Since(m.LastRecvTime()) stays right.
func (m *Manager) LastRecvTime() time.Time { return m.timeAt(m.lastRecv.Load()) }

// sinceEpoch is t as the manager keeps times: nanoseconds since its epoch.
func (m *Manager) sinceEpoch(t time.Time) int64 { return int64(t.Sub(m.epoch)) }

// now is the clock's now as the manager keeps times.
func (m *Manager) now() int64 { return m.sinceEpoch(m.cfg.clock.Now()) }

// timeAt turns a kept time back into a time.Time; unset is the zero time.
func (m *Manager) timeAt(n int64) time.Time {
	if n == math.MinInt64 {
		return time.Time{}
	}
	return m.epoch.Add(time.Duration(n))
}

// current returns the live session once it is ready (its subscriptions sent
// again), waiting through a reconnect outage unless failing fast, or
// ErrNotConnected saying why there is none.
func (m *Manager) current(ctx context.Context) (*session, error) {
	for {
		m.mu.Lock()
		s, outage := m.sess, m.outage
		if s == nil && (outage == nil || m.cfg.failFast) {
			err := m.notConnected()
			m.mu.Unlock()
			return nil, err
		}
		m.mu.Unlock()
		if s != nil {
			ready := s.ready
			if s.ctx.Err() != nil {
				ready = nil // stopping: wait for its end, and what follows
			}
			select {
			case <-ready:
				return s, nil
			case <-s.done:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			continue
		}
		select {
		case <-outage:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

func (m *Manager) notConnected() error {
	if m.lastErr != nil {
		return fmt.Errorf("%w (%w)", ErrNotConnected, m.lastErr)
	}
	return ErrNotConnected
}

// stream returns the message Subject for the current or next connection.
//
// Between connections it is the stream that just ended, so that an observer
// set up then learns of the end at once instead of waiting on a Connect that
// may never come; Connect opens the next stream.
func (m *Manager) stream() *source.Subject[rxgo.Item] {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.msgs
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

// leaveFactoryLocked tells m's Factory, if any, that m is neither connected
// nor connecting, so that the Factory need not hold it. m.mu is held.
func (m *Manager) leaveFactoryLocked() {
	if m.factory != nil {
		m.factory.forget(m)
	}
}

// dropOwedLocked gives up the rest of a message still owed: those who were
// to get it count it as dropped. m.mu is held.
func (m *Manager) dropOwedLocked() {
	if m.owed != nil {
		m.owed.Drop()
		m.owed = nil
	}
}

// takeCarried takes the message a failed connection left unread, if any.
func (m *Manager) takeCarried() (rxgo.Item, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	it := m.carried
	m.carried = nil
	if it == nil {
		return rxgo.Item{}, false
	}
	return *it, true
}

// ended is called by a session once all its goroutines are gone: it starts
// a reconnect, or ends the stream.
func (m *Manager) ended(s *session, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.sess == s {
		m.sess = nil
	}
	if s.unread != nil && !s.planned.Load() {
		m.carried = s.unread
	}
	if s.rest != nil {
		if s.planned.Load() {
			s.rest.Drop()
		} else {
			m.owed = s.rest
		}
	}
	if !s.planned.Load() && s.cfg.reconnect != nil && s.life.Err() == nil {
		cause := err
		if cause == nil {
			cause = &CloseError{URL: s.url, Code: websocket.CloseNormalClosure}
		}
		if m.outage == nil {
			m.outage = make(chan struct{})
		}
		m.lastErr = cause // what WithFailFast's sends report during the outage
		s.lt.retries.Add(1)
		go m.reconnect(s, cause)
		return
	}
	m.finishLocked(err)
}

// finishLocked ends the stream with err (nil: normal completion). m.mu is held.
func (m *Manager) finishLocked(err error) {
	m.lastErr = err
	m.dropOwedLocked()
	m.leaveFactoryLocked()
	m.msgs.Close(err)
	if m.outage != nil {
		close(m.outage)
		m.outage = nil
	}
	if m.life != nil {
		m.life.end()
		m.life = nil
	}
	m.emit(State{Kind: StateDisconnected, Cause: err})
}

// reconnect dials again after prev was lost, waiting the backoff on the
// clock, until it succeeds, gives up, or Disconnect ends prev.life. In the
// last case it ends the stream itself: in an outage there is no session
// whose end would.
func (m *Manager) reconnect(prev *session, cause error) {
	defer prev.lt.retries.Done()
	defer func() {
		m.mu.Lock()
		if prev.life.Err() != nil && m.life == prev.lt && m.sess == nil && m.outage != nil {
			m.finishLocked(nil)
		}
		m.mu.Unlock()
	}()
	life, cfg, b := prev.life, prev.cfg, *prev.cfg.reconnect
	since := m.cfg.clock.Now()
	for attempt := b.firstAttempt(prev); ; attempt++ {
		if b.MaxAttempts > 0 && attempt > b.MaxAttempts {
			m.mu.Lock()
			if life.Err() == nil {
				m.finishLocked(&GaveUpError{URL: prev.url, Attempts: b.MaxAttempts, Last: cause})
			}
			m.mu.Unlock()
			return
		}
		wait := b.Delay(attempt)
		t := m.cfg.clock.Timer(wait) // armed before it is announced, so that a test may move the clock on the news
		// Under m.mu and only while the Connect lasts: Disconnect ends
		// life under m.mu before it emits the final state.
		m.mu.Lock()
		if life.Err() == nil {
			m.emit(State{Kind: StateReconnecting, Attempt: attempt, Wait: wait, Cause: cause})
		}
		m.mu.Unlock()
		select {
		case <-t.C:
		case <-life.Done():
			t.Stop()
			return
		}
		ws, sock, err := m.conn.dial(life, prev.rawURL, cfg, m.cfg.clock)
		if err != nil {
			if life.Err() != nil {
				return // Disconnect ended the dial: no further attempt to announce
			}
			cause = err
			continue
		}
		m.mu.Lock()
		if life.Err() != nil {
			m.mu.Unlock()
			_ = m.conn.close(ws)
			return
		}
		s := m.start(ws, sock, cfg, prev.rawURL, prev.lt, attempt)
		m.sess = s
		close(m.outage) // waiting sends move on to wait for s.ready
		m.outage = nil
		subs := append([]subscription(nil), m.subs...)
		m.mu.Unlock()
		// Subscriptions go first, through the whole pipeline; queued sends
		// wait for ready. If this connection fails too, its end starts the
		// next reconnect.
		// One that a processor, auth or the throttler refuses is reported
		// and the others still go; only the end of s stops the replay.
		replayed := true
		var refused []error
		for _, sub := range subs {
			err := s.send(life, &envelope{ctx: life, req: sub.req.clone()})
			if err == nil {
				continue
			}
			if errors.Is(err, errSessionGone) || s.ctx.Err() != nil || life.Err() != nil {
				replayed = false
				break
			}
			refused = append(refused, fmt.Errorf("rxws: subscribe again with %s: %w", sub.id, err))
		}
		close(s.ready)
		if replayed {
			down := m.cfg.clock.Since(since)
			// Under m.mu and only while s is current, so that it cannot
			// follow the state that s's end emits (under m.mu too).
			m.mu.Lock()
			if m.sess == s {
				m.emit(State{Kind: StateConnected, Downtime: down, Cause: errors.Join(refused...)})
			}
			m.mu.Unlock()
		}
		return
	}
}

// subscription is a remembered Subscribe request.
type subscription struct {
	id  string // kind and encoded payload: what makes two subscriptions the same
	req Request
}

func identity(r Request) string {
	_, data, err := r.frame(StdJSON)
	if err != nil {
		return fmt.Sprintf("%v:%#v", r.Kind, r.Payload)
	}
	return r.Kind.String() + ":" + string(data)
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
