package source

import (
	"context"
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
