package rxws

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/reactivex/rxgo/v2"
	"github.com/rxpype/rxpype/operators"
	"github.com/rxpype/rxpype/sink"
	"github.com/rxpype/rxpype/source"
)

// session is one connection's life: its reader, its send pipeline and its
// timers, all ended together by stop.
type session struct {
	m       *Manager
	attempt int   // the reconnect attempt that made it; 0: Connect
	began   int64 // Manager.now at its start
	ws      *websocket.Conn
	sock    *socket // under ws: its readAt is a message's Received time
	url     string  // redacted
	rawURL  string  // for redialling
	cfg     connectConfig
	life    context.Context // from Connect to Disconnect, across reconnects
	lt      *lifetime       // life's owner: Disconnect waits for its reconnects
	ready   chan struct{}   // closed once subscriptions are replayed

	ctx    context.Context // ends when the session stops
	cancel context.CancelFunc
	// postCtx is ctx as the post-processors get it: it tells Disconnect
	// that it is called from the reader (see insideKey).
	postCtx context.Context
	// feedCtx bounds the reader's wait for subscribers; Disconnect ends it
	// first so that a reader holding a message goes back to reading frames
	// and sees the peer's close.
	feedCtx    context.Context
	feedCancel context.CancelFunc

	sends *source.Subject[*envelope]
	msgs  *source.Subject[rxgo.Item]
	// unread is the message the reader held for a listener when the
	// session stopped for another reason than Disconnect: a failed write,
	// or a liveness timeout. Written by the reader before it ends; the
	// manager keeps it for the next Receive (see Manager.carried).
	unread *rxgo.Item // nil: none
	// rest is what the reader still owed subscribers when the session
	// stopped: a message some took and others, with full Block buffers,
	// had not yet. Written by the reader before it ends; the manager has
	// the next connection's reader finish it (see Manager.owed).
	rest *source.Rest[rxgo.Item]
	// owed is the rest the last connection left (Manager.owed), taken at
	// start: the reader then holds the read token from the start, so that
	// no Receive reads a newer message before it is handed on.
	owed *source.Rest[rxgo.Item]

	// prepMu is held while a data frame is prepared (pre-processors, auth,
	// throttle) and until it is written, so that frames go out in the order
	// they were prepared (an Auth may number them). writeTok is the socket:
	// one frame written at a time. A ping needs only writeTok, so it never
	// waits for a preparation (user code, or a throttle wait).
	prepMu   sync.Mutex
	writeTok chan struct{} // holds a token while a frame is written
	// prepCancel ends the preparation under way, if any (see prepContext);
	// prepEnd guards it.
	prepEnd    sync.Mutex
	prepCancel context.CancelFunc
	beating    atomic.Bool  // a heartbeat is on its way
	queued     atomic.Int64 // sends handed to the writer goroutine and not yet done
	live       liveness
	reader     msgReader // used only by the holder of tok

	// tok is the read token: whoever holds it may read a frame. The reader
	// goroutine holds it while subscribers stream; when only Receive calls
	// whose contexts never end listen (pull mode), a Receive takes it and
	// reads for itself, so a request and its reply stay in the caller's
	// goroutine (no hand-off, which costs a thread wake-up and tens of µs
	// on small machines).
	tok    chan struct{}
	pulled atomic.Bool // a Receive read since the pull-mode timer last looked
	// wantPull: the latest Receive can read for itself (its context never
	// ends); a Receive that cannot clears it and sends on wake.
	wantPull atomic.Bool
	wake     chan struct{}
	waiters  atomic.Int32 // Receive calls with a context that can end, waiting: the reader must read
	// readFailed is closed when a Receive's read fails, so that the reader
	// goroutine ends the session with readErr.
	readFailed chan struct{}
	readErr    error // written once, before readFailed closes
	failOnce   sync.Once

	planned    atomic.Bool // Disconnect was called
	stopOnce   sync.Once
	cause      error // what stopped the session; written once in stop
	readerDone chan struct{}
	wg         sync.WaitGroup // every goroutine but the runner
	done       chan struct{}  // closed after teardown
}

// start runs a session on ws. The caller holds m.mu.
// attempt is the reconnect attempt that dialled ws, 0 for Connect's dial.
func (m *Manager) start(ws *websocket.Conn, sock *socket, cfg connectConfig, rawURL string, lt *lifetime, attempt int) *session {
	s := &session{
		m:          m,
		attempt:    attempt,
		began:      m.now(),
		ws:         ws,
		sock:       sock,
		url:        m.conn.URL(),
		rawURL:     rawURL,
		cfg:        cfg,
		life:       lt.ctx,
		lt:         lt,
		ready:      make(chan struct{}),
		sends:      source.NewSubject[*envelope](),
		msgs:       m.openStream(),
		readerDone: make(chan struct{}),
		done:       make(chan struct{}),
		tok:        make(chan struct{}, 1),
		writeTok:   make(chan struct{}, 1),
		wake:       make(chan struct{}, 1),
		readFailed: make(chan struct{}),
	}
	if s.owed, m.owed = m.owed, nil; s.owed == nil {
		s.tok <- struct{}{}
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.feedCtx, s.feedCancel = context.WithCancel(s.ctx)
	s.postCtx = context.WithValue(s.ctx, insideKey{}, inside{s: s, reader: true})
	s.reader = msgReader{limit: cfg.readLimit, inflate: cfg.compression}
	ws.SetPingHandler(s.onPing)
	ws.SetPongHandler(s.onPong)
	s.startLiveness()
	s.wg.Add(1)
	go s.writeLoop(s.sends.Subscribe(source.Config{}))
	go s.readLoop()
	go s.run()
	return s
}

// run waits for the reader, stops everything else and reports the end.
func (s *session) run() {
	<-s.readerDone
	s.wg.Wait()
	s.m.ended(s, s.m.conn.logEnd(s.url, classify(s.url, s.planned.Load(), s.cause)))
	close(s.done)
}

// stop ends the session once, remembering the first cause.
func (s *session) stop(cause error) {
	s.stopOnce.Do(func() {
		s.cause = cause
		s.cancel()
		s.prepEnd.Lock()
		if s.prepCancel != nil {
			s.prepCancel() // a preparation under way ends with the session
		}
		s.prepEnd.Unlock()
		s.stopLiveness()
		s.sends.Close(ErrNotConnected)
		s.m.conn.close(s.ws)
	})
}

// quiet stops the reader from waiting on subscribers.
func (s *session) quiet() { s.feedCancel() }

func (s *session) readLoop() {
	defer close(s.readerDone)
	held, err := s.feed()
	switch {
	case s.planned.Load():
		// Read on, discarding, until the peer's close frame or the socket
		// closes, so that Disconnect's close handshake completes. The token
		// is kept: nobody reads after this.
		if !held {
			<-s.tok
		}
		// With the read limit on what a message inflates to, as ever:
		// gorilla's ReadMessage would count only compressed bytes.
		for err == nil || errors.Is(err, context.Canceled) {
			_, _, err = s.reader.read(s.ws)
		}
		s.stop(err)
		return
	}
	// The read failed, or the session stopped. Stopping closes the socket,
	// so a Receive reading for itself (which holds the token) is done at
	// once; the reader waits for the token, so that what that Receive could
	// not hand on (s.rest) is known before the session ends.
	s.stop(err)
	if !held {
		<-s.tok
	}
	s.tok <- struct{}{} // a Receive waiting for it finds readFailed
}

// feed reads frames and publishes what the post-processors keep, for as
// long as someone streams; it returns the error that ended reading, or
// Publish's when Disconnect stopped it waiting for subscribers, and whether
// it still holds the read token.
//
// It holds the token while it reads, so that a Receive that wants it finds
// the message it was waiting for in its subscription first. After a
// message that went to Receive calls alone, the latest of which can read
// for itself, it gives the token up and stands down (pull mode; see
// awaitStreaming): Receive calls then read for themselves.
func (s *session) feed() (held bool, err error) {
	if s.owed != nil {
		// The rest of a message the last connection handed to some
		// subscribers goes to the others before anything newer. The
		// reader has held the token since start: nobody has read.
		held = true
		s.live.parked.Store(true) // not reading: the message timer waits
		if s.rest, err = s.owed.Publish(s.feedCtx); err != nil {
			return true, err
		}
	} else if held, err = s.resume(false); err != nil {
		return held, err
	}
	// A message the last connection received and nobody took goes first.
	// Holding the token, the reader alone may take it: a Receive that
	// finds neither it nor the token subscribes, and is handed it.
	item, keep := s.m.takeCarried()
	if keep {
		s.live.parked.Store(true) // not reading: the message timer waits
	}
	for {
		if !keep {
			if item, keep, err = s.readOne(); err != nil {
				s.failRead(err)
				return true, err
			}
			if !keep {
				continue
			}
		}
		keep = false
		// Decoding once for all (Response.Decode) costs an allocation and a
		// copy each; with two subscribers they mostly decode at the same
		// moment anyway, and it does not pay (BenchmarkManagerFanout).
		if r, ok := item.V.(*Response); ok && s.msgs.Subscribers() >= shareDecodeFrom {
			r.shared.Store(true)
		}
		if taken, rest, err := s.msgs.PublishRest(s.feedCtx, item); err != nil {
			if !taken && !s.planned.Load() {
				// Nobody has it. It was received whole, so it is not
				// lost with the connection: the next Receive gets it.
				s.unread = &item
			}
			if rest != nil {
				s.rest = rest // some have it: the others are owed it
			}
			return true, err
		}
		if s.wantPull.Load() && s.waiters.Load() == 0 {
			if n, _ := s.msgs.Streaming(); n == 0 {
				if held, err = s.resume(true); err != nil {
					return held, err
				}
			}
		}
	}
}

// resume takes the read token back to read on, first giving it up and
// standing down (pull mode) when asked. It returns the read error that ends
// the reader, if any, and whether it holds the token then.
func (s *session) resume(standDown bool) (held bool, err error) {
	if standDown {
		s.tok <- struct{}{}
		if err := s.awaitStreaming(); err != nil {
			return false, err
		}
	}
	if !s.takeToken() {
		return false, s.readErr
	}
	if s.failed() {
		return true, s.readErr
	}
	return true, nil
}

// shareDecodeFrom is how many subscribers a message must go to for its
// typed decode to be shared among them.
const shareDecodeFrom = 3

// awaitStreaming waits, in pull mode, for a streaming subscriber, for a
// Receive that cannot read for itself, for Disconnect (which needs the
// reader back to see the peer's close), or for a Receive's read to fail.
//
// It also goes back to reading once no Receive has read for pullLinger, so
// that an idle connection still answers pings and sees the peer's close: the
// next Receive then takes a message the reader read, and pull mode resumes.
func (s *session) awaitStreaming() error {
	linger := s.m.cfg.clock.Timer(pullLinger)
	defer linger.Stop()
	s.pulled.Store(false)
	for {
		n, joined := s.msgs.Streaming()
		if n > 0 || s.feedCtx.Err() != nil || !s.wantPull.Load() || s.waiters.Load() > 0 {
			return nil
		}
		select {
		case <-joined:
		case <-s.wake:
		case <-s.feedCtx.Done():
		case <-s.readFailed:
			return s.readErr
		case <-linger.C:
			if !s.pulled.Swap(false) {
				// Receive has stopped reading for itself: read, and stand
				// down again only after the next one that can.
				s.wantPull.Store(false)
				return nil
			}
			linger.Reset(pullLinger)
		}
	}
}

// pullLinger is how long pull mode outlasts the last Receive's read.
const pullLinger = 50 * time.Millisecond

// takeToken waits for the read token; it returns false, without it, once
// a read has failed.
func (s *session) takeToken() bool {
	select {
	case <-s.tok:
		return true
	case <-s.readFailed:
		return false
	}
}

// failed reports whether a read has failed. A token taken when a Receive
// gave it back after its read failed must not be used to read again: some
// of msgReader's errors (a compressed message over the limit) are not
// sticky in gorilla, so the next read would go on past the failure.
func (s *session) failed() bool {
	select {
	case <-s.readFailed:
		return true
	default:
		return false
	}
}

// failRead records the read error that ends the session.
func (s *session) failRead(err error) {
	s.failOnce.Do(func() {
		s.readErr = err
		close(s.readFailed)
	})
}

// receiveWaiting is Receive with a context that can end: it waits for the
// reader goroutine, waking it if it stood down in pull mode.
func (s *session) receiveWaiting(ctx context.Context) (rxgo.Item, error) {
	// While it waits the reader does not stand down, whatever a Receive
	// that reads for itself asks for meanwhile.
	s.waiters.Add(1)
	defer s.waiters.Add(-1)
	s.wantPull.Store(false)
	// The session's own stream: if it ended a moment ago, Next says so at
	// once instead of waiting on the next connection's.
	sub := s.msgs.Subscribe(source.Config{Once: true})
	defer sub.Close()
	select {
	case s.wake <- struct{}{}:
	default:
	}
	return sub.Next(ctx)
}

// receiveReading is Receive with a context that never ends: it reads for
// itself whenever the read token is free, and otherwise takes the message
// the holder publishes, or the token, whichever comes first.
func (s *session) receiveReading() (rxgo.Item, error) {
	s.wantPull.Store(true)
	var sub *source.Subscription[rxgo.Item]
	select {
	case <-s.tok:
		// Nobody is reading, so no message is held for us: read without
		// subscribing.
		it, next, ok := s.pullRead()
		if ok {
			return it, nil
		}
		sub = next
	default:
		sub = s.msgs.Subscribe(source.Config{Once: true})
		it, got, err := sub.NextOr(context.Background(), s.tok)
		switch {
		case err != nil:
			sub.Close()
			return it, err
		case got:
			return it, nil
		}
		// We hold the token. A message published to sub before we took it
		// comes first; otherwise read, having left, so that Deliver in
		// pullRead reaches only the others.
		if it, ok := sub.TryNext(); ok {
			s.tok <- struct{}{}
			return it, nil
		}
		if s.feedCtx.Err() != nil || s.failed() {
			// The connection is ending: nothing more is read on it, and
			// a message owed to sub (what the next connection hands on)
			// comes through sub, as whatever follows does.
			s.tok <- struct{}{}
			break
		}
		sub.Close()
		it, next, ok := s.pullRead()
		if ok {
			return it, nil
		}
		sub = next
	}
	// The connection failed while we read: what follows (its end, or the
	// next connection's first message) comes through sub.
	defer sub.Close()
	return sub.Next(context.Background())
}

// pullRead reads the next kept message for a Receive holding the read
// token, hands it to the stream's subscribers too, and gives the token back.
// ok is false when this session can no longer read: next is then a fresh
// subscription, made before the token went back so that nothing is missed.
func (s *session) pullRead() (it rxgo.Item, next *source.Subscription[rxgo.Item], ok bool) {
	defer func() { s.tok <- struct{}{} }()
	select {
	case <-s.readFailed:
		return it, s.msgs.Subscribe(source.Config{Once: true}), false
	case <-s.feedCtx.Done():
		// The session is ending (Disconnect, a failed write, a liveness
		// timeout): a frame still in gorilla's buffer is not this
		// Receive's to take, as it could not be handed on (and the one
		// message owed to observers, s.rest, must stay the only one); the
		// next connection's message, or the stream's end, is.
		return it, s.msgs.Subscribe(source.Config{Once: true}), false
	default:
	}
	defer s.pulled.Store(true)
	for {
		item, keep, err := s.readOne()
		if err != nil {
			s.failRead(err)
			return it, s.msgs.Subscribe(source.Config{Once: true}), false
		}
		if keep {
			// Handed on to observers that joined meanwhile. If the
			// connection's end cuts that short, the next connection hands
			// it on to those it did not reach, as the reader's leftovers
			// (s.rest is the token holder's; readLoop waits for it).
			if rest, _ := s.msgs.DeliverRest(s.feedCtx, item); rest != nil {
				s.rest = rest
			}
			return item, nil, true
		}
	}
}

// readOne reads the next data frame (control frames are handled by
// gorilla's handlers inside ReadMessage) and runs the post-processors.
// From the frame's read to its next call the reader does not read (the
// post-processors run, then it waits in Publish), which liveness must know.
func (s *session) readOne() (rxgo.Item, bool, error) {
	s.live.parked.Store(false)
	mt, data, err := s.reader.read(s.ws)
	if err != nil {
		return rxgo.Item{}, false, readError(s.url, s.cfg.readLimit, err)
	}
	now := s.sock.readAt
	s.m.lastRecv.Store(s.m.sinceEpoch(now)) // LastActivity takes the later of this and lastAct
	s.dataRead()
	// Not reading from here on: the post-processors may take their time,
	// and the silence that follows is ours, not the peer's.
	s.live.parked.Store(true)
	resp := &Response{kind: KindText, raw: data, at: now, codec: s.m.cfg.codec}
	if mt == websocket.BinaryMessage {
		resp.kind = KindBinary
	}
	if isReply := s.cfg.heartbeatReply; isReply != nil && isReply(resp) {
		return rxgo.Item{}, false, nil
	}
	item := rxgo.Of(resp)
	if len(s.m.post) > 0 {
		out, keep, err := s.m.post.Run(s.postCtx, resp)
		switch {
		case err != nil:
			item = rxgo.Error(fmt.Errorf("rxws: post-processor: %w", err))
		case !keep:
			return rxgo.Item{}, false, nil
		default:
			if out != resp && out.codec == nil {
				// Built by NewResponse: it decodes with the manager's
				// codec, and was received when its frame was.
				out.codec = s.m.cfg.codec
				if out.at.IsZero() {
					out.at = now
				}
			}
			item = rxgo.Of(out)
		}
	}
	return item, true, nil
}

func (s *session) onPong(string) error {
	s.m.lastAct.Store(s.m.now())
	return nil
}

// onPing answers the peer's ping as gorilla's default handler does.
func (s *session) onPing(data string) error {
	s.m.lastAct.Store(s.m.now())
	err := s.ws.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(s.cfg.writeTimeout))
	if err == websocket.ErrCloseSent {
		return nil
	}
	var ne interface{ Timeout() bool }
	if errors.As(err, &ne) && ne.Timeout() {
		return nil
	}
	return err
}

// envelope carries one send through the pipeline and its result back.
type envelope struct {
	ctx     context.Context
	req     Request
	control bool // a control frame: no processors, auth or throttling

	// Set by the prepare stage.
	limitID string
	mt      int
	data    []byte
	err     error

	// Set by the throttle stage: the grant, given back if the frame is
	// not written after all.
	ticket ticket

	// pending, then writing (taken by the writer, which reports to done)
	// or cancelled (by Send, which returned: the writer skips it).
	state atomic.Int32
	done  chan error
}

const (
	pending int32 = iota
	writing
	cancelled
)

var errSkipped = errors.New("rxws: send cancelled before it was written")

// send puts e through the pipeline and waits for its outcome.
func (s *session) send(ctx context.Context, e *envelope) error {
	err := s.sendOnce(ctx, e)
	if err == errClosing {
		// Not written: the session ends once the close handshake is
		// over, and then the next connection, if any, takes it.
		select {
		case <-s.ctx.Done():
			return errSessionGone
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return err
}

func (s *session) sendOnce(ctx context.Context, e *envelope) error {
	if err := ctx.Err(); err != nil {
		return err // Publish, with room, does not look at ctx: nothing must be written
	}
	if ok, err := s.sendInline(ctx, e); ok {
		return err
	}
	e.done = make(chan error, 1)
	s.queued.Add(1)
	if err := s.sends.Publish(ctx, e); err != nil {
		s.queued.Add(-1)
		if errors.Is(err, source.ErrClosed) {
			return errSessionGone
		}
		return err
	}
	select {
	case err := <-e.done:
		return err
	case <-ctx.Done():
		if e.state.CompareAndSwap(pending, cancelled) {
			return ctx.Err()
		}
	case <-s.ctx.Done():
		if e.state.CompareAndSwap(pending, cancelled) {
			return errSessionGone
		}
	}
	return <-e.done // the writer has it: its result is moments away
}

// errSessionGone tells Manager.deliver that the session ended without
// writing the frame, so the next connection may take it.
var errSessionGone = errors.New("rxws: connection ended before the frame was written")

// errClosing is write's word for a frame refused because a close frame has
// gone out (Disconnect's, or the answer to the peer's): nothing was written.
var errClosing = errors.New("rxws: the close handshake has begun")

// writeLoop is the send pipeline: Subject → pre-processors and auth →
// throttle → the single writer, fused into one goroutine. The stages are an
// operators.Chain run inline and the writer a sink.Pull on the Subject's
// subscription: a round trip pays one goroutine hand-off on the way out,
// not one per stage.
func (s *session) writeLoop(sub *source.Subscription[*envelope]) {
	defer s.wg.Done()
	defer sub.Close()
	stages := operators.Chain[*envelope]{s.prepare}
	if s.m.cfg.throttler != nil {
		stages = append(stages, operators.AcquireStage(s.acquire, throttleFailed))
	}
	_ = sink.Pull(s.ctx, sub.Next, func(e *envelope) error {
		defer s.queued.Add(-1)
		// prepMu before taking e: a Send whose ctx ends while an inline
		// send's preparation holds prepMu (even one that Send is called
		// from, by a pre-processor) can still give up.
		s.prepMu.Lock()
		defer s.prepMu.Unlock()
		// Taken from here on: a Send that gives up now waits for the
		// outcome, so that nothing reads its request after Send returns.
		if !e.state.CompareAndSwap(pending, writing) {
			return errSkipped
		}
		// Sends still buffered when the connection ended are not prepared
		// (an Auth may count nonces) nor charged to the throttler: write
		// hands them back to their senders for the next connection. No
		// stage drops an envelope: failures travel in it to write.
		if s.ctx.Err() == nil {
			_, _, _ = stages.Run(s.ctx, e)
		}
		return s.writeInTurn(e)
	}, s.report)
}

// writeInTurn writes a data frame once no other frame is being written.
func (s *session) writeInTurn(e *envelope) error {
	s.writeTok <- struct{}{}
	defer func() { <-s.writeTok }()
	return s.write(e)
}

// sendInline writes e in the sender's goroutine when nothing is queued
// before it and it cannot have to wait for the throttler: a request/reply
// round trip then costs no goroutine hand-off on the way out. prepMu keeps
// the order of data frames (with the queue count), writeTok one write at a
// time. A control frame (a ping) does not wait for the data frames before
// it, one of which may wait for the throttler for long, nor for their
// processors: it takes the next turn at the socket, or gives up with ctx,
// so that liveness does not stop while sends wait.
func (s *session) sendInline(ctx context.Context, e *envelope) (bool, error) {
	if e.control {
		select {
		case s.writeTok <- struct{}{}:
		case <-ctx.Done():
			return true, ctx.Err()
		case <-s.ctx.Done():
			return false, nil
		}
		defer func() { <-s.writeTok }()
		if s.ctx.Err() != nil {
			return false, nil
		}
		e.state.Store(writing) // e is the caller's alone: no writer has seen it
		return true, s.write(e)
	}
	if s.queued.Load() != 0 || s.m.cfg.throttler != nil || !s.prepMu.TryLock() {
		return false, nil
	}
	defer s.prepMu.Unlock()
	if s.queued.Load() != 0 || s.ctx.Err() != nil {
		return false, nil
	}
	e.state.Store(writing) // e is the caller's alone: no writer has seen it
	_, _, _ = s.prepare(ctx, e)
	return true, s.writeInTurn(e)
}

// acquire charges the request's limit; it waits while both the sender and
// the session want the frame. Failed and unlimited sends pass. The end of
// the session comes out as errSessionGone, so that the send is not failed
// but taken to the next connection.
func (s *session) acquire(ctx context.Context, e *envelope) error {
	if e.err != nil || e.limitID == "" {
		return nil
	}
	// Ended already: charge nothing. (The AfterFunc below would cancel
	// the wait only after Acquire may have granted it.)
	if ctx.Err() != nil {
		return errSessionGone
	}
	if err := e.ctx.Err(); err != nil {
		return err
	}
	wctx, cancel := context.WithCancel(e.ctx)
	defer cancel()
	defer context.AfterFunc(ctx, cancel)()
	tk, err := s.m.cfg.throttler.acquire(wctx, e.limitID)
	e.ticket = tk
	if err != nil && ctx.Err() != nil {
		return errSessionGone
	}
	return err
}

func throttleFailed(e *envelope, err error) *envelope {
	e.err = fmt.Errorf("rxws: throttle %q: %w", e.limitID, err)
	return e
}

// prepare runs the pre-processors and auth on the envelope's request (a
// copy: see Request.clone) and encodes it. Failures travel in the envelope,
// so that the stream goes on.
func (s *session) prepare(_ context.Context, e *envelope) (*envelope, bool, error) {
	if e.control {
		return e, true, nil
	}
	m := s.m
	req := e.req
	var err error
	if len(m.cfg.pre) > 0 || req.AuthRequired && m.cfg.auth != nil {
		ctx, cancel := s.prepContext(e.ctx)
		defer s.prepDone(cancel)
		for i, p := range m.cfg.pre {
			if req, err = p.PreProcess(ctx, req); err != nil {
				e.err = fmt.Errorf("rxws: pre-processor %d: %w", i, err)
				return e, true, nil
			}
		}
		if req.AuthRequired && m.cfg.auth != nil {
			if req, err = m.cfg.auth.AuthenticateWS(ctx, req); err != nil {
				e.err = fmt.Errorf("rxws: auth: %w", err)
				return e, true, nil
			}
		}
	}
	if req.AuthRequired && m.cfg.auth == nil {
		e.err = ErrNoAuth
		return e, true, nil
	}
	e.limitID = req.LimitID
	e.mt, e.data, e.err = req.frame(m.cfg.codec)
	return e, true, nil
}

// prepCtx is the context the pre-processors and auth of one send get: the
// sender's (its values and deadline), which also ends when the connection
// does, so that Disconnect need not wait for a processor that waits on its
// ctx; and it tells Disconnect that it is called from inside this
// connection (see insideKey).
type prepCtx struct {
	context.Context // context.WithCancel of the sender's; stop cancels it
	s               *session
}

// Value answers insideKey; other keys are the sender's.
func (c *prepCtx) Value(key any) any {
	if key == (insideKey{}) {
		if in, ok := c.Context.Value(key).(inside); ok && in.s == c.s {
			return in // a send made from a post-processor: in the reader still
		}
		return inside{s: c.s}
	}
	return c.Context.Value(key)
}

// prepContext returns a send's prepCtx and its cancel, which prepDone
// calls. One send is prepared at a time (prepMu), so the session keeps its
// cancel in one field, for stop: cheaper than a context.AfterFunc per send.
func (s *session) prepContext(sender context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(sender)
	s.prepEnd.Lock()
	if s.ctx.Err() != nil {
		cancel()
	} else {
		s.prepCancel = cancel
	}
	s.prepEnd.Unlock()
	return &prepCtx{Context: ctx, s: s}, cancel
}

func (s *session) prepDone(cancel context.CancelFunc) {
	s.prepEnd.Lock()
	s.prepCancel = nil
	s.prepEnd.Unlock()
	cancel()
}

// insideKey keys the value, an inside, that the processors' contexts carry.
// A Disconnect called from a processor cannot wait for the connection's
// goroutines, as it may run in one of them (or hold a lock one of them
// waits for); the context it is given tells it so.
type insideKey struct{}

type inside struct {
	s      *session
	reader bool // a post-processor, run by the reader goroutine
}

// write is the only place data frames reach the socket.
// e has been taken (state writing). A frame it does not write gives its
// throttle grant back: it may yet go out, and be charged, on the next
// connection.
func (s *session) write(e *envelope) error {
	err := s.writeFrame(e)
	if e.ticket.charges != nil {
		if err != nil && (err == errSessionGone || err == errClosing || err == e.ctx.Err()) {
			s.m.cfg.throttler.refund(e.ticket)
		}
		e.ticket = ticket{}
	}
	return err
}

func (s *session) writeFrame(e *envelope) error {
	switch {
	case errors.Is(e.err, errSessionGone), s.ctx.Err() != nil && e.ctx.Err() == nil:
		// Not written, so the next connection may take it. A processor's
		// failure counts for nothing then: it may have been the end of its
		// ctx, which ends with the connection, and it runs again there.
		return errSessionGone
	case e.err != nil:
		return e.err // a processor's, auth's or the throttler's verdict stands
	case e.ctx.Err() != nil:
		// It ended while the request was prepared or throttled, before the
		// socket had it: Send promises that nothing is written then.
		return e.ctx.Err()
	}
	if e.mt == pingFrame {
		s.pingWritten()
	}
	if err := write(s.ws, s.cfg.writeTimeout, e.mt, e.data); err != nil {
		if errors.Is(err, websocket.ErrCloseSent) {
			// The socket is sound and the reader is finishing the close
			// handshake, which ends the session with its true cause (the
			// peer's close code). Stopping here would report a write error
			// instead, and close the socket under frames still unread in
			// either direction: the kernel would reset the connection and
			// the peer lose frames whose Send had returned nil.
			return errClosing
		}
		err = fmt.Errorf("rxws: write to %s: %w", s.url, err)
		s.stop(err) // a failed write leaves the stream in an unknown state
		return err
	}
	return nil
}

func (s *session) report(e *envelope, err error) {
	if err != errSkipped {
		e.done <- err
	}
}
