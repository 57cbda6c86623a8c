package rxws

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/rxpype/rxpype/clock"
)

// ErrUnknownLimit is wrapped by the error Acquire returns for a limit id the
// Throttler was not built with (or a linked id that names no limit), so a
// typo in a Request's LimitID fails loudly instead of going unthrottled.
// The returned error's text names the offending id.
var ErrUnknownLimit = errors.New("rxws: unknown rate limit")

// ErrWeightExceedsLimit is wrapped by the error Acquire returns when a
// request's weight on some limit is more than that limit's effective
// capacity (after share and safety margin, or for a Limit of 0 or less).
// Such a request could never proceed; waiting for it would block every
// request queued behind it forever, so it fails at once and charges nothing.
var ErrWeightExceedsLimit = errors.New("rxws: request weight exceeds rate limit")

// RateLimit declares one budget of an API: at most Limit units of weight in
// any sliding window of length Interval, a grant counting from its moment
// until Interval after it, exclusive (so grants at 0 and at exactly Interval
// are never in one window). It mirrors networkpype's RateLimit.
type RateLimit struct {
	// LimitID is what Request.LimitID and LinkedLimit.LimitID refer to.
	LimitID string
	// Limit is the capacity per Interval as the API publishes it; the
	// Throttler applies its share and safety margin on top. A Limit of 0
	// or less admits nothing: Acquire fails with ErrWeightExceedsLimit.
	Limit int
	// Interval is the length of the sliding window. An Interval of 0 or
	// less keeps no history, so the limit never makes anyone wait.
	Interval time.Duration
	// Weight is what one request for this limit costs on it; less than 1
	// means 1, so the zero value behaves like networkpype's default.
	Weight int
	// Linked are further budgets the same request also draws on, such as a
	// per-IP limit shared by several endpoints.
	Linked []LinkedLimit
}

// LinkedLimit names another RateLimit that a request also charges, with its
// own weight there (less than 1 means 1, networkpype's default).
type LinkedLimit struct {
	LimitID string // a RateLimit's LimitID
	Weight  int    // charged to it; less than 1 means 1
}

// ThrottlerOption configures NewThrottler.
type ThrottlerOption func(*throttlerConfig)

type throttlerConfig struct {
	clock  clock.Clock
	margin float64
	share  float64
}

// WithThrottlerClock sets the clock windows and waits are measured on, so
// tests can drive the Throttler with clock.NewMock instead of sleeping.
// nil means the real clock.
func WithThrottlerClock(c clock.Clock) ThrottlerOption {
	return func(cfg *throttlerConfig) { cfg.clock = c }
}

// WithSafetyMargin keeps pct percent (default 5, clamped to 0..100) of every
// limit unused, so clock skew and requests in flight do not push the server's
// own count over its limit. The units kept are floor(limit × pct / 100), so at
// the default a limit under 20 keeps none; a small limit that needs room for
// skew wants a larger pct, or a Limit set below the published one. The margin
// never lowers a positive limit below 1.
func WithSafetyMargin(pct float64) ThrottlerOption {
	return func(cfg *throttlerConfig) { cfg.margin = pct }
}

// WithLimitShare uses only pct percent (default 100, clamped to 0..100) of
// every limit, for when several processes share one API key and must split
// its budget. The share never lowers a positive limit below 1.
func WithLimitShare(pct float64) ThrottlerOption {
	return func(cfg *throttlerConfig) { cfg.share = pct }
}

// WithRetryInterval exists for parity with networkpype's retry_interval and
// is ignored: networkpype polls for capacity every retry interval, while a
// waiting Acquire here sleeps on the clock until the exact moment capacity
// frees, which is both sooner and cheaper.
func WithRetryInterval(d time.Duration) ThrottlerOption {
	return func(*throttlerConfig) {}
}

// Throttler keeps requests within a set of sliding-window rate limits, the
// counterpart of networkpype's AsyncThrottler. Waiting requests are served
// strictly first come, first served, so a heavy request is never starved by a
// stream of light ones. It is safe for concurrent use.
//
// The zero Throttler and a nil *Throttler charge nothing: Acquire returns nil
// at once for any limit id, so "no throttler" needs no special case.
type Throttler struct {
	clock  clock.Clock
	limits map[string]*rule

	mu      sync.Mutex
	first   *waiter // head of the FIFO queue; only it is ever considered
	last    *waiter
	waiting int
	timer   *clock.Timer // one timer, armed for the head's earliest grant
}

// rule is what Acquire needs for one limit id, resolved once at construction
// so the hot path is a map lookup and a few integer compares.
type rule struct {
	charges []charge
	err     error // non-nil: every Acquire for this id fails with it
}

type charge struct {
	win    *window
	weight int
}

type waiter struct {
	charges    []charge
	ready      chan struct{} // closed once granted
	granted    bool
	at         time.Time // when granted
	prev, next *waiter
}

// ticket records one grant, so that a grant its caller could not use (the
// frame was never written) can be given back with refund. The zero ticket
// is no grant.
type ticket struct {
	charges []charge
	at      time.Time
}

// grant is one charge recorded in a window: it counts while
// at > now-interval.
type grant struct {
	at     time.Time
	weight int
}

// window is a ring buffer of grants in time order with their running sum.
// Grants only ever leave from the front, so pruning is amortized O(1) and
// nothing scans the whole window. Every weight is at least 1 and the sum
// never exceeds limit, so the ring holds at most limit entries.
type window struct {
	id       string
	limit    int // effective capacity after share and margin
	interval time.Duration
	ring     []grant // length is zero or a power of two
	head, n  int
	sum      int
}

// NewThrottler builds a Throttler for limits. When two limits share an id the
// later one wins, as in networkpype's dictionary. Problems that would make a
// request wait forever or go unthrottled (a linked id naming no limit, a weight
// above a limit's effective capacity) are reported by Acquire for the ids
// concerned, not here, so one bad entry does not disable the others.
func NewThrottler(limits []RateLimit, opts ...ThrottlerOption) *Throttler {
	cfg := throttlerConfig{margin: 5, share: 100}
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	share, margin := clampPct(cfg.share), clampPct(cfg.margin)

	byID := make(map[string]RateLimit, len(limits))
	for _, l := range limits {
		byID[l.LimitID] = l
	}
	wins := make(map[string]*window, len(byID))
	for id, l := range byID {
		wins[id] = &window{id: id, limit: effectiveLimit(l.Limit, share, margin), interval: l.Interval}
	}

	t := &Throttler{clock: clock.OrReal(cfg.clock), limits: make(map[string]*rule, len(byID))}
	for id, l := range byID {
		t.limits[id] = buildRule(id, l, wins)
	}
	return t
}

func buildRule(id string, l RateLimit, wins map[string]*window) *rule {
	r := &rule{}
	add := func(w *window, weight int) {
		weight = max(weight, 1)
		// The same limit reached twice (linked to itself, or linked twice)
		// must be checked against the summed weight, not each part alone.
		for i := range r.charges {
			if r.charges[i].win == w {
				// Saturating: a sum past MaxInt must still fail the
				// check against the limit below, not wrap negative.
				r.charges[i].weight = min(r.charges[i].weight, math.MaxInt-weight) + weight
				return
			}
		}
		r.charges = append(r.charges, charge{win: w, weight: weight})
	}
	add(wins[id], l.Weight)
	for _, ln := range l.Linked {
		w, ok := wins[ln.LimitID]
		if !ok {
			r.err = fmt.Errorf("%w %q (linked from %q)", ErrUnknownLimit, ln.LimitID, id)
			return r
		}
		add(w, ln.Weight)
	}
	for _, c := range r.charges {
		if c.weight > c.win.limit {
			r.err = fmt.Errorf("%w: %q costs %d on %q, whose effective limit is %d",
				ErrWeightExceedsLimit, id, c.weight, c.win.id, c.win.limit)
			return r
		}
	}
	return r
}

func clampPct(p float64) float64 {
	if !(p > 0) { // also catches NaN
		return 0
	}
	return min(p, 100)
}

// floorPct is floor(n*pct/100) for n >= 0 and pct in 0..100, forgiving the
// float rounding that would turn an exact 7 into 6.999…. It never exceeds n:
// near math.MaxInt, float64(n) rounds up to 2^63, which int cannot hold.
func floorPct(n int, pct float64) int {
	if pct >= 100 {
		return n
	}
	x := float64(n) * pct / 100
	if r := math.Round(x); math.Abs(x-r) < 1e-9*math.Max(1, math.Abs(x)) {
		x = r
	}
	if x >= float64(n) { // float64(n) may be 2^63: compare before converting
		return n
	}
	return int(math.Floor(x))
}

func effectiveLimit(limit int, share, margin float64) int {
	if limit <= 0 {
		return 0
	}
	base := max(1, floorPct(limit, share))
	return max(1, base-floorPct(base, margin))
}

// Acquire charges limitID's weight on its limit and each linked limit's weight
// on that limit, all at once, as soon as every one of them has room and every
// request that asked before has been served. It returns nil once charged.
//
// A LimitID of "" charges nothing and returns nil, so requests that need no
// throttling can share a code path with those that do. An id the Throttler
// does not know returns an error wrapping ErrUnknownLimit, and one whose
// weight no window could ever hold an error wrapping ErrWeightExceedsLimit;
// neither charges anything.
//
// If ctx ends first, Acquire gives up its place, charges nothing and returns
// ctx.Err(). When the grant and the cancellation race, a grant already made
// stands and Acquire returns nil: the capacity was spent, so the caller should
// use it.
func (t *Throttler) Acquire(ctx context.Context, limitID string) error {
	_, err := t.acquire(ctx, limitID)
	return err
}

// acquire is Acquire, also returning the grant's ticket (the zero ticket
// when nothing was charged) for refund.
func (t *Throttler) acquire(ctx context.Context, limitID string) (ticket, error) {
	if t == nil || t.limits == nil || limitID == "" {
		return ticket{}, nil
	}
	r, ok := t.limits[limitID]
	if !ok {
		return ticket{}, fmt.Errorf("%w %q", ErrUnknownLimit, limitID)
	}
	if r.err != nil {
		return ticket{}, r.err
	}
	if err := ctx.Err(); err != nil {
		return ticket{}, err
	}

	t.mu.Lock()
	now := t.clock.Now()
	if t.first == nil && fits(r.charges, now) {
		take(r.charges, now)
		t.mu.Unlock()
		return ticket{charges: r.charges, at: now}, nil
	}
	w := &waiter{charges: r.charges, ready: make(chan struct{})}
	t.push(w)
	if t.first == w {
		t.dispatch(now)
	}
	t.mu.Unlock()

	select {
	case <-w.ready:
		return ticket{charges: w.charges, at: w.at}, nil
	case <-ctx.Done():
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if w.granted {
		return ticket{charges: w.charges, at: w.at}, nil
	}
	wasHead := t.first == w
	t.unlink(w)
	if wasHead {
		// The next waiter may fit now, or need a different wake-up time.
		t.dispatch(t.clock.Now())
	}
	return ticket{}, ctx.Err()
}

// refund gives back a grant whose request was never sent (its connection
// ended, or its sender gave up, between the grant and the write), so that an
// unsent frame costs nothing: charging it again on the next connection would
// otherwise cost it twice. Grants that have left their windows already are
// gone and need nothing.
func (t *Throttler) refund(tk ticket) {
	if t == nil || tk.charges == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, c := range tk.charges {
		c.win.remove(tk.at, c.weight)
	}
	if t.first != nil {
		t.dispatch(t.clock.Now()) // the head may fit now
	}
}

// Waiting reports how many Acquire calls are queued. Tests use it to know a
// waiter has parked before they move a mock clock.
func (t *Throttler) Waiting() int {
	if t == nil {
		return 0
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.waiting
}

// dispatch grants queued waiters from the head for as long as they fit, then
// arms the timer for the moment the new head will fit. t.mu must be held.
func (t *Throttler) dispatch(now time.Time) {
	for t.first != nil {
		w := t.first
		if !fits(w.charges, now) {
			at := freeAt(w.charges)
			// If the clock moved past the wake-up time while we computed,
			// look again now rather than arm a timer in the past. Looping
			// only while the clock moves means we never spin holding mu.
			later := t.clock.Now()
			if later.After(now) && !at.After(later) {
				now = later
				continue
			}
			t.arm(max(at.Sub(later), time.Nanosecond))
			return
		}
		take(w.charges, now)
		w.granted, w.at = true, now
		t.unlink(w)
		close(w.ready)
	}
	if t.timer != nil {
		t.timer.Stop()
	}
}

func (t *Throttler) arm(d time.Duration) {
	if t.timer == nil {
		t.timer = t.clock.AfterFunc(d, t.wake)
		return
	}
	t.timer.Reset(d)
}

// wake runs when the head's capacity should have freed. A stale firing (the
// timer was re-armed meanwhile) is harmless: dispatch re-checks everything.
func (t *Throttler) wake() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.first != nil {
		t.dispatch(t.clock.Now())
	}
}

func (t *Throttler) push(w *waiter) {
	w.prev = t.last
	if t.last != nil {
		t.last.next = w
	} else {
		t.first = w
	}
	t.last = w
	t.waiting++
}

func (t *Throttler) unlink(w *waiter) {
	if w.prev != nil {
		w.prev.next = w.next
	} else {
		t.first = w.next
	}
	if w.next != nil {
		w.next.prev = w.prev
	} else {
		t.last = w.prev
	}
	w.prev, w.next = nil, nil
	t.waiting--
}

func fits(cs []charge, now time.Time) bool {
	for _, c := range cs {
		c.win.prune(now)
		if c.weight > c.win.limit-c.win.sum { // sum+weight could overflow
			return false
		}
	}
	return true
}

func take(cs []charge, now time.Time) {
	for _, c := range cs {
		c.win.add(now, c.weight)
	}
}

// freeAt is the earliest time at which every charge fits, given the grants
// recorded so far. Each window's walk stops after at most weight entries.
func freeAt(cs []charge) time.Time {
	var at time.Time
	for _, c := range cs {
		if t := c.win.freeAt(c.weight); t.After(at) {
			at = t
		}
	}
	return at
}

func (w *window) prune(now time.Time) {
	if w.n == 0 {
		return
	}
	cutoff := now.Add(-w.interval)
	mask := len(w.ring) - 1
	for w.n > 0 && !w.ring[w.head].at.After(cutoff) {
		w.sum -= w.ring[w.head].weight
		w.ring[w.head] = grant{}
		w.head = (w.head + 1) & mask
		w.n--
	}
}

func (w *window) add(now time.Time, weight int) {
	if w.interval <= 0 {
		return // nothing would ever count
	}
	if w.n == len(w.ring) {
		w.grow()
	}
	w.ring[(w.head+w.n)&(len(w.ring)-1)] = grant{at: now, weight: weight}
	w.n++
	w.sum += weight
}

// remove takes out one grant of weight made at at, the newest such: grants
// with equal time and weight are interchangeable. Later grants move up, so
// the ring stays in time order.
func (w *window) remove(at time.Time, weight int) {
	mask := len(w.ring) - 1
	for i := w.n - 1; i >= 0; i-- {
		g := w.ring[(w.head+i)&mask]
		if g.at.Before(at) {
			return // older than the grant: it has left the window
		}
		if g.weight != weight || !g.at.Equal(at) {
			continue
		}
		for j := i; j < w.n-1; j++ {
			w.ring[(w.head+j)&mask] = w.ring[(w.head+j+1)&mask]
		}
		w.n--
		w.ring[(w.head+w.n)&mask] = grant{}
		w.sum -= weight
		return
	}
}

func (w *window) grow() {
	size := max(16, 2*len(w.ring))
	ring := make([]grant, size)
	for i := 0; i < w.n; i++ {
		ring[i] = w.ring[(w.head+i)&(len(w.ring)-1)]
	}
	w.ring, w.head = ring, 0
}

// freeAt is the earliest time weight more fits: when enough of the oldest
// grants have left the window.
func (w *window) freeAt(weight int) time.Time {
	excess := weight - (w.limit - w.sum) // sum+weight could overflow
	mask := len(w.ring) - 1
	for i := 0; i < w.n && excess > 0; i++ {
		g := w.ring[(w.head+i)&mask]
		excess -= g.weight
		if excess <= 0 {
			return g.at.Add(w.interval)
		}
	}
	return time.Time{} // fits already
}
