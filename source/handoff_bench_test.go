package source_test

import (
	"fmt"
	"sync"
	"testing"
)

// BenchmarkChannelFanout is the floor under any fan-out whose subscribers
// read Go channels, as rxgo observers do: plain channels of 256, one
// producer, four consumers, no Subject. The producer does about 100 ns of
// its own work per item (a reader's share), the consumers light or heavy
// work. burst=1 sends each item to every consumer as it comes; burst=16
// sends 16 at a time to one consumer, then to the next.
//
// On a 2-core VM (go test -bench ChannelFanout -count 6, benchstat) bursts
// cut the cost of an item by 70 % when consumers are light: the channel
// locks stop bouncing between the cores for every item. When consumers are
// busy they save only 13 %, because a consumer that is behind takes items
// one at a time either way. rxpype's fanout observers decode JSON, so they
// are the busy kind: a reader that published in bursts gained 2-11 % there
// and was not kept (see the README's Performance section).
//
//	go test -run '^$' -bench ChannelFanout -count 6 ./source/
func BenchmarkChannelFanout(b *testing.B) {
	for _, work := range []int{50, 600} {
		for _, burst := range []int{1, 16} {
			b.Run(fmt.Sprintf("work=%d/burst=%d", work, burst), func(b *testing.B) {
				channelFanout(b, 4, burst, work)
			})
		}
	}
}

type handoffItem struct {
	V any
	E error
}

var handoffSink, handoffPayload = make(chan int, 64), new([100]byte)

func spin(n int) int {
	x := 0
	for j := range n {
		x += j
	}
	return x
}

func channelFanout(b *testing.B, subs, burst, work int) {
	chans := make([]chan handoffItem, subs)
	var wg sync.WaitGroup
	for i := range chans {
		chans[i] = make(chan handoffItem, 256)
		wg.Add(1)
		go func(ch <-chan handoffItem) {
			defer wg.Done()
			x := 0
			for it := range ch {
				if it.V != nil {
					x += spin(work)
				}
			}
			handoffSink <- x // keeps the work from being optimised away
		}(chans[i])
	}
	pend := make([]handoffItem, 0, burst)
	x := 0
	b.ResetTimer()
	for range b.N {
		x += spin(300)
		pend = append(pend, handoffItem{V: handoffPayload})
		if len(pend) < burst {
			continue
		}
		for _, ch := range chans {
			for _, it := range pend {
				ch <- it
			}
		}
		pend = pend[:0]
	}
	for _, ch := range chans {
		for _, it := range pend {
			ch <- it
		}
		close(ch)
	}
	wg.Wait()
	b.StopTimer()
	for range chans {
		x += <-handoffSink
	}
	_ = x
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "items/s")
}
