package source

import (
	"context"
	"testing"
	"time"

	"github.com/reactivex/rxgo/v2"
)

// An Items observer that reads nothing has been delivered nothing; Stats
// read while the publisher fills its buffer must never say otherwise, nor
// while a DropOldest buffer evicts its oldest item for each new one.
func TestItemsStatsNeverCountMoreThanWasRead(t *testing.T) {
	for _, tc := range []struct {
		policy Policy
		buffer int
	}{{Block, 100000}, {DropOldest, 1}} {
		t.Run(tc.policy.String(), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			const n = 100000
			s := NewSubject[rxgo.Item]()
			_ = Items(s, Config{Buffer: tc.buffer, Policy: tc.policy}).Observe() // never read
			pubDone := make(chan struct{})
			go func() {
				defer close(pubDone)
				for i := 0; i < n; i++ {
					if err := s.Publish(ctx, rxgo.Of(i)); err != nil {
						return
					}
				}
			}()
			var bad uint64
			for {
				select {
				case <-pubDone:
					s.Close(nil)
					if bad != 0 {
						t.Fatalf("Stats said Delivered=%d for an observer that read nothing", bad)
					}
					return
				default:
				}
				if st := s.Stats(); len(st) == 1 && st[0].Delivered != 0 && bad == 0 {
					bad = st[0].Delivered
				}
			}
		})
	}
}

// The same for a Meter: an Items observer that leaves (Close, as its context
// hook does) while the publisher is filling its buffer was delivered nothing.
func TestItemsMeterOfAnObserverLeavingDuringAPublish(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for round := 0; round < 1000; round++ {
		var m Meter
		s := NewSubject[rxgo.Item]()
		sctx, scancel := context.WithCancel(ctx)
		_ = Items(s, Config{Buffer: 4096, Meter: &m}, rxgo.WithContext(sctx)).Observe() // never read
		pubDone := make(chan struct{})
		go func() {
			defer close(pubDone)
			for i := 0; i < 4096; i++ {
				if s.Subscribers() == 0 {
					return
				}
				if err := s.Deliver(ctx, rxgo.Of(i)); err != nil {
					return
				}
			}
		}()
		for i := 0; i < round%200; i++ {
			_ = s.Subscribers()
		}
		scancel()
		<-pubDone
		s.Close(nil)
		if d := m.Delivered(); d > 4096 {
			t.Fatalf("round %d: Meter.Delivered=%d for an observer that read nothing", round, d)
		}
	}
}

// An Items observer that leaves (its context ends) with items in its buffer
// still reads them: its channel is closed, not emptied. Its Meter counts
// them as delivered, as it does when the Subject closes first.
func TestItemsMeterCountsWhatIsBufferedWhenTheObserverLeaves(t *testing.T) {
	for _, subjectFirst := range []bool{false, true} {
		var m Meter
		s := NewSubject[rxgo.Item]()
		// Items's subscriber, without the context: the test calls Close,
		// as the context's hook would, and knows it has returned.
		sub := s.subscribe(Config{Buffer: 8, Meter: &m}, func(sub *Subscription[rxgo.Item]) {
			sub.direct = true
			sub.errItem = rxgo.Error
		})
		for i := 0; i < 5; i++ {
			if err := s.Publish(context.Background(), rxgo.Of(i)); err != nil {
				t.Fatal(err)
			}
		}
		if subjectFirst {
			s.Close(nil)
		}
		sub.Close()
		read := 0
		for range sub.ch {
			read++
		}
		s.Close(nil)
		if read != 5 || m.Delivered() != 5 || m.Dropped() != 0 {
			t.Errorf("Subject closed first %v: the observer read %d of 5; Meter delivered %d, dropped %d; want 5 and 0",
				subjectFirst, read, m.Delivered(), m.Dropped())
		}
	}
}

// An Items observer's stream is over when the Subject closes, so Stats no
// longer list it, whether it joined before the close or after.
func TestItemsObserversAreNotListedOnceTheSubjectCloses(t *testing.T) {
	s := NewSubject[rxgo.Item]()
	before := Items(s, Config{Name: "before"}).Observe()
	if n := len(s.Stats()); n != 1 {
		t.Fatalf("%d subscribers listed, want 1", n)
	}
	s.Close(nil)
	after := Items(s, Config{Name: "after"}).Observe()
	for range before {
	}
	for range after {
	}
	if st := s.Stats(); len(st) != 0 || s.Subscribers() != 0 {
		t.Fatalf("after Close, Stats list %+v (%d subscribers); want none", st, s.Subscribers())
	}
}
