// Package clock is the single seam for time in rxpype.
//
// Every timer in the library (pings, pong deadlines, message timeouts,
// reconnect backoff, the throttler's waits and LastRecvTime) reads a Clock
// taken from an option: the manager's (rxws.WithClock) or the throttler's
// (rxws.WithThrottlerClock). The deadlines on the socket itself (the
// handshake, a frame's write, Disconnect's wait for the close frame) are
// wall time, so that a stopped mock clock never leaves them hanging.
// Production code uses New, the wall clock; tests use NewMock and move time
// forward with Mock.Add, so nothing in a test sleeps.
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
// before the new time fire, in order, during the call that moves it.
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
