package rxws

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/rxpype/rxpype/clock"
)

const pingFrame = websocket.PingMessage

// liveness holds one session's timers. None of them costs a goroutine while
// it waits: deadlines are clock.AfterFunc timers, checked when they fire,
// and only auto ping and heartbeats (tickers) run a goroutine.
//
// The rules, chosen so that a busy feed is never declared dead:
//   - a ping is answered by any frame that arrives after it (pong, ping or
//     data; a data frame's time is that of the socket read it came in);
//   - while the reader is parked holding a message nobody has taken, the
//     peer is not judged: the reader is not reading, so silence is ours;
//   - the message timeout counts data frames only, and after a park it
//     gives the peer a whole timeout of reading before judging it.
type liveness struct {
	clock clock.Clock

	mu      sync.Mutex
	pongDue *clock.Timer // fires pingTimeout after the oldest unanswered ping
	armed   bool
	pings   []int64 // pings written and not yet known answered, oldest first (Manager.now)

	msgDue  *clock.Timer
	started int64       // the session's start (Manager.now): the message timeout's first mark
	parked  atomic.Bool // the reader waits for a subscriber instead of reading
	// sawParked: the message timeout last found the reader parked. The
	// reader has gone back to reading since, at a time nobody noted.
	sawParked atomic.Bool
	// resumed: when the first data frame after such a park was read
	// (Manager.now); it clears sawParked. A timer that fired just before
	// must not judge the peer on that frame's stale socket-read time.
	resumed atomic.Int64
}

// startLiveness arms the session's timers. It runs inside Connect, so that
// when Connect returns every timer already counts from the clock's now.
func (s *session) startLiveness() {
	l := &s.live
	l.clock = s.m.cfg.clock
	l.started = s.m.now()
	if d := s.cfg.messageTimeout; d > 0 {
		l.msgDue = l.clock.AfterFunc(d, s.messageDue)
	}
	var ping, beat *clock.Ticker
	if s.cfg.autoPing && s.cfg.pingInterval > 0 {
		ping = l.clock.Ticker(s.cfg.pingInterval)
	}
	if s.cfg.heartbeat > 0 {
		beat = l.clock.Ticker(s.cfg.heartbeat)
	}
	if ping == nil && beat == nil {
		return
	}
	s.wg.Add(1)
	go s.tick(ping, beat)
}

// stopLiveness stops every timer; the tick goroutine ends with the session.
func (s *session) stopLiveness() {
	l := &s.live
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.pongDue != nil {
		l.pongDue.Stop()
	}
	if l.msgDue != nil {
		l.msgDue.Stop()
	}
}

func (s *session) tick(ping, beat *clock.Ticker) {
	defer s.wg.Done()
	var pc, bc <-chan time.Time
	if ping != nil {
		defer ping.Stop()
		pc = ping.C
	}
	if beat != nil {
		defer beat.Stop()
		bc = beat.C
	}
	for {
		select {
		case <-pc:
			_ = s.send(s.ctx, &envelope{ctx: s.ctx, control: true, mt: pingFrame})
		case <-bc:
			select {
			case <-s.ready:
			default:
				// The subscriptions are being sent again, and go first:
				// they are traffic enough, so this beat is skipped.
				continue
			}
			// On its own goroutine, one at a time: a beat that waits for
			// the throttler or a processor must not hold up the pings.
			// A heartbeat that a processor refuses is not fatal; a failed
			// write ends the session on its own.
			if !s.beating.CompareAndSwap(false, true) {
				continue // the last one is still on its way
			}
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				defer s.beating.Store(false)
				_ = s.send(s.ctx, &envelope{ctx: s.ctx, req: s.cfg.heartbeatReq.clone()})
			}()
		case <-s.ctx.Done():
			return
		}
	}
}

// pingWritten arms the pong deadline for a ping about to be written, unless
// an older unanswered ping already holds it.
func (s *session) pingWritten() {
	l := &s.live
	d := s.cfg.pingTimeout
	if d <= 0 {
		return
	}
	now := s.m.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if s.ctx.Err() != nil {
		return
	}
	l.pings = append(l.pings, now)
	if l.armed {
		return
	}
	l.armed = true
	if l.pongDue == nil {
		l.pongDue = l.clock.AfterFunc(d, s.pongDue)
	} else {
		l.pongDue.Reset(d)
	}
}

// pongDue judges the oldest unanswered ping: pings before the last frame
// read are answered; if the oldest left is a ping timeout old, the peer is dead.
func (s *session) pongDue() {
	if s.ctx.Err() != nil {
		return
	}
	l := &s.live
	d := int64(s.cfg.pingTimeout)
	act := s.m.lastActivity()
	now := s.m.now()
	l.mu.Lock()
	l.armed = false
	if l.parked.Load() {
		act = now // not reading: the silence is ours
	}
	i := 0
	for i < len(l.pings) && l.pings[i] <= act {
		i++
	}
	l.pings = append(l.pings[:0], l.pings[i:]...)
	if len(l.pings) == 0 {
		l.mu.Unlock()
		return
	}
	if oldest := l.pings[0]; oldest+d > now {
		l.armed = true
		l.pongDue.Reset(time.Duration(oldest + d - now))
		l.mu.Unlock()
		return
	}
	l.mu.Unlock()
	s.stop(fmt.Errorf("%w: no frame from %s within %v of a ping", ErrPingTimeout, s.url, s.cfg.pingTimeout))
}

// dataRead restarts the message timeout; the reader calls it on every data frame.
func (s *session) dataRead() {
	l := &s.live
	if l.msgDue != nil {
		l.msgDue.Reset(s.cfg.messageTimeout)
		// Reading again, and the timer now gives a whole timeout of it:
		// a park before this needs no second grace.
		if l.sawParked.Load() {
			l.resumed.Store(s.m.now())
			l.sawParked.Store(false)
		}
	}
}

func (s *session) messageDue() {
	if s.ctx.Err() != nil {
		return
	}
	l := &s.live
	d := s.cfg.messageTimeout
	if l.parked.Load() {
		l.sawParked.Store(true)
		l.msgDue.Reset(d)
		return
	}
	if l.sawParked.Swap(false) {
		// The reader stopped waiting within the last d, and what it reads
		// first may have arrived before the wait (a message's time is that
		// of the socket read that brought it in): the peer gets a whole d
		// of reading before its silence counts.
		l.msgDue.Reset(d)
		return
	}
	if s.m.now()-max(l.started, s.m.lastRecv.Load(), l.resumed.Load()) < int64(d) {
		return // a data frame came in as the timer fired, and re-armed it
	}
	s.stop(fmt.Errorf("%w: no data frame from %s for %v", ErrMessageTimeout, s.url, d))
}

// LastActivity is the clock's time of the last frame of any kind received
// (data, ping or pong), or the zero time before the first. Compared with
// LastRecvTime it tells a quiet feed (pongs, no data) from a dead one.
func (m *Manager) LastActivity() time.Time { return m.timeAt(m.lastActivity()) }

// lastActivity is the later of the last data frame and the last control
// frame: data frames store only the first, to save a store per message.
func (m *Manager) lastActivity() int64 { return max(m.lastAct.Load(), m.lastRecv.Load()) }
