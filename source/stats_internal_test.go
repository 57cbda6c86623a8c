package source

import (
	"context"
	"testing"
	"time"

	"github.com/reactivex/rxgo/v2"
)

// An Items observer that reads nothing has been delivered nothing; Stats
// read while the publisher fills its buffer must never say otherwise.
func TestItemsStatsNeverCountMoreThanWasRead(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const n = 100000
	s := NewSubject[rxgo.Item]()
	_ = Items(s, Config{Buffer: n}).Observe() // never read
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
