// Package source holds generic hot sources for observable pipelines: a
// Subject that many subscribers share, each with its own bounded buffer and
// overflow policy.
//
// rxgo v2 has no Subject, and its hot observables copy each item to their
// observers with a blocking send, so one slow observer stalls all of them,
// there is no unsubscribe, and an observer that joins after completion is
// never closed. Subject fixes each of these. It knows nothing of WebSockets.
package source

import (
	"context"
	"errors"
	"io"
	"sync"
	"sync/atomic"
)

// Policy says what a subscriber's full buffer does with a new item.
type Policy uint8

const (
	// Block makes the publisher wait until the subscriber has room: nothing
	// is lost, and a slow subscriber slows the publisher (and, through TCP
	// flow control, whoever feeds it). It is the zero value.
	Block Policy = iota
	// DropOldest discards the oldest buffered item to make room.
	DropOldest
	// DropNewest discards the new item.
	DropNewest
)

// String names the policy.
func (p Policy) String() string {
	switch p {
	case Block:
		return "block"
	case DropOldest:
		return "drop-oldest"
	case DropNewest:
		return "drop-newest"
	}
	return "policy(?)"
}

// DefaultBuffer is the buffer size of a subscriber whose Config leaves it zero.
const DefaultBuffer = 256

// Config shapes one subscriber. The zero value is a lossless subscriber
// with a buffer of DefaultBuffer items.
type Config struct {
	// Buffer is how many items may wait for the subscriber; 0 means
	// DefaultBuffer, a negative value means unbuffered (an item is handed
	// over only to a subscriber waiting for it; with a dropping policy an
	// item it is not waiting for is dropped).
	Buffer int
	// Policy applies when the buffer is full.
	Policy Policy
	// Once makes the subscription take exactly one item and leave, atomically,
	// so that no second item is ever committed to it. Pull-style reads use it.
	Once bool
	// Name labels the subscriber in Stats; it is not interpreted.
	Name string
	// Meter, if not nil, also receives the subscriber's delivered and
	// dropped counts, and keeps them after the subscriber has left. A Meter
	// given to several subscribers sums their counts.
	Meter *Meter
}

// Meter accumulates the delivered and dropped counts of the subscribers it
// is given to (Config.Meter). Unlike Stats, which lists only the subscribers
// attached now, a Meter can be read after its subscribers have left, so it
// gives a subscriber's final counts. The zero value is ready to use; a Meter
// must not be copied after first use.
type Meter struct {
	delivered atomic.Uint64
	dropped   atomic.Uint64
}

// Delivered returns how many items the metered subscribers have taken. A
// subscriber whose observer reads its channel directly (source.Items, and
// so rxws's Messages) is credited when it leaves or the Subject closes,
// with what was handed to its channel: read, or still there to be read.
func (m *Meter) Delivered() uint64 { return m.delivered.Load() }

// Dropped returns how many items the metered subscribers' overflow
// policies have discarded.
func (m *Meter) Dropped() uint64 { return m.dropped.Load() }

// ErrClosed is returned by Publish once the Subject is closed.
var ErrClosed = errors.New("source: subject closed")

// ErrUnsubscribed is returned by Subscription.Next after Close.
var ErrUnsubscribed = errors.New("source: unsubscribed")

// Subject is a hot, multicast stream of T. Items published while nobody is
// subscribed are not lost: Publish waits for the first subscriber. Each
// subscriber receives every item published while it is subscribed, in
// order, subject to its own overflow Policy.
//
// The zero value is not usable; call NewSubject.
type Subject[T any] struct {
	// One publisher at a time keeps every subscriber's order the same.
	// pubHeld is that lock. Publishers that wait for it count themselves
	// in pubWaiters and wait on pubFree (under mu), so that they can also
	// give up (see lockPub).
	pubHeld    atomic.Bool
	pubWaiters atomic.Int32
	pubFree    chan struct{}

	mu     sync.Mutex
	subs   atomic.Pointer[[]*Subscription[T]] // copy on write: Publish reads it without locking
	joined chan struct{}                      // closed and replaced each time a subscriber joins
	// streamJoined is joined for subscribers that are not Once, which
	// a pull-style reader waits on; streaming counts them. Both under mu.
	streamJoined chan struct{}
	streaming    int

	stopping chan struct{} // closed first by Close: wakes a blocked Publish
	closing  atomic.Bool   // set with stopping: a cheaper check per item
	done     chan struct{} // closed once no more items can arrive
	once     sync.Once
	err      error // the terminal error; nil for a normal completion
}

// NewSubject returns an open Subject with no subscribers.
func NewSubject[T any]() *Subject[T] {
	s := &Subject[T]{
		joined:       make(chan struct{}),
		streamJoined: make(chan struct{}),
		pubFree:      make(chan struct{}),
		stopping:     make(chan struct{}),
		done:         make(chan struct{}),
	}
	s.subs.Store(new([]*Subscription[T]))
	return s
}

// Publish hands v to every current subscriber. It waits while there is no
// subscriber, and while a Block subscriber's buffer is full; a subscriber
// that leaves as v reaches it does not count, so v is not lost when it was
// the only one. It returns ctx's error or ErrClosed if it had to stop
// waiting; v may then have reached some subscribers and not others. With
// ctx already done it publishes nothing and returns ctx's error.
func (s *Subject[T]) Publish(ctx context.Context, v T) error {
	_, err := s.PublishTaken(ctx, v)
	return err
}

// PublishTaken is Publish that also reports whether any subscriber took v
// (or dropped it by its policy). When Publish has to stop waiting, that
// tells a publisher whether v is still its own: a subscriber that joined
// just as ctx ended is no sign that it got v.
func (s *Subject[T]) PublishTaken(ctx context.Context, v T) (taken bool, err error) {
	taken, _, err = s.PublishRest(ctx, v)
	return taken, err
}

// PublishRest is PublishTaken that, when it has to stop waiting after some
// subscribers took v, also returns what it still owes the others: rest,
// for Rest.Publish to finish later or Rest.Drop to give up. Otherwise rest
// is nil.
func (s *Subject[T]) PublishRest(ctx context.Context, v T) (taken bool, rest *Rest[T], err error) {
	if err := ctx.Err(); err != nil {
		return false, nil, err
	}
	if err := s.lockPub(ctx); err != nil {
		return false, nil, err
	}
	defer s.unlockPub()
	for {
		subs, err := s.awaitLocked(ctx)
		if err != nil {
			return false, nil, err
		}
		// Every subscriber may have left as v reached it (a Once
		// subscriber whose Next gave up): then v waits for the next one.
		taken, owed, err := s.deliverLocked(ctx, subs, v)
		if err != nil && taken {
			return true, s.rest(v, owed), err
		}
		if err != nil || taken {
			return taken, nil, err
		}
	}
}

// Rest is the remainder of a publish that stopped partway (PublishRest):
// its item, and the subscribers it had not yet been offered to.
type Rest[T any] struct {
	subj *Subject[T]
	v    T
	subs []*Subscription[T]
}

// rest is what v still owes subs: nil when that is nobody.
func (s *Subject[T]) rest(v T, subs []*Subscription[T]) *Rest[T] {
	if len(subs) == 0 {
		return nil
	}
	return &Rest[T]{subj: s, v: v, subs: subs}
}

// Publish offers the item to those of the rest's subscribers still
// attached, as Publish would, so that each gets it before anything
// published later; it does not wait for a subscriber to exist. If it has to
// stop waiting again, it returns what is still owed, with ctx's error or
// ErrClosed; otherwise nil and nil.
func (r *Rest[T]) Publish(ctx context.Context) (*Rest[T], error) {
	if err := ctx.Err(); err != nil {
		return r, err
	}
	if err := r.subj.lockPub(ctx); err != nil {
		return r, err
	}
	defer r.subj.unlockPub()
	_, owed, err := r.subj.deliverLocked(ctx, r.subs, r.v)
	if err != nil {
		return r.subj.rest(r.v, owed), err
	}
	return nil, nil
}

// Drop gives the item up: each of the rest's subscribers still attached
// counts it as dropped, so that its loss shows in Stats and Meters.
func (r *Rest[T]) Drop() {
	for _, sub := range r.subs {
		select {
		case <-sub.left:
			continue
		default:
		}
		if !sub.once { // a Once subscriber is owed nothing but one item, which it did not get
			sub.drop()
		}
	}
}

// awaitLocked returns the subscribers, waiting for a first one if there is
// none; the publish lock is held.
func (s *Subject[T]) awaitLocked(ctx context.Context) ([]*Subscription[T], error) {
	subs := *s.subs.Load()
	for len(subs) == 0 {
		s.mu.Lock()
		joined := s.joined
		s.mu.Unlock()
		if subs = *s.subs.Load(); len(subs) > 0 {
			break
		}
		select {
		case <-joined:
			subs = *s.subs.Load()
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-s.stopping:
			return nil, ErrClosed
		}
	}
	return subs, nil
}

// Deliver is Publish without the wait for a first subscriber: with nobody
// subscribed, v goes nowhere. It still waits while a Block subscriber's
// buffer is full. A consumer that reads a value for itself uses it to hand
// the same value to whoever else is listening.
func (s *Subject[T]) Deliver(ctx context.Context, v T) error {
	_, err := s.DeliverRest(ctx, v)
	return err
}

// DeliverRest is Deliver that, when it has to stop waiting (or ctx has
// ended before it began), also returns what it still owes the subscribers
// it had not reached (see PublishRest); otherwise rest is nil.
func (s *Subject[T]) DeliverRest(ctx context.Context, v T) (rest *Rest[T], err error) {
	if err := ctx.Err(); err != nil {
		return s.rest(v, *s.subs.Load()), err
	}
	if err := s.lockPub(ctx); err != nil {
		return s.rest(v, *s.subs.Load()), err
	}
	defer s.unlockPub()
	_, owed, err := s.deliverLocked(ctx, *s.subs.Load(), v)
	return s.rest(v, owed), err
}

// lockPub takes the publish lock. It gives up, with ctx's error or
// ErrClosed, when ctx ends or the Subject closes first: the holder may
// itself be waiting for a full buffer, and a publisher must not wait beyond
// its own context.
func (s *Subject[T]) lockPub(ctx context.Context) error {
	return s.waitPub(ctx, s.stopping)
}

// waitPub takes the publish lock, giving up when ctx ends or stop closes.
func (s *Subject[T]) waitPub(ctx context.Context, stop <-chan struct{}) error {
	if s.pubHeld.CompareAndSwap(false, true) {
		return nil
	}
	s.pubWaiters.Add(1)
	defer s.pubWaiters.Add(-1)
	for {
		s.mu.Lock()
		free := s.pubFree
		s.mu.Unlock()
		// Counted, and holding the current pubFree, before trying: if the
		// try fails, the holder's release comes after it in the order of
		// atomic operations, so it sees the count and closes free (or a
		// later channel, once free was closed).
		if s.pubHeld.CompareAndSwap(false, true) {
			return nil
		}
		select {
		case <-free:
		case <-ctx.Done():
			return ctx.Err()
		case <-stop:
			return ErrClosed
		}
	}
}

// unlockPub releases the publish lock and wakes the publishers waiting for it.
func (s *Subject[T]) unlockPub() {
	s.pubHeld.Store(false)
	if s.pubWaiters.Load() > 0 {
		s.mu.Lock()
		close(s.pubFree)
		s.pubFree = make(chan struct{})
		s.mu.Unlock()
	}
}

// deliverLocked offers v to subs and reports whether any of them was still
// there to take it (or drop it by its policy); the publish lock is held.
// If it has to stop waiting, owed is the subscribers not yet offered v,
// starting with the one it was waiting for.
func (s *Subject[T]) deliverLocked(ctx context.Context, subs []*Subscription[T], v T) (taken bool, owed []*Subscription[T], err error) {
	if s.closing.Load() {
		return false, subs, ErrClosed
	}
	for i, sub := range subs {
		switch err := sub.offer(ctx, v, true); {
		case err == errLeft:
			s.remove(sub) // so that a retry does not find it again
		case err != nil:
			return taken, subs[i:], err
		default:
			taken = true
		}
	}
	return taken, nil, nil
}

// Emit hands v to the current subscribers without waiting for a subscriber
// to exist (with none, v is dropped uncounted) or for room (a full Block
// buffer drops v as DropNewest would, and counts it). It does wait for a
// publish under way, as one publisher at a time keeps the order: on a
// Subject that is only emitted to, as side streams such as state changes
// are, that is never long; a Publish waiting for room would hold it too.
func (s *Subject[T]) Emit(v T) {
	_ = s.waitPub(context.Background(), nil) // no ctx, no stop: it cannot fail
	defer s.unlockPub()
	if s.closing.Load() {
		return
	}
	for _, sub := range *s.subs.Load() {
		_ = sub.offer(context.Background(), v, false)
	}
}

// Close ends the stream: subscribers receive what is already buffered, then
// err (nil means a normal completion, reported by Next as io.EOF). Only the
// first Close counts. Close does not wait for subscribers to drain.
func (s *Subject[T]) Close(err error) {
	s.once.Do(func() {
		s.closing.Store(true)
		close(s.stopping)
		_ = s.waitPub(context.Background(), nil) // wait out a Publish in flight so nothing lands after done
		s.err = err
		close(s.done)
		for _, sub := range *s.subs.Load() {
			if sub.direct {
				sub.finish(err)
			}
		}
		s.unlockPub()
	})
}

// Done is closed when the Subject is closed.
func (s *Subject[T]) Done() <-chan struct{} { return s.done }

// Err returns the error the Subject was closed with, nil while it is open or
// after a normal completion.
func (s *Subject[T]) Err() error {
	select {
	case <-s.done:
		return s.err
	default:
		return nil
	}
}

// Subscribers returns how many subscribers are attached now.
func (s *Subject[T]) Subscribers() int { return len(*s.subs.Load()) }

// Streaming returns how many subscribers other than Once ones are attached
// now, and a channel closed when the next such subscriber joins. A reader
// that reads only on demand waits on it: Once subscribers take one value
// and leave, so they are served by their own reads, not by a stream.
func (s *Subject[T]) Streaming() (int, <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.streaming, s.streamJoined
}

// Stats returns a snapshot of every current subscriber's counters, in the
// order they joined. An Items observer is current until it leaves or the
// Subject closes; a Subscription, until it is closed.
func (s *Subject[T]) Stats() []Stats {
	subs := *s.subs.Load()
	out := make([]Stats, len(subs))
	for i, sub := range subs {
		out[i] = sub.Stats()
	}
	return out
}

// Subscribe attaches a subscriber now: it receives every item published
// from this moment on. Close it when done, or it holds its buffer (and, with
// Block, the publisher) for as long as the Subject lives.
func (s *Subject[T]) Subscribe(cfg Config) *Subscription[T] {
	return s.subscribe(cfg, nil)
}

// subscribe attaches a subscriber; with direct set, its channel is handed
// to an observer as is (see subscribeDirect).
func (s *Subject[T]) subscribe(cfg Config, direct func(*Subscription[T])) *Subscription[T] {
	n := cfg.Buffer
	switch {
	case cfg.Once:
		n = 1
	case n == 0:
		n = DefaultBuffer
	case n < 0:
		n = 0
	}
	sub := &Subscription[T]{
		subj:   s,
		ch:     make(chan T, n),
		policy: cfg.Policy,
		once:   cfg.Once,
		name:   cfg.Name,
		meter:  cfg.Meter,
		left:   make(chan struct{}),
	}
	if direct != nil {
		direct(sub)
	}
	s.mu.Lock()
	old := *s.subs.Load()
	next := make([]*Subscription[T], len(old), len(old)+1)
	copy(next, old)
	next = append(next, sub)
	s.subs.Store(&next)
	close(s.joined)
	s.joined = make(chan struct{})
	if !sub.once {
		s.streaming++
		close(s.streamJoined)
		s.streamJoined = make(chan struct{})
	}
	s.mu.Unlock()
	if sub.direct {
		select {
		case <-s.done: // closed before this subscriber joined
			sub.finish(s.err)
		default:
		}
	}
	return sub
}

func (s *Subject[T]) remove(sub *Subscription[T]) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := *s.subs.Load()
	for i, x := range old {
		if x == sub {
			next := make([]*Subscription[T], 0, len(old)-1)
			next = append(next, old[:i]...)
			next = append(next, old[i+1:]...)
			s.subs.Store(&next)
			if !sub.once {
				s.streaming--
			}
			return
		}
	}
}

// Stats counts what one subscriber was given and what it lost.
//
// A snapshot's fields are read one after another while the publisher and
// the subscriber run, so Delivered+Dropped+Buffered equals the number of
// items offered to the subscriber only when neither is moving.
type Stats struct {
	Name      string // Config.Name
	Policy    Policy // Config.Policy: what its full buffer does with a new item
	Delivered uint64 // items the subscriber has taken out of its buffer
	Dropped   uint64 // items its overflow policy discarded
	Buffered  int    // items waiting in its buffer now
	Capacity  int    // its buffer size
}

// Subscription is one subscriber's view of a Subject.
type Subscription[T any] struct {
	subj      *Subject[T]
	ch        chan T
	policy    Policy
	once      bool
	name      string
	meter     *Meter
	mu        sync.Mutex // Once only: orders the commit of the item against Close
	taken     bool
	closed    bool
	left      chan struct{}
	leaveOnce sync.Once
	delivered atomic.Uint64
	dropped   atomic.Uint64

	// A direct subscription's channel is its observer's own (see Items): no
	// goroutine moves items, so the publisher closes the channel, and
	// sendMu keeps every send before that close.
	direct     bool
	sendMu     sync.Mutex
	chClosed   atomic.Bool // set under sendMu; hook reads it without
	terminal   bool        // under sendMu: a goroutine delivers the error item and closes
	enq        atomic.Uint64
	evicted    atomic.Uint64
	errItem    func(error) T
	stopCtx    atomic.Pointer[func() bool] // ends the observer's context hook (see hook)
	finishOnce sync.Once
	meterOnce  sync.Once
}

// offer hands v to the subscriber under its policy. With wait false a full
// Block buffer drops v, counted, instead of waiting (Emit). It returns
// errLeft if the subscriber had left and v went nowhere.
func (sub *Subscription[T]) offer(ctx context.Context, v T, wait bool) error {
	if sub.once {
		// The buffer holds exactly one item and only one is ever sent, so
		// the send cannot block; the lock makes "not closed" and "committed"
		// one step, so an item is never handed to a reader that has left.
		sub.mu.Lock()
		took := !sub.closed && !sub.taken
		if took {
			sub.ch <- v
			sub.taken = true
		}
		sub.mu.Unlock()
		sub.subj.remove(sub)
		if !took {
			return errLeft
		}
		return nil
	}
	if sub.direct {
		sub.sendMu.Lock()
		defer sub.sendMu.Unlock()
		if sub.chClosed.Load() || sub.terminal {
			return errLeft
		}
	}
	// One case and a default is a plain non-blocking send, far cheaper than
	// a select over two channels; a subscriber that left is found below.
	select {
	case sub.ch <- v:
		sub.sent()
		return nil
	default:
	}
	select {
	case <-sub.left:
		return errLeft
	default:
	}
	switch {
	case sub.policy == DropNewest, sub.policy == Block && !wait:
		sub.drop()
		return nil
	case sub.policy == DropOldest:
		if cap(sub.ch) == 0 {
			// Nothing is buffered, so the new item is the oldest there is.
			sub.drop()
			return nil
		}
		for {
			select {
			case sub.ch <- v:
				sub.sent()
				return nil
			default:
			}
			// The eviction is counted before the item is taken, so that
			// Stats, reading the buffer's length after the counts, sees one
			// too few delivered for an instant rather than one too many.
			if sub.direct {
				sub.evicted.Add(1)
			}
			select {
			case <-sub.ch:
				sub.drop()
			default:
				if sub.direct {
					sub.evicted.Add(^uint64(0)) // the observer took it first
				}
			}
		}
	}
	select {
	case sub.ch <- v:
		sub.sent()
		return nil
	case <-sub.left:
		return errLeft
	case <-ctx.Done():
		return ctx.Err()
	case <-sub.subj.stopping:
		return ErrClosed
	}
}

// errLeft is offer's report that the subscriber had left (or, Once, had
// its item already) and so did not take v.
var errLeft = errors.New("source: subscriber left")

// Next returns the next item. When the Subject has been closed and the
// buffer is empty it returns the Subject's error, or io.EOF for a normal
// completion; after Close it still returns the items already buffered, then
// ErrUnsubscribed (or, if the Subject has closed too, either ending); if ctx
// ends first, ctx's error. A Once subscription returns io.EOF after its one
// item.
func (sub *Subscription[T]) Next(ctx context.Context) (T, error) {
	select {
	case v := <-sub.ch:
		sub.took()
		return v, nil
	default:
	}
	var zero T
	if sub.spent() {
		return zero, io.EOF
	}
	select {
	case v := <-sub.ch:
		sub.took()
		return v, nil
	case <-sub.subj.done:
		select {
		case v := <-sub.ch:
			sub.took()
			return v, nil
		default:
		}
		if err := sub.subj.err; err != nil {
			return zero, err
		}
		return zero, io.EOF
	case <-sub.left:
		return zero, ErrUnsubscribed
	case <-ctx.Done():
		if sub.once {
			// The item may have been committed as ctx ended: after Close
			// nothing more can arrive, so one last look decides.
			sub.Close()
			select {
			case v := <-sub.ch:
				sub.took()
				return v, nil
			default:
			}
		}
		return zero, ctx.Err()
	}
}

// spent reports whether a Once subscription's one item was committed and has
// been taken out of its buffer, so that nothing more will come.
func (sub *Subscription[T]) spent() bool {
	if !sub.once {
		return false
	}
	sub.mu.Lock()
	taken := sub.taken
	sub.mu.Unlock()
	return taken && len(sub.ch) == 0
}

// TryNext returns the next buffered item without waiting; ok is false when
// there is none.
func (sub *Subscription[T]) TryNext() (v T, ok bool) {
	select {
	case v = <-sub.ch:
		sub.took()
		return v, true
	default:
		return v, false
	}
}

// NextOr is Next that also stops waiting when alt is ready: it then takes
// alt's value and returns ok == false with a nil error. With both ready it
// may do either. A caller that can produce the item itself waits this way
// for an item or for its turn to read, alt being a token channel.
func (sub *Subscription[T]) NextOr(ctx context.Context, alt <-chan struct{}) (v T, ok bool, err error) {
	if v, ok := sub.TryNext(); ok {
		return v, true, nil
	}
	if sub.spent() {
		return v, false, io.EOF
	}
	select {
	case v = <-sub.ch:
		sub.took()
		return v, true, nil
	case <-alt:
		return v, false, nil
	case <-sub.subj.done:
	case <-sub.left:
	case <-ctx.Done():
	}
	v, err = sub.Next(ctx) // the same ends as Next, decided by Next
	return v, err == nil, err
}

// Close detaches the subscriber, so that it holds back no publisher: one
// waiting on it moves on, and later ones skip it (a Publish already under
// way may still buffer one item). Items already buffered stay there for Next
// and TryNext. It is safe to call more than once and from any goroutine.
func (sub *Subscription[T]) Close() {
	sub.leaveOnce.Do(func() {
		sub.mu.Lock()
		sub.closed = true
		sub.mu.Unlock()
		close(sub.left)
		sub.subj.remove(sub)
		if sub.direct {
			sub.sendMu.Lock()
			// Under sendMu, so that no send is half counted. What is
			// still buffered counts too, as when the Subject closes: the
			// channel is closed, not emptied, so the observer reads it.
			sub.meterOnce.Do(func() { sub.meterDelivered(sub.enq.Load() - sub.evicted.Load()) })
			if !sub.chClosed.Load() && !sub.terminal {
				sub.closeLocked()
			}
			sub.sendMu.Unlock()
		}
	})
}

func (sub *Subscription[T]) took() {
	sub.delivered.Add(1)
	if sub.meter != nil {
		sub.meter.delivered.Add(1)
	}
}

func (sub *Subscription[T]) sent() {
	if sub.direct {
		sub.enq.Add(1)
	}
}

// finish ends a direct subscription when its Subject closes: the observer
// gets what is buffered, then err as an error item (if any), then the
// channel closes. A full buffer leaves the error item to a goroutine that
// waits for room or for the observer to leave.
func (sub *Subscription[T]) finish(err error) {
	sub.finishOnce.Do(func() {
		// Its stream is over, so it is no longer attached: Stats stop
		// listing it, as they do a subscriber that has left.
		sub.subj.remove(sub)
		sub.meterOnce.Do(func() { sub.meterDelivered(sub.enq.Load() - sub.evicted.Load()) })
		sub.sendMu.Lock()
		defer sub.sendMu.Unlock()
		if sub.chClosed.Load() {
			return
		}
		if err != nil {
			select {
			case sub.ch <- sub.errItem(err):
			default:
				// The context hook stays: an observer that leaves
				// instead of reading releases this goroutine.
				sub.terminal = true
				go sub.deliverTerminal(err)
				return
			}
		}
		sub.closeLocked()
	})
}

func (sub *Subscription[T]) deliverTerminal(err error) {
	select {
	case sub.ch <- sub.errItem(err):
	case <-sub.left:
	}
	sub.sendMu.Lock()
	sub.closeLocked()
	sub.sendMu.Unlock()
}

// closeLocked closes a direct subscription's channel, under sendMu. Once
// it is closed the observer's context has nothing left to end, so its hook
// goes too: a long-lived context does not collect one per stream.
func (sub *Subscription[T]) closeLocked() {
	close(sub.ch)
	sub.chClosed.Store(true)
	sub.unhook()
}

func (sub *Subscription[T]) unhook() {
	if stop := sub.stopCtx.Swap(nil); stop != nil {
		(*stop)()
	}
}

// hook closes a direct subscription when ctx ends. It is set up after the
// subscription has joined, so that a ctx that has already ended cannot
// close it before: Close would then find nothing to remove, and leave a
// closed subscriber counted in the Subject. It takes no lock: a publisher
// may already hold sendMu, waiting for room that only the observer, who
// has not yet got its channel, can make.
func (sub *Subscription[T]) hook(ctx context.Context) {
	if ctx.Done() == nil {
		return
	}
	stop := context.AfterFunc(ctx, sub.Close)
	sub.stopCtx.Store(&stop)
	// closeLocked sets chClosed before it unhooks: one of the two sees the
	// other's store, so a hook set as the channel closes is still undone.
	if sub.chClosed.Load() {
		sub.unhook()
	}
}

func (sub *Subscription[T]) meterDelivered(n uint64) {
	if sub.meter != nil {
		sub.meter.delivered.Add(n)
	}
}

func (sub *Subscription[T]) drop() {
	sub.dropped.Add(1)
	if sub.meter != nil {
		sub.meter.dropped.Add(1)
	}
}

// handedOn is how many items a direct subscriber's observer has taken from
// its channel: those sent, less those still there and those evicted. The
// three are read one after another while a publisher may be sending or
// evicting, in the order that makes a change between the reads turn the
// result low, not high: a send fills the buffer before it counts, so enq
// is read before the length; an eviction counts before it empties the
// buffer, so the length is read before evicted. Low is clamped at 0 rather
// than left to wrap around.
func (sub *Subscription[T]) handedOn() uint64 {
	enq := int64(sub.enq.Load())
	buffered := int64(len(sub.ch))
	return uint64(max(0, enq-buffered-int64(sub.evicted.Load())))
}

// Stats returns the subscriber's counters now.
func (sub *Subscription[T]) Stats() Stats {
	delivered := sub.delivered.Load()
	if sub.direct {
		delivered = sub.handedOn()
	}
	return Stats{
		Name:      sub.name,
		Policy:    sub.policy,
		Delivered: delivered,
		Dropped:   sub.dropped.Load(),
		Buffered:  len(sub.ch),
		Capacity:  cap(sub.ch),
	}
}
