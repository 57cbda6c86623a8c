// Package clock is the single seam for time in rxpype.
//
// Every timer in the library (pings, pong deadlines, message timeouts,
// reconnect backoff, the throttler's waits and LastRecvTime) reads a Clock
// taken from an option: the manager's (rxws.WithClock) or the throttler's
// (rxws.WithThrottlerClock). The deadlines on the socket itself (the
// handshake, a frame's write, Disconnect's wait for the close frame) are
// wall time, so that a stopped mock clock never leaves them hanging.
// Production code uses New, the wall clock; tests use NewMock and move time
// forward with Mock.Add, so that no test sleeps to wait for a timer.
//
// The types are those of github.com/benbjohnson/clock, re-exported so that
// callers need import only this package.
package clock

import (
	bclock "github.com/benbjohnson/clock"
)

// Clock tells the time and makes timers. The zero value of an interface is
// nil; every rxpype constructor treats a nil Clock as New().
type Clock = bclock.Clock

// Mock is a Clock that moves only when told to (Add, Set). Timers due at or
// before the new time fire, in order, during the call that moves it: a
// Timer's or Ticker's channel is sent the time, and an AfterFunc's function
// is started in a goroutine of its own, which the call does not wait for
// (it pauses about a millisecond after each timer, which is usually long
// enough). So a test waits for what the function does, not for Add to
// return.
//
// Three ways it differs from the real clock, all from
// github.com/benbjohnson/clock:
//   - an AfterFunc or a Reset due at or before the mock's current time
//     (AfterFunc(0, f), Reset(0)) fires at the next Add or Set, not at once;
//   - Timer(0), After(0) and Sleep(0) fire at once, unless a timer is
//     already due (such an AfterFunc): that one fires in their place, and
//     they wait for the next Add or Set (Sleep(0) too);
//   - a Timer's channel holds one value, so resetting a Timer that fired
//     while nobody read C blocks the next Add (and with it the Mock): drain
//     C before Reset, as with time.Timer before Go 1.23.
type Mock = bclock.Mock

// Timer is a single event from a Clock.
type Timer = bclock.Timer

// Ticker delivers ticks from a Clock at intervals.
type Ticker = bclock.Ticker

// New returns the real clock, backed by package time.
func New() Clock { return bclock.New() }

// NewMock returns a mock clock set to the Unix epoch.
func NewMock() *Mock { return bclock.NewMock() }

// OrReal returns c, or the real clock when c is nil. Constructors use it so
// that a zero-valued option means "wall time".
func OrReal(c Clock) Clock {
	if c == nil {
		return New()
	}
	return c
}
