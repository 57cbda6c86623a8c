package operators_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/reactivex/rxgo/v2"
	"github.com/rxpype/rxpype/operators"
)

// benchMsg stands for a *rxws.Response: stages pass pointers, which cross
// rxgo's channels without allocating.
type benchMsg struct {
	raw  []byte
	seen int
}

func identityStage(_ context.Context, m *benchMsg) (*benchMsg, bool, error) {
	m.seen++
	return m, true, nil
}

func keepAllStage(_ context.Context, m *benchMsg) (*benchMsg, bool, error) {
	return m, len(m.raw) > 0, nil
}

func benchChain(stages int) operators.Chain[*benchMsg] {
	c := operators.Chain[*benchMsg]{}
	for i := 0; i < stages; i++ {
		if i%2 == 0 {
			c = append(c, identityStage)
		} else {
			c = append(c, keepAllStage)
		}
	}
	return c
}

// BenchmarkChainRun is the fused post-processor stage as the read loop
// calls it: inline, no goroutine, no channel. One op is one message.
func BenchmarkChainRun(b *testing.B) {
	for _, n := range []int{0, 1, 2, 4, 8} {
		b.Run(fmt.Sprintf("stages=%d", n), func(b *testing.B) {
			c := benchChain(n)
			ctx := context.Background()
			m := &benchMsg{raw: []byte("x")}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, keep, err := c.Run(ctx, m); !keep || err != nil {
					b.Fatal(keep, err)
				}
			}
		})
	}
}

// feed sends n pointer items on a buffered channel, as a hot source would.
func feed(n int) <-chan rxgo.Item {
	ch := make(chan rxgo.Item, 1024)
	m := &benchMsg{raw: []byte("x")}
	go func() {
		defer close(ch)
		for i := 0; i < n; i++ {
			ch <- rxgo.Of(m)
		}
	}()
	return ch
}

func consume(b *testing.B, items <-chan rxgo.Item) {
	got := 0
	for it := range items {
		if it.E != nil {
			b.Fatal(it.E)
		}
		got++
	}
	if got != b.N {
		b.Fatalf("got %d items, want %d", got, b.N)
	}
}

// BenchmarkChainObservable is the same two stages used as one rxgo
// operator: one goroutine hop after the source's. Compare with
// BenchmarkRxgoMapFilter, an operator per stage.
func BenchmarkChainObservable(b *testing.B) {
	for _, buf := range []int{0, 1024} {
		b.Run(fmt.Sprintf("buffer=%d", buf), func(b *testing.B) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			opts := []rxgo.Option{rxgo.WithContext(ctx)}
			if buf > 0 {
				opts = append(opts, rxgo.WithBufferedChannel(buf))
			}
			b.ReportAllocs()
			b.ResetTimer()
			out := benchChain(2).Observable(rxgo.FromChannel(feed(b.N)), opts...)
			consume(b, out.Observe())
		})
	}
}

// BenchmarkRxgoMapFilter is the naive pipeline: rxgo Map then Filter, a
// goroutine and a channel hop each.
func BenchmarkRxgoMapFilter(b *testing.B) {
	for _, buf := range []int{0, 1024} {
		b.Run(fmt.Sprintf("buffer=%d", buf), func(b *testing.B) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			opts := []rxgo.Option{rxgo.WithContext(ctx)}
			if buf > 0 {
				opts = append(opts, rxgo.WithBufferedChannel(buf))
			}
			b.ReportAllocs()
			b.ResetTimer()
			out := rxgo.FromChannel(feed(b.N)).
				Map(func(_ context.Context, v any) (any, error) {
					m := v.(*benchMsg)
					m.seen++
					return m, nil
				}, opts...).
				Filter(func(v any) bool { return len(v.(*benchMsg).raw) > 0 }, opts...)
			consume(b, out.Observe())
		})
	}
}
