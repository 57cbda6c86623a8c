package rxws_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rxpype/rxpype/clock"
	"github.com/rxpype/rxpype/rxws"
)

// A stuck test must fail, not hang until the go test timeout; the deadline is
// wall time only because nothing here ever sleeps on it.
const stuck = 10 * time.Second

// start runs Acquire in its own goroutine and reports its result.
func start(ctx context.Context, thr *rxws.Throttler, id string) <-chan error {
	done := make(chan error, 1)
	go func() { done <- thr.Acquire(ctx, id) }()
	return done
}

// waitParked spins until n Acquire calls are queued, so the test may move the
// mock clock knowing the waiters' timer is armed.
func waitParked(t *testing.T, thr *rxws.Throttler, n int) {
	t.Helper()
	deadline := time.Now().Add(stuck)
	for thr.Waiting() != n {
		if time.Now().After(deadline) {
			t.Fatalf("Waiting() = %d, want %d", thr.Waiting(), n)
		}
		runtime.Gosched()
	}
}

func result(t *testing.T, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(stuck):
		t.Fatal("Acquire did not return")
		return nil
	}
}

func notReturned(t *testing.T, done <-chan error, what string) {
	t.Helper()
	select {
	case err := <-done:
		t.Fatalf("%s returned early (err %v)", what, err)
	default:
	}
}

// tryNow reports whether Acquire is granted without waiting. A call that
// parks is cancelled, which must leave no charge behind. Only the calling
// test may change the queue meanwhile.
func tryNow(t *testing.T, thr *rxws.Throttler, id string) bool {
	t.Helper()
	before := thr.Waiting()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := start(ctx, thr, id)
	deadline := time.Now().Add(stuck)
	for {
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("Acquire(%q): %v", id, err)
			}
			return true
		default:
		}
		if thr.Waiting() > before {
			cancel()
			if err := result(t, done); !errors.Is(err, context.Canceled) {
				t.Fatalf("cancelled Acquire(%q) = %v, want context.Canceled", id, err)
			}
			return false
		}
		if time.Now().After(deadline) {
			t.Fatalf("Acquire(%q) neither returned nor parked", id)
		}
		runtime.Gosched()
	}
}

// countNow is how many requests for id pass at once, i.e. the free capacity.
func countNow(t *testing.T, thr *rxws.Throttler, id string) int {
	t.Helper()
	n := 0
	for tryNow(t, thr, id) {
		if n++; n > 10000 {
			t.Fatalf("limit %q never binds", id)
		}
	}
	return n
}

func TestEleventhRequestWaitsExactlyOneInterval(t *testing.T) {
	clk := clock.NewMock()
	thr := rxws.NewThrottler([]rxws.RateLimit{{LimitID: "a", Limit: 10, Interval: time.Second}},
		rxws.WithThrottlerClock(clk))
	t0 := clk.Now()
	for i := 0; i < 10; i++ {
		if err := thr.Acquire(context.Background(), "a"); err != nil {
			t.Fatal(err)
		}
	}
	done := start(context.Background(), thr, "a")
	waitParked(t, thr, 1)

	clk.Add(time.Second - time.Nanosecond)
	notReturned(t, done, "11th request one tick before the interval")
	if n := thr.Waiting(); n != 1 {
		t.Fatalf("Waiting() = %d, want 1", n)
	}

	clk.Add(time.Nanosecond)
	if err := result(t, done); err != nil {
		t.Fatal(err)
	}
	if got := clk.Now().Sub(t0); got != time.Second {
		t.Fatalf("granted after %v, want 1s", got)
	}
	if n := thr.Waiting(); n != 0 {
		t.Fatalf("Waiting() = %d after the grant, want 0", n)
	}

	// The same edge met by a newcomer rather than by the timer: the grant
	// at 1s blocks a full window until exactly 2s.
	for i := 0; i < 9; i++ {
		_ = thr.Acquire(context.Background(), "a")
	}
	clk.Add(time.Second - time.Nanosecond)
	if tryNow(t, thr, "a") {
		t.Fatal("granted one tick before the window's first grant expired")
	}
	clk.Add(time.Nanosecond)
	if !tryNow(t, thr, "a") {
		t.Fatal("not granted when the window's first grant expired")
	}
}

func TestLinkedLimitIsChargedWithItsOwnWeight(t *testing.T) {
	clk := clock.NewMock()
	thr := rxws.NewThrottler([]rxws.RateLimit{
		{LimitID: "orders", Limit: 10, Interval: time.Second, Weight: 3,
			Linked: []rxws.LinkedLimit{{LimitID: "global", Weight: 2}}},
		{LimitID: "global", Limit: 10, Interval: time.Second},
	}, rxws.WithThrottlerClock(clk))

	// 3 orders cost 9 of 10 on "orders" and 6 of 10 on "global".
	if n := countNow(t, thr, "orders"); n != 3 {
		t.Fatalf("%d orders passed, want 3", n)
	}
	if n := countNow(t, thr, "global"); n != 4 {
		t.Fatalf("%d global requests passed after 3 orders, want 4", n)
	}
	// Once everything has left the window, fill "global" alone: an order
	// must now wait although its own limit is empty.
	clk.Add(time.Second)
	if n := countNow(t, thr, "global"); n != 10 {
		t.Fatalf("%d global requests passed after the window, want 10", n)
	}
	if tryNow(t, thr, "orders") {
		t.Fatal("an order passed while its linked limit was full")
	}
}

func TestShareAndSafetyMarginShrinkTheLimit(t *testing.T) {
	for _, tc := range []struct {
		name  string
		limit int
		opts  []rxws.ThrottlerOption
		want  int
	}{
		{"defaults keep a small limit whole", 10, nil, 10},
		{"default 5% margin", 100, nil, 95},
		{"no margin", 100, []rxws.ThrottlerOption{rxws.WithSafetyMargin(0)}, 100},
		{"half share then 10% margin", 100, []rxws.ThrottlerOption{rxws.WithLimitShare(50), rxws.WithSafetyMargin(10)}, 45},
		{"70% share is exact", 10, []rxws.ThrottlerOption{rxws.WithLimitShare(70), rxws.WithSafetyMargin(0)}, 7},
		{"a tiny share still leaves 1", 10, []rxws.ThrottlerOption{rxws.WithLimitShare(5)}, 1},
		{"a full margin still leaves 1", 10, []rxws.ThrottlerOption{rxws.WithSafetyMargin(100)}, 1},
		{"retry interval changes nothing", 10, []rxws.ThrottlerOption{rxws.WithRetryInterval(time.Hour)}, 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := append([]rxws.ThrottlerOption{rxws.WithThrottlerClock(clock.NewMock())}, tc.opts...)
			thr := rxws.NewThrottler([]rxws.RateLimit{{LimitID: "a", Limit: tc.limit, Interval: time.Second}}, opts...)
			if n := countNow(t, thr, "a"); n != tc.want {
				t.Fatalf("%d passed, want %d", n, tc.want)
			}
		})
	}
}

// pool is a shared budget of 10 per second that "heavy" draws 5 from and
// "light" 1.
func poolThrottler(clk clock.Clock) *rxws.Throttler {
	return rxws.NewThrottler([]rxws.RateLimit{
		{LimitID: "pool", Limit: 10, Interval: time.Second},
		{LimitID: "heavy", Limit: 1000, Interval: time.Second, Linked: []rxws.LinkedLimit{{LimitID: "pool", Weight: 5}}},
		{LimitID: "light", Limit: 1000, Interval: time.Second, Linked: []rxws.LinkedLimit{{LimitID: "pool"}}},
	}, rxws.WithThrottlerClock(clk))
}

func TestWaitersAreServedInArrivalOrder(t *testing.T) {
	clk := clock.NewMock()
	thr := poolThrottler(clk)
	ctx := context.Background()
	for i := 0; i < 5; i++ {
		_ = thr.Acquire(ctx, "light") // at 0s
	}
	clk.Add(500 * time.Millisecond)
	for i := 0; i < 3; i++ {
		_ = thr.Acquire(ctx, "light") // at 0.5s: the pool holds 8
	}

	heavy := start(ctx, thr, "heavy") // needs 5: waits for 1s
	waitParked(t, thr, 1)
	var light [3]<-chan error // l1 alone would fit, but arrived later
	for i := range light {
		light[i] = start(ctx, thr, "light")
		waitParked(t, thr, 2+i)
	}

	clk.Add(500*time.Millisecond - time.Nanosecond)
	notReturned(t, heavy, "heavy")
	for i := range light {
		notReturned(t, light[i], fmt.Sprintf("light %d, queued behind heavy,", i+1))
	}

	// At 1s the five grants from 0s leave: heavy (8), l1 (9), l2 (10).
	clk.Add(time.Nanosecond)
	for _, done := range []<-chan error{heavy, light[0], light[1]} {
		if err := result(t, done); err != nil {
			t.Fatal(err)
		}
	}
	waitParked(t, thr, 1)
	notReturned(t, light[2], "light 3")

	// At 1.5s the three grants from 0.5s leave.
	clk.Add(500 * time.Millisecond)
	if err := result(t, light[2]); err != nil {
		t.Fatal(err)
	}
}

func TestCancelledWaiterChargesNothingAndWakesTheNext(t *testing.T) {
	clk := clock.NewMock()
	thr := poolThrottler(clk)
	bg := context.Background()
	for i := 0; i < 8; i++ {
		_ = thr.Acquire(bg, "light")
	}
	ctx, cancel := context.WithCancel(bg)
	defer cancel()
	heavy := start(ctx, thr, "heavy")
	waitParked(t, thr, 1)
	light := start(bg, thr, "light")
	waitParked(t, thr, 2)
	notReturned(t, light, "light behind heavy")

	// Cancelling the head lets the light request, which fits, go at once:
	// the clock does not move.
	cancel()
	if err := result(t, heavy); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Acquire = %v, want context.Canceled", err)
	}
	if err := result(t, light); err != nil {
		t.Fatal(err)
	}
	// The pool holds 9: heavy left nothing behind.
	if n := countNow(t, thr, "light"); n != 1 {
		t.Fatalf("%d more passed, want 1", n)
	}
	if n := thr.Waiting(); n != 0 {
		t.Fatalf("Waiting() = %d, want 0", n)
	}
}

func TestCancelledWaiterBehindTheHeadLeavesTheQueue(t *testing.T) {
	clk := clock.NewMock()
	thr := poolThrottler(clk)
	bg := context.Background()
	for i := 0; i < 10; i++ {
		_ = thr.Acquire(bg, "light")
	}
	head := start(bg, thr, "light")
	waitParked(t, thr, 1)
	ctx, cancel := context.WithCancel(bg)
	second := start(ctx, thr, "heavy")
	waitParked(t, thr, 2)
	cancel()
	if err := result(t, second); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Acquire = %v, want context.Canceled", err)
	}
	waitParked(t, thr, 1)
	clk.Add(time.Second)
	if err := result(t, head); err != nil {
		t.Fatal(err)
	}
	// 1 of 10 used at 1s: heavy's cancelled request took nothing.
	if n := countNow(t, thr, "light"); n != 9 {
		t.Fatalf("%d passed, want 9", n)
	}
}

func TestDoneContextFailsAtOnce(t *testing.T) {
	thr := poolThrottler(clock.NewMock())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := thr.Acquire(ctx, "light"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Acquire with a done context = %v, want context.Canceled", err)
	}
	if n := countNow(t, thr, "light"); n != 10 {
		t.Fatalf("%d passed, want 10", n)
	}
}

func TestErrors(t *testing.T) {
	thr := rxws.NewThrottler([]rxws.RateLimit{
		{LimitID: "a", Limit: 10, Interval: time.Second},
		{LimitID: "dangling", Limit: 10, Interval: time.Second, Linked: []rxws.LinkedLimit{{LimitID: "ghost"}}},
		{LimitID: "huge", Limit: 10, Interval: time.Second, Weight: 11},
		{LimitID: "closed", Limit: 0, Interval: time.Second},
	}, rxws.WithThrottlerClock(clock.NewMock()))
	ctx := context.Background()

	for id, want := range map[string]error{
		"nope":     rxws.ErrUnknownLimit,
		"dangling": rxws.ErrUnknownLimit,
		"huge":     rxws.ErrWeightExceedsLimit,
		"closed":   rxws.ErrWeightExceedsLimit,
	} {
		err := thr.Acquire(ctx, id)
		if !errors.Is(err, want) {
			t.Errorf("Acquire(%q) = %v, want %v", id, err, want)
		}
		if err != nil && !strings.Contains(err.Error(), fmt.Sprintf("%q", id)) {
			t.Errorf("Acquire(%q) error %q does not name the id", id, err)
		}
	}
	if err := thr.Acquire(ctx, "dangling"); err == nil || !strings.Contains(err.Error(), `"ghost"`) {
		t.Errorf("dangling link error %v does not name the missing id", err)
	}
	if thr.Waiting() != 0 {
		t.Errorf("a failed Acquire stayed queued")
	}
}

func TestNoLimitIDAndNoThrottlerChargeNothing(t *testing.T) {
	ctx := context.Background()
	thr := rxws.NewThrottler([]rxws.RateLimit{{LimitID: "a", Limit: 1, Interval: time.Second}},
		rxws.WithThrottlerClock(clock.NewMock()))
	for i := 0; i < 100; i++ {
		if err := thr.Acquire(ctx, ""); err != nil {
			t.Fatal(err)
		}
	}
	var none *rxws.Throttler
	var zero rxws.Throttler
	for i, th := range []*rxws.Throttler{none, &zero} {
		if err := th.Acquire(ctx, "anything"); err != nil {
			t.Fatalf("throttler %d: Acquire = %v, want nil", i, err)
		}
		if th.Waiting() != 0 {
			t.Fatal("Waiting() != 0")
		}
	}
	if !tryNow(t, thr, "a") {
		t.Fatal(`"" charged the limit`)
	}
}

// gatedClock is the mock clock with Now held off while the clock moves, so a
// grant and the time its goroutine records after Acquire returns are the same
// instant: the controller below moves the clock only when every goroutine is
// either queued or has recorded its grant.
type gatedClock struct {
	*clock.Mock
	gate sync.RWMutex
}

func (c *gatedClock) Now() time.Time {
	c.gate.RLock()
	defer c.gate.RUnlock()
	return c.Mock.Now()
}

func (c *gatedClock) advance(d time.Duration) {
	c.gate.Lock()
	defer c.gate.Unlock()
	c.Mock.Add(d)
}

func TestManyGoroutinesNeverExceedAnyWindow(t *testing.T) {
	limits := []rxws.RateLimit{
		{LimitID: "a", Limit: 10, Interval: time.Second, Weight: 2, Linked: []rxws.LinkedLimit{{LimitID: "g", Weight: 1}}},
		{LimitID: "b", Limit: 8, Interval: 500 * time.Millisecond, Linked: []rxws.LinkedLimit{{LimitID: "g", Weight: 2}}},
		{LimitID: "g", Limit: 12, Interval: time.Second},
	}
	cost := map[string]map[string]int{"a": {"a": 2, "g": 1}, "b": {"b": 1, "g": 2}}
	clk := &gatedClock{Mock: clock.NewMock()}
	thr := rxws.NewThrottler(limits, rxws.WithThrottlerClock(clk))

	type rec struct {
		id string
		at time.Time
	}
	const n = 100
	var (
		mu       sync.Mutex
		recs     []rec
		recorded atomic.Int64
		wg       sync.WaitGroup
		failures atomic.Int64
	)
	for i := 0; i < n; i++ {
		id := "a"
		if i%2 == 1 {
			id = "b"
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := thr.Acquire(context.Background(), id); err != nil {
				failures.Add(1)
			}
			at := clk.Now()
			mu.Lock()
			recs = append(recs, rec{id, at})
			mu.Unlock()
			recorded.Add(1)
		}()
	}

	deadline := time.Now().Add(stuck)
	for rounds := 0; ; rounds++ {
		// Read recorded before Waiting: a goroutine moves from queued to
		// granted to recorded, so it can be counted at most once, and a
		// granted one that has not recorded yet keeps the sum short.
		for recorded.Load()+int64(thr.Waiting()) != n {
			if time.Now().After(deadline) {
				t.Fatalf("stuck: %d recorded, %d waiting", recorded.Load(), thr.Waiting())
			}
			runtime.Gosched()
		}
		if recorded.Load() == n {
			break
		}
		if rounds > 1000 {
			t.Fatal("the throttler never drained its queue")
		}
		clk.advance(100 * time.Millisecond)
	}
	wg.Wait()
	if failures.Load() != 0 {
		t.Fatalf("%d Acquire calls failed", failures.Load())
	}

	for _, l := range limits {
		for _, end := range recs {
			if cost[end.id][l.LimitID] == 0 {
				continue
			}
			sum := 0
			for _, r := range recs {
				if r.at.After(end.at.Add(-l.Interval)) && !r.at.After(end.at) {
					sum += cost[r.id][l.LimitID]
				}
			}
			if sum > l.Limit {
				t.Fatalf("limit %q: %d charged in the window ending %v, limit %d",
					l.LimitID, sum, end.at.Sub(time.Unix(0, 0)), l.Limit)
			}
		}
	}
	if last := clk.Now().Sub(time.Unix(0, 0)); last < 5*time.Second {
		t.Fatalf("all granted by %v: the limits never made anyone wait", last)
	}
}

// Limits and weights near math.MaxInt keep their meaning: float rounding
// once made a limit of MaxInt admit one request, summed links could wrap
// negative and free room instead of using it, and sum+weight could wrap.
func TestLimitsAndWeightsNearMaxIntDoNotOverflow(t *testing.T) {
	half := math.MaxInt/2 + 1
	thr := rxws.NewThrottler([]rxws.RateLimit{
		{LimitID: "huge", Limit: math.MaxInt, Interval: time.Second},
		{LimitID: "heavy", Limit: math.MaxInt, Interval: time.Second, Weight: half},
		{LimitID: "a", Limit: 2, Interval: time.Second},
		{LimitID: "wraps", Limit: 2, Interval: time.Second,
			Linked: []rxws.LinkedLimit{{LimitID: "a", Weight: math.MaxInt}, {LimitID: "a", Weight: 2}}},
	}, rxws.WithThrottlerClock(clock.NewMock()), rxws.WithSafetyMargin(0))
	for i := 0; i < 100; i++ {
		if !tryNow(t, thr, "huge") {
			t.Fatalf("a limit of math.MaxInt admitted only %d", i)
		}
	}
	if !tryNow(t, thr, "heavy") || tryNow(t, thr, "heavy") {
		t.Fatal("two requests of weight MaxInt/2+1 must not fit in a limit of MaxInt at once")
	}
	if err := thr.Acquire(context.Background(), "wraps"); !errors.Is(err, rxws.ErrWeightExceedsLimit) {
		t.Fatalf("links summing past MaxInt: %v, want ErrWeightExceedsLimit", err)
	}
	if n := countNow(t, thr, "a"); n != 2 {
		t.Fatalf("limit a (2 a second) admitted %d", n)
	}
	// The share and margin of a huge limit are still percentages of it.
	shared := rxws.NewThrottler([]rxws.RateLimit{{LimitID: "h", Limit: math.MaxInt, Interval: time.Second, Weight: math.MaxInt / 2}},
		rxws.WithThrottlerClock(clock.NewMock()), rxws.WithLimitShare(50))
	if err := shared.Acquire(context.Background(), "h"); !errors.Is(err, rxws.ErrWeightExceedsLimit) {
		t.Fatalf("weight MaxInt/2 on 50%% of MaxInt less a 5%% margin: %v, want ErrWeightExceedsLimit", err)
	}
}
