package source_test

import (
	"context"
	"errors"
	"io"
	"reflect"
	"runtime"
	"testing"
	"time"

	"github.com/reactivex/rxgo/v2"
	"github.com/rxpype/rxpype/source"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func publishAll(t *testing.T, s *source.Subject[int], from, to int) {
	t.Helper()
	for i := from; i < to; i++ {
		if err := s.Publish(context.Background(), i); err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
	}
}

func TestEverySubscriberSeesEveryItemInOrder(t *testing.T) {
	s := source.NewSubject[int]()
	a := s.Subscribe(source.Config{Buffer: 100})
	b := s.Subscribe(source.Config{Buffer: 100})
	publishAll(t, s, 0, 100)
	s.Close(nil)
	for _, sub := range []*source.Subscription[int]{a, b} {
		for i := 0; i < 100; i++ {
			v, err := sub.Next(context.Background())
			if err != nil || v != i {
				t.Fatalf("item %d: got %d, %v", i, v, err)
			}
		}
		if _, err := sub.Next(context.Background()); err != io.EOF {
			t.Fatalf("after the last item: %v, want io.EOF", err)
		}
	}
}

func TestPublishWaitsForASubscriber(t *testing.T) {
	s := source.NewSubject[int]()
	published := make(chan error)
	go func() { published <- s.Publish(context.Background(), 7) }()
	sub := s.Subscribe(source.Config{})
	if err := <-published; err != nil {
		t.Fatal(err)
	}
	if v, err := sub.Next(context.Background()); v != 7 || err != nil {
		t.Fatalf("got %d, %v", v, err)
	}
	sub.Close()
	s.Close(nil)
}

func TestPublishWithNobodyListeningStopsOnContext(t *testing.T) {
	s := source.NewSubject[int]()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Publish(ctx, 1); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v", err)
	}
}

func TestDropPoliciesCountEveryDrop(t *testing.T) {
	for _, tc := range []struct {
		policy source.Policy
		first  int
	}{{source.DropOldest, 6}, {source.DropNewest, 0}} {
		t.Run(tc.policy.String(), func(t *testing.T) {
			s := source.NewSubject[int]()
			slow := s.Subscribe(source.Config{Buffer: 4, Policy: tc.policy})
			fast := s.Subscribe(source.Config{Buffer: 10})
			publishAll(t, s, 0, 10)
			st := slow.Stats()
			if st.Dropped != 6 || st.Buffered != 4 {
				t.Fatalf("stats %+v, want 6 dropped and 4 buffered", st)
			}
			if v, _ := slow.Next(context.Background()); v != tc.first {
				t.Fatalf("first kept item %d, want %d", v, tc.first)
			}
			if fast.Stats().Dropped != 0 || fast.Stats().Buffered != 10 {
				t.Fatalf("the lossless subscriber lost items: %+v", fast.Stats())
			}
			slow.Close()
			fast.Close()
			s.Close(nil)
		})
	}
}

func TestBlockHoldsThePublisherUntilReleased(t *testing.T) {
	s := source.NewSubject[int]()
	sub := s.Subscribe(source.Config{Buffer: 1})
	publishAll(t, s, 0, 1)
	done := make(chan error)
	go func() { done <- s.Publish(context.Background(), 1) }()
	select {
	case <-done:
		t.Fatal("Publish returned while the Block buffer was full")
	default:
	}
	if v, _ := sub.Next(context.Background()); v != 0 {
		t.Fatalf("got %d", v)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if v, _ := sub.Next(context.Background()); v != 1 {
		t.Fatalf("got %d", v)
	}
	sub.Close()
	s.Close(nil)
}

func TestCloseReleasesABlockedPublisher(t *testing.T) {
	s := source.NewSubject[int]()
	stuck := s.Subscribe(source.Config{Buffer: -1})
	other := s.Subscribe(source.Config{Buffer: 4}) // keeps Publish from waiting for a subscriber if it starts late
	done := make(chan error)
	go func() { done <- s.Publish(context.Background(), 1) }()
	stuck.Close() // leaving releases the publisher
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	other.Close()

	s2 := source.NewSubject[int]()
	stuck2 := s2.Subscribe(source.Config{Buffer: -1})
	defer stuck2.Close()
	go func() { done <- s2.Publish(context.Background(), 2) }()
	s2.Close(errors.New("boom"))
	if err := <-done; !errors.Is(err, source.ErrClosed) {
		t.Fatalf("got %v", err)
	}
}

func TestOnceTakesExactlyOne(t *testing.T) {
	s := source.NewSubject[int]()
	once := s.Subscribe(source.Config{Once: true})
	all := s.Subscribe(source.Config{})
	publishAll(t, s, 0, 3)
	if v, err := once.Next(context.Background()); v != 0 || err != nil {
		t.Fatalf("got %d, %v", v, err)
	}
	if s.Subscribers() != 1 {
		t.Fatalf("a Once subscriber stayed after its item: %d subscribers", s.Subscribers())
	}
	once.Close()
	all.Close()
	s.Close(nil)
}

// After its one item a Once subscription is over: Next says io.EOF, and an
// observer of it completes, while the Subject goes on.
func TestOnceEndsAfterItsItem(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s := source.NewSubject[int]()
	defer s.Close(nil)
	keep := s.Subscribe(source.Config{}) // so that the Subject has a reader after the Once ones leave
	defer keep.Close()

	once := s.Subscribe(source.Config{Once: true})
	obs := s.Observable(source.Config{Once: true}, rxgo.WithContext(ctx)).Observe()
	s2 := source.NewSubject[rxgo.Item]()
	defer s2.Close(nil)
	items := source.Items(s2, source.Config{Once: true}, rxgo.WithContext(ctx)).Observe()
	publishAll(t, s, 1, 3)
	if err := s2.Publish(ctx, rxgo.Of(1)); err != nil {
		t.Fatal(err)
	}

	if v, err := once.Next(ctx); v != 1 || err != nil {
		t.Fatalf("got %d, %v", v, err)
	}
	if v, err := once.Next(ctx); err != io.EOF {
		t.Fatalf("second Next: got %d, %v; want io.EOF", v, err)
	}
	for name, ch := range map[string]<-chan rxgo.Item{"Observable": obs, "Items": items} {
		var got []any
		for it := range ch {
			got = append(got, it.V)
		}
		if !reflect.DeepEqual(got, []any{1}) {
			t.Fatalf("%s: got %v, want [1]", name, got)
		}
	}
}

func TestOnceWithCancelledContextKeepsACommittedItem(t *testing.T) {
	s := source.NewSubject[int]()
	once := s.Subscribe(source.Config{Once: true})
	publishAll(t, s, 5, 6)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	// Both the item and the cancellation are ready; the item must win.
	if v, err := once.Next(ctx); v != 5 || err != nil {
		t.Fatalf("got %d, %v", v, err)
	}
	s.Close(nil)
}

func TestLateSubscriberAfterCloseGetsTheError(t *testing.T) {
	s := source.NewSubject[int]()
	boom := errors.New("boom")
	s.Close(boom)
	sub := s.Subscribe(source.Config{})
	if _, err := sub.Next(context.Background()); !errors.Is(err, boom) {
		t.Fatalf("got %v", err)
	}
	if !errors.Is(s.Err(), boom) {
		t.Fatalf("Err() = %v", s.Err())
	}
}

func TestObservableSubscribesInObserve(t *testing.T) {
	s := source.NewSubject[int]()
	obs := s.Observable(source.Config{})
	a := obs.Observe()
	b := obs.Map(func(_ context.Context, v any) (any, error) { return v.(int) * 10, nil }).Observe()
	if s.Subscribers() != 2 {
		t.Fatalf("%d subscribers right after Observe, want 2", s.Subscribers())
	}
	publishAll(t, s, 1, 4)
	s.Close(nil)
	var got []int
	for it := range a {
		got = append(got, it.V.(int))
	}
	for it := range b {
		got = append(got, it.V.(int))
	}
	want := []int{1, 2, 3, 10, 20, 30}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
}

func TestObservableEndsWithTheErrorItem(t *testing.T) {
	s := source.NewSubject[int]()
	ch := s.Observable(source.Config{}).Observe()
	boom := errors.New("boom")
	publishAll(t, s, 1, 2)
	s.Close(boom)
	first, last := <-ch, <-ch
	if first.V != 1 || !errors.Is(last.E, boom) {
		t.Fatalf("got %+v then %+v", first, last)
	}
	if _, open := <-ch; open {
		t.Fatal("the channel stayed open after the error")
	}
}

func TestObserverLeavesOnContextCancel(t *testing.T) {
	s := source.NewSubject[int]()
	ctx, cancel := context.WithCancel(context.Background())
	ch := s.Observable(source.Config{}).Observe(rxgo.WithContext(ctx))
	publishAll(t, s, 1, 2)
	<-ch
	cancel()
	for range ch {
	}
	// The next Publish must not wait on the departed observer: with no
	// subscriber it waits for one, so give it one.
	sub := s.Subscribe(source.Config{})
	publishAll(t, s, 2, 3)
	if n := s.Subscribers(); n != 1 {
		t.Fatalf("%d subscribers after the observer left, want 1", n)
	}
	sub.Close()
	s.Close(nil)
}

func TestMeterKeepsCountsAfterLeavingAndNamesShowInStats(t *testing.T) {
	s := source.NewSubject[int]()
	var meter source.Meter
	a := s.Subscribe(source.Config{Buffer: 2, Policy: source.DropNewest, Name: "a", Meter: &meter})
	b := s.Subscribe(source.Config{Buffer: 3, Policy: source.DropOldest, Name: "b", Meter: &meter})
	publishAll(t, s, 0, 5) // a keeps 0,1 and drops 3; b keeps 2,3,4 and drops 2
	st := s.Stats()
	if len(st) != 2 || st[0].Name != "a" || st[1].Name != "b" || st[0].Dropped != 3 || st[1].Dropped != 2 {
		t.Fatalf("stats %+v", st)
	}
	if v, _ := a.Next(context.Background()); v != 0 {
		t.Fatalf("a got %d", v)
	}
	if v, _ := b.Next(context.Background()); v != 2 {
		t.Fatalf("b got %d", v)
	}
	a.Close()
	b.Close()
	if len(s.Stats()) != 0 {
		t.Fatalf("stats after leaving: %+v", s.Stats())
	}
	if meter.Delivered() != 2 || meter.Dropped() != 5 {
		t.Fatalf("meter delivered %d dropped %d, want 2 and 5", meter.Delivered(), meter.Dropped())
	}
	s.Close(nil)
}

func TestUnbufferedDroppingSubscriberDropsWhatItIsNotWaitingFor(t *testing.T) {
	for _, p := range []source.Policy{source.DropOldest, source.DropNewest} {
		t.Run(p.String(), func(t *testing.T) {
			s := source.NewSubject[int]()
			sub := s.Subscribe(source.Config{Buffer: -1, Policy: p})
			publishAll(t, s, 0, 3) // nobody waits: all three are dropped, and Publish never spins
			if st := sub.Stats(); st.Dropped != 3 || st.Capacity != 0 {
				t.Fatalf("stats %+v", st)
			}
			got := make(chan int)
			go func() {
				v, _ := sub.Next(context.Background())
				got <- v
			}()
			// Publish until the waiting reader takes one; each miss is a drop.
			for i := 3; ; i++ {
				publishAll(t, s, i, i+1)
				select {
				case v := <-got:
					// Every item published but the one taken was dropped.
					if st := sub.Stats(); v < 3 || v > i || st.Delivered != 1 || st.Dropped != uint64(i) {
						t.Fatalf("took %d, stats %+v", v, st)
					}
					sub.Close()
					s.Close(nil)
					return
				default:
				}
			}
		})
	}
}

func TestPublishWithADoneContextPublishesNothing(t *testing.T) {
	s := source.NewSubject[int]()
	sub := s.Subscribe(source.Config{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Publish(ctx, 1); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v", err)
	}
	if st := sub.Stats(); st.Buffered != 0 {
		t.Fatalf("a cancelled Publish delivered: %+v", st)
	}
	sub.Close()
	s.Close(nil)
}

func TestItemsObserversGetTheSubjectsOwnEnd(t *testing.T) {
	boom := errors.New("boom")
	s := source.NewSubject[rxgo.Item]()
	ctx, cancel := context.WithCancel(context.Background())
	full := source.Items(s, source.Config{Buffer: 1}).Observe()  // will be full at the end
	roomy := source.Items(s, source.Config{Buffer: 4}).Observe() // has room for the error item
	leaving := source.Items(s, source.Config{}, rxgo.WithContext(ctx)).Observe()
	if err := s.Publish(context.Background(), rxgo.Of(1)); err != nil {
		t.Fatal(err)
	}
	cancel() // leaving's channel closes; the others are untouched
	for range leaving {
	}
	s.Close(boom)
	for name, ch := range map[string]<-chan rxgo.Item{"full": full, "roomy": roomy} {
		var got []any
		for it := range ch {
			if it.E != nil {
				got = append(got, it.E)
				continue
			}
			got = append(got, it.V)
		}
		if len(got) != 2 || got[0] != 1 || got[1] != boom {
			t.Fatalf("%s got %v", name, got)
		}
	}
	late := source.Items(s, source.Config{}).Observe()
	if it, ok := <-late; !ok || it.E != boom {
		t.Fatalf("late observer got %v %v", it, ok)
	}
	if _, ok := <-late; ok {
		t.Fatal("late observer's channel stayed open")
	}
}

func TestDeliverDoesNotWaitForASubscriber(t *testing.T) {
	s := source.NewSubject[int]()
	if err := s.Deliver(context.Background(), 1); err != nil {
		t.Fatalf("deliver to nobody: %v", err)
	}
	sub := s.Subscribe(source.Config{})
	defer sub.Close()
	if err := s.Deliver(context.Background(), 2); err != nil {
		t.Fatal(err)
	}
	if v, err := sub.Next(context.Background()); err != nil || v != 2 {
		t.Fatalf("got %v, %v; want 2 (1 went to nobody)", v, err)
	}
	s.Close(nil)
	if err := s.Deliver(context.Background(), 3); !errors.Is(err, source.ErrClosed) {
		t.Fatalf("deliver after close: %v", err)
	}
}

func TestStreamingCountsAllButOnceSubscribers(t *testing.T) {
	s := source.NewSubject[int]()
	n, joined := s.Streaming()
	if n != 0 {
		t.Fatalf("streaming %d, want 0", n)
	}
	once := s.Subscribe(source.Config{Once: true})
	select {
	case <-joined:
		t.Fatal("a Once subscriber signalled a streaming join")
	default:
	}
	sub := s.Subscribe(source.Config{})
	<-joined // closed by the streaming subscriber
	if n, _ := s.Streaming(); n != 1 {
		t.Fatalf("streaming %d, want 1", n)
	}
	once.Close()
	sub.Close()
	if n, _ := s.Streaming(); n != 0 {
		t.Fatalf("streaming %d after both left, want 0", n)
	}
}

func TestNextOrTakesTheItemOrTheAlternative(t *testing.T) {
	s := source.NewSubject[int]()
	sub := s.Subscribe(source.Config{})
	defer sub.Close()
	tok := make(chan struct{}, 1)
	tok <- struct{}{}
	if _, ok, err := sub.NextOr(context.Background(), tok); ok || err != nil {
		t.Fatalf("got ok %v, %v; want the token", ok, err)
	}
	if len(tok) != 0 {
		t.Fatal("the token was not taken")
	}
	publishAll(t, s, 7, 8)
	tok <- struct{}{}
	// An item already buffered comes before the alternative.
	if v, ok, err := sub.NextOr(context.Background(), tok); !ok || err != nil || v != 7 {
		t.Fatalf("got %v %v %v; want 7", v, ok, err)
	}
	if _, ok := sub.TryNext(); ok {
		t.Fatal("TryNext found an item in an empty buffer")
	}
	s.Close(io.ErrUnexpectedEOF)
	<-tok
	if _, ok, err := sub.NextOr(context.Background(), tok); ok || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("after close: ok %v, %v", ok, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	other := s.Subscribe(source.Config{})
	defer other.Close()
	if _, _, err := other.NextOr(ctx, tok); err == nil {
		t.Fatal("NextOr with a done context and a closed subject returned no error")
	}
}

// An observer whose context has already ended gets a closed channel and
// leaves nothing behind in the Subject: its hook is set up only after it
// has joined, so the Close it causes has a subscriber to remove.
func TestItemsWithAnEndedContextLeavesNoSubscriber(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for i := range 5000 {
		s := source.NewSubject[rxgo.Item]()
		for range source.Items(s, source.Config{}, rxgo.WithContext(ctx)).Observe() {
		}
		if n := s.Subscribers(); n != 0 {
			t.Fatalf("iteration %d: %d subscriber(s) still attached after the observer's context ended", i, n)
		}
		if n, _ := s.Streaming(); n != 0 {
			t.Fatalf("iteration %d: Streaming() = %d, want 0", i, n)
		}
	}
}

// The Subject ends with an error while the observer's buffer is full: the
// error item waits in a goroutine, and the observer's context ending must
// still release it, as it releases any observer that stops reading.
func TestItemsErrorOnAFullBufferIsReleasedByTheContext(t *testing.T) {
	before := goleak.IgnoreCurrent()
	ctx, cancel := context.WithCancel(context.Background())
	s := source.NewSubject[rxgo.Item]()
	ch := source.Items(s, source.Config{Buffer: 1}, rxgo.WithContext(ctx)).Observe()
	if err := s.Publish(context.Background(), rxgo.Of(1)); err != nil { // fills the buffer
		t.Fatal(err)
	}
	s.Close(errors.New("connection lost"))
	cancel() // the observer leaves without reading
	err := goleak.Find(before)
	for range ch { // so that TestMain's check reports this test only
	}
	if err != nil {
		t.Fatalf("the observer's context ended but the error item still waits: %v", err)
	}
}

// An observer joins while a publisher streams into it: the publisher may
// reach it, find its (unbuffered) channel full and wait, before Observe has
// returned the channel. Observe must not wait for that publisher.
func TestItemsObserveDoesNotWaitForABlockedPublisher(t *testing.T) {
	s := source.NewSubject[rxgo.Item]()
	pubCtx, stopPub := context.WithCancel(context.Background())
	pubDone := make(chan struct{})
	go func() {
		defer close(pubDone)
		for i := 0; pubCtx.Err() == nil; i++ {
			_ = s.Publish(pubCtx, rxgo.Of(i))
		}
	}()
	defer func() { stopPub(); <-pubDone }()
	obs := source.Items(s, source.Config{Buffer: -1, Policy: source.Block})
	testCtx, cancelTest := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancelTest()
	for i := range 1000 {
		ctx, cancel := context.WithCancel(context.Background())
		got := make(chan (<-chan rxgo.Item), 1)
		go func() { got <- obs.Observe(rxgo.WithContext(ctx)) }()
		select {
		case ch := <-got:
			<-ch
			cancel()
		case <-testCtx.Done():
			cancel()
			<-got
			t.Fatalf("iteration %d: Observe never returned", i)
		}
	}
}

// PublishTaken says whether anyone took the item when Publish stopped
// waiting: not when it waited for a first subscriber, even one that joined
// as ctx ended; yes when a subscriber ahead of a full Block one took it.
func TestPublishTakenSaysWhetherAnySubscriberTookTheItem(t *testing.T) {
	s := source.NewSubject[int]()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if taken, err := s.PublishTaken(ctx, 1); taken || !errors.Is(err, context.Canceled) {
		t.Fatalf("ctx done, no subscriber: %v, %v", taken, err)
	}
	ctx, cancel = context.WithCancel(context.Background())
	done := make(chan bool)
	go func() { taken, _ := s.PublishTaken(ctx, 2); done <- taken }()
	cancel()
	late := s.Subscribe(source.Config{}) // joins as the wait for a first one ends
	if <-done {
		if v, err := late.Next(context.Background()); err != nil || v != 2 {
			t.Fatalf("taken, but the subscriber has %d, %v", v, err)
		}
	}
	late.Close()

	light := s.Subscribe(source.Config{Buffer: 1})
	full := s.Subscribe(source.Config{Buffer: 1})
	if taken, err := s.PublishTaken(context.Background(), 3); !taken || err != nil {
		t.Fatalf("with room: %v, %v", taken, err)
	}
	if _, err := light.Next(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	go func() { // once light has it, the publish waits for full
		for light.Stats().Buffered < 1 {
			runtime.Gosched()
		}
		cancel()
	}()
	if taken, err := s.PublishTaken(ctx, 4); !taken || !errors.Is(err, context.Canceled) {
		t.Fatalf("light took it, full blocked: %v, %v", taken, err)
	}
	light.Close()
	full.Close()
}

// A publish cut short after some subscribers took v owes it to the others:
// Rest.Publish hands it to those still attached before anything newer, and
// Rest.Drop counts it as dropped for them.
func TestPublishRestOwesTheSubscribersItDidNotReach(t *testing.T) {
	bg := context.Background()
	s := source.NewSubject[int]()
	took := s.Subscribe(source.Config{Buffer: 4, Name: "took"})
	full := s.Subscribe(source.Config{Buffer: 1, Name: "full"})
	after := s.Subscribe(source.Config{Buffer: 4, Name: "after"})
	left := s.Subscribe(source.Config{Buffer: 4, Name: "left"})
	if err := s.Publish(bg, 1); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(bg)
	cancel()
	if taken, rest, err := s.PublishRest(ctx, 2); taken || rest != nil || err == nil {
		t.Fatalf("ctx done before: %v, %v, %v; want nothing taken, nothing owed", taken, rest, err)
	}
	// took has room for 2, full does not: the publish stops at full.
	ctx, cancel = context.WithCancel(bg)
	go func() {
		for took.Stats().Buffered < 2 {
			runtime.Gosched()
		}
		cancel()
	}()
	taken, rest, err := s.PublishRest(ctx, 2)
	if !taken || rest == nil || !errors.Is(err, context.Canceled) {
		t.Fatalf("stopped at full: %v, %v, %v; want taken, something owed", taken, rest, err)
	}
	left.Close()
	if _, err := full.Next(bg); err != nil { // makes room: 1 out
		t.Fatal(err)
	}
	if rest, err := rest.Publish(bg); rest != nil || err != nil {
		t.Fatalf("Rest.Publish: %v, %v", rest, err)
	}
	if v, ok := full.TryNext(); !ok || v != 2 { // makes room again
		t.Fatalf("full got %d, %v; want 2", v, ok)
	}
	if err := s.Publish(bg, 3); err != nil {
		t.Fatal(err)
	}
	for _, sub := range []*source.Subscription[int]{took, full, after} {
		var got []int
		for range 3 {
			if v, ok := sub.TryNext(); ok {
				got = append(got, v)
			}
		}
		want := []int{1, 2, 3}
		if sub == full {
			want = want[2:] // 1 and 2 were read above
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s got %v, want %v", sub.Stats().Name, got, want)
		}
	}

	// Dropped instead: those owed it count it, and only they.
	if err := s.Publish(bg, 4); err != nil { // full is full again
		t.Fatal(err)
	}
	ctx, cancel = context.WithCancel(bg)
	go func() {
		for took.Stats().Buffered < 2 { // 4 and 5
			runtime.Gosched()
		}
		cancel()
	}()
	_, rest, _ = s.PublishRest(ctx, 5)
	if rest == nil {
		t.Fatal("nothing owed")
	}
	rest.Drop()
	if d := []uint64{took.Stats().Dropped, full.Stats().Dropped, after.Stats().Dropped}; !reflect.DeepEqual(d, []uint64{0, 1, 1}) {
		t.Fatalf("dropped %v, want 0, 1, 1", d)
	}
	took.Close()
	full.Close()
	after.Close()
}

// DeliverRest, like PublishRest, returns what a delivery cut short still
// owes; with nobody subscribed it owes nothing.
func TestDeliverRestOwesTheSubscribersItDidNotReach(t *testing.T) {
	bg := context.Background()
	s := source.NewSubject[int]()
	if rest, err := s.DeliverRest(bg, 0); rest != nil || err != nil {
		t.Fatalf("nobody subscribed: %v, %v", rest, err)
	}
	took := s.Subscribe(source.Config{Buffer: 4})
	full := s.Subscribe(source.Config{Buffer: 1})
	done, cancelDone := context.WithCancel(bg)
	cancelDone()
	if rest, err := s.DeliverRest(done, 0); rest == nil || err == nil {
		t.Fatalf("ctx done before it began: %v, %v; want all owed", rest, err)
	} else if rest, err := rest.Publish(bg); rest != nil || err != nil {
		t.Fatalf("Rest.Publish: %v, %v", rest, err)
	}
	for _, sub := range []*source.Subscription[int]{took, full} {
		if v, ok := sub.TryNext(); !ok || v != 0 {
			t.Fatalf("%d, %v; want 0 handed on", v, ok)
		}
	}
	if err := s.Publish(bg, 1); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(bg)
	go func() {
		for took.Stats().Buffered < 2 {
			runtime.Gosched()
		}
		cancel()
	}()
	rest, err := s.DeliverRest(ctx, 2)
	if rest == nil || !errors.Is(err, context.Canceled) {
		t.Fatalf("stopped at full: %v, %v", rest, err)
	}
	rest.Drop()
	if d := []uint64{took.Stats().Dropped, full.Stats().Dropped}; !reflect.DeepEqual(d, []uint64{0, 1}) {
		t.Fatalf("dropped %v, want 0 and 1", d)
	}
	took.Close()
	full.Close()
}
