package rxws_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rxpype/rxpype/clock"
	"github.com/rxpype/rxpype/rxws"
)

// steppingClock is the mock clock moved on by step at every Now. Mock.Add
// sleeps a millisecond per call, which would swamp a nanosecond benchmark,
// and a clock that never moves would keep every grant in the window and grow
// it without bound; stepping keeps the window at a fixed size instead.
type steppingClock struct {
	*clock.Mock
	base time.Time
	step time.Duration
	n    atomic.Int64
}

func (c *steppingClock) Now() time.Time {
	return c.base.Add(time.Duration(c.n.Add(1)) * c.step)
}

func benchAcquire(b *testing.B, inWindow int) {
	const interval = time.Second
	mock := clock.NewMock()
	clk := &steppingClock{Mock: mock, base: mock.Now(), step: interval / time.Duration(inWindow)}
	thr := rxws.NewThrottler([]rxws.RateLimit{{LimitID: "a", Limit: 1 << 30, Interval: interval}},
		rxws.WithThrottlerClock(clk))
	ctx := context.Background()
	// Fill the window (and grow its ring) before timing.
	for i := 0; i < 2*inWindow; i++ {
		if err := thr.Acquire(ctx, "a"); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := thr.Acquire(ctx, "a"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAcquireNoWait is the common case: room to spare, one grant in the
// window.
func BenchmarkAcquireNoWait(b *testing.B) { benchAcquire(b, 1) }

// BenchmarkAcquireFullWindow keeps 10,000 grants inside the window: each
// Acquire prunes the oldest and appends one, so it must cost what NoWait does.
func BenchmarkAcquireFullWindow(b *testing.B) { benchAcquire(b, 10000) }
