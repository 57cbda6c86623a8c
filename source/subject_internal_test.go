package source

import (
	"context"
	"errors"
	"runtime"
	"testing"
	"time"
)

// A Once subscriber that leaves as an item reaches it (its Next gave up)
// must not swallow the item: with nobody else there, Publish waits for the
// next subscriber. The subscriber is marked left by hand, as Close does
// first, without being removed yet, which is the moment of the race.
func TestPublishWaitsWhenItsOnlySubscriberLeftAsItArrived(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s := NewSubject[int]()
	gone := s.Subscribe(Config{Once: true})
	gone.mu.Lock()
	gone.closed = true
	gone.mu.Unlock()
	done := make(chan error, 1)
	go func() { done <- s.Publish(ctx, 7) }()
	for s.Subscribers() > 0 { // Publish found it gone and dropped it from the list
		select {
		case err := <-done:
			t.Fatalf("Publish returned %v, and nobody has the item", err)
		default:
			if ctx.Err() != nil {
				t.Fatal("Publish never dropped the subscriber that left")
			}
			runtime.Gosched()
		}
	}
	next := s.Subscribe(Config{})
	defer next.Close()
	if v, err := next.Next(ctx); err != nil || v != 7 {
		t.Fatalf("next subscriber got %v, %v; want 7", v, err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	gone.Close()
}

// A publisher queued behind another that waits for room gives up when its
// own context ends, and one that does not give up publishes, in order,
// once the first is through.
func TestPublishWaitingForAnotherPublisherHonoursItsContext(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s := NewSubject[int]()
	sub := s.Subscribe(Config{Buffer: 1})
	defer sub.Close()
	if err := s.Publish(ctx, 1); err != nil { // the buffer is full now
		t.Fatal(err)
	}
	first := make(chan error, 1)
	go func() { first <- s.Publish(ctx, 2) }()
	// Until the first holds the lock, waiting for room.
	waitFor(ctx, t, func() bool { return s.pubHeld.Load() })

	short, giveUp := context.WithCancel(ctx)
	gaveUp := make(chan error, 1)
	go func() { gaveUp <- s.Publish(short, 99) }()
	waitFor(ctx, t, func() bool { return s.pubWaiters.Load() == 1 })
	giveUp()
	if err := <-gaveUp; !errors.Is(err, context.Canceled) {
		t.Fatalf("the queued publisher returned %v, want context.Canceled", err)
	}

	third := make(chan error, 1)
	go func() { third <- s.Publish(ctx, 3) }()
	waitFor(ctx, t, func() bool { return s.pubWaiters.Load() == 1 })
	for want := 1; want <= 3; want++ {
		if v, err := sub.Next(ctx); err != nil || v != want {
			t.Fatalf("got %v, %v; want %d", v, err, want)
		}
	}
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if err := <-third; err != nil {
		t.Fatal(err)
	}
}

func waitFor(ctx context.Context, t *testing.T, cond func() bool) {
	t.Helper()
	for !cond() {
		if ctx.Err() != nil {
			t.Fatal("timed out")
		}
		runtime.Gosched()
	}
}
