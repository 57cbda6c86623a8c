package rxws

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// Backoff is a reconnect policy: exponential backoff with full jitter.
// Its zero value is usable: every zero field takes the default noted.
type Backoff struct {
	Initial    time.Duration // the first wait's ceiling; default 500 ms
	Max        time.Duration // the largest ceiling; default 30 s
	Multiplier float64       // growth per attempt; less than 1 means the default, 2
	// MaxAttempts is how many dials in a row may fail, or give connections
	// that do not last MinUptime, before giving up; 0 means never give up.
	MaxAttempts int
	// MinUptime is how long a connection must stay up for the next loss to
	// start again from attempt 1; default 5 s. A loss sooner goes on
	// counting, so the waits keep growing (and MaxAttempts is reached)
	// against a server that accepts the handshake and then drops, as one
	// that rejects an API key with a close frame does. Negative: every
	// connection starts the count again.
	MinUptime time.Duration
	// Jitter picks the wait from its ceiling. nil is full jitter: uniform in
	// [0, ceiling]. Tests pass NoJitter for exact waits.
	Jitter func(ceiling time.Duration) time.Duration
}

// DefaultMinUptime is Backoff.MinUptime's default.
const DefaultMinUptime = 5 * time.Second

// firstAttempt is the number of the first dial after prev was lost: 1, or
// the count carried on when prev itself came from a reconnect and did not
// last MinUptime on the manager's clock.
func (b Backoff) firstAttempt(prev *session) int {
	minUp := b.MinUptime
	if minUp == 0 {
		minUp = DefaultMinUptime
	}
	if prev.attempt > 0 && prev.m.now()-prev.began < int64(minUp) {
		return prev.attempt + 1
	}
	return 1
}

// NoJitter waits the full ceiling each time.
func NoJitter(ceiling time.Duration) time.Duration { return ceiling }

// Delay is the wait before attempt n (from 1).
func (b Backoff) Delay(n int) time.Duration {
	initial, max, mult := b.Initial, b.Max, b.Multiplier
	if initial <= 0 {
		initial = 500 * time.Millisecond
	}
	if max <= 0 {
		max = 30 * time.Second
	}
	if mult < 1 {
		mult = 2
	}
	// Compared as floats, kept as integers: float64(max) of a Max near
	// math.MaxInt64 rounds up to 2^63, which would wrap negative.
	ceiling := max
	if c := float64(initial) * math.Pow(mult, float64(n-1)); c < float64(max) {
		ceiling = time.Duration(c)
	}
	if b.Jitter != nil {
		return b.Jitter(ceiling)
	}
	return time.Duration(rand.Uint64N(uint64(ceiling) + 1))
}

// WithReconnect makes the manager dial again after any unplanned loss (a
// read error, a close frame from the server, a ping or message timeout, a
// failed write), waiting b's backoff on the clock between attempts, and
// send every subscription again, in order and through the whole pipeline,
// before any queued Send. One that a processor, auth or the throttler
// refuses does not stop the others; the StateConnected that follows names
// it in its Cause. Messages observers keep receiving across reconnects.
// Disconnect stops it at once; giving up after b.MaxAttempts ends the
// stream with a *GaveUpError.
func WithReconnect(b Backoff) ConnectOption {
	return func(c *connectConfig) { c.reconnect = &b }
}

// WithFailFast makes Send, Subscribe, Unsubscribe, Ping and Receive called
// during a reconnect outage return ErrNotConnected at once, instead of
// waiting for the next connection. A Receive already waiting when the
// connection was lost waits on for the next connection's message, until its
// ctx ends. Once a connection is made again they still wait for its
// subscriptions to be sent again, which goes first.
func WithFailFast() Option { return func(c *config) { c.failFast = true } }

// ErrGaveUp matches every *GaveUpError.
var ErrGaveUp = errors.New("rxws: gave up reconnecting")

// GaveUpError ends the stream when the reconnect policy's attempts are spent.
type GaveUpError struct {
	URL      string // the server, without query or credentials
	Attempts int    // Backoff.MaxAttempts
	Last     error  // the last attempt's error
}

// Error names the server, the attempts made and the last one's error.
func (e *GaveUpError) Error() string {
	return fmt.Sprintf("rxws: gave up reconnecting to %s after %d attempts: %v", e.URL, e.Attempts, e.Last)
}

// Is makes errors.Is(err, ErrGaveUp) true.
func (e *GaveUpError) Is(target error) bool { return target == ErrGaveUp }

// Unwrap returns the last attempt's error.
func (e *GaveUpError) Unwrap() error { return e.Last }

// StateKind names a connection state.
type StateKind uint8

const (
	// StateConnecting: Connect is dialling.
	StateConnecting StateKind = iota
	// StateConnected: a connection is up (after a reconnect, with Downtime set).
	StateConnected
	// StateReconnecting: the connection was lost; Attempt, Wait and Cause say more.
	StateReconnecting
	// StateDisconnected: the stream is over; Cause is nil after Disconnect or
	// a normal close.
	StateDisconnected
)

// String names the kind: "connecting", "connected" and so on.
func (k StateKind) String() string {
	switch k {
	case StateConnecting:
		return "connecting"
	case StateConnected:
		return "connected"
	case StateReconnecting:
		return "reconnecting"
	case StateDisconnected:
		return "disconnected"
	}
	return fmt.Sprintf("state(%d)", uint8(k))
}

// State is one change of a manager's connection state.
type State struct {
	Kind StateKind // what the state became
	At   time.Time // the clock's time of the change
	URL  string    // the server, without query or credentials
	// Attempt counts dials since the loss, from 1 (StateReconnecting); a
	// loss within Backoff.MinUptime of a reconnect goes on from its count.
	Attempt int
	// Wait is the backoff before this attempt (StateReconnecting).
	Wait time.Duration
	// Cause is what ended the connection or failed the previous attempt
	// (StateReconnecting), or why the stream ended (StateDisconnected).
	// After a reconnect (StateConnected) it is nil, or the remembered
	// subscriptions that a pre-processor, auth or the throttler refused to
	// send again, one error each, joined; the others were sent.
	Cause error
	// Downtime is how long the stream was down (StateConnected after a
	// reconnect): from the loss to the new connection.
	Downtime time.Duration
}

// String describes the change for logs: its kind, with the attempt and
// wait, the downtime, or the cause where they apply.
func (s State) String() string {
	switch s.Kind {
	case StateReconnecting:
		return fmt.Sprintf("reconnecting (attempt %d in %v): %v", s.Attempt, s.Wait, s.Cause)
	case StateConnected:
		if s.Cause != nil {
			return fmt.Sprintf("connected after %v down; %v", s.Downtime, s.Cause)
		}
		if s.Downtime > 0 {
			return fmt.Sprintf("connected after %v down", s.Downtime)
		}
	case StateDisconnected:
		if s.Cause != nil {
			return fmt.Sprintf("disconnected: %v", s.Cause)
		}
	}
	return s.Kind.String()
}
