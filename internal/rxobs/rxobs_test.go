package rxobs_test

import (
	"context"
	"testing"

	"github.com/reactivex/rxgo/v2"
	"go.uber.org/goleak"

	"github.com/rxpype/rxpype/internal/rxobs"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The layout check must pass with the rxgo this module pins: otherwise
// every Observable silently falls back to Defer and hot sources lose items.
func TestLayoutMatchesThePinnedRxgo(t *testing.T) {
	if !rxobs.Sync() {
		t.Fatal("rxgo.ObservableImpl no longer has the layout rxobs mirrors")
	}
}

func TestObserveRunsInTheCallersGoroutineWithItsOptions(t *testing.T) {
	type key struct{}
	ctx := context.WithValue(context.Background(), key{}, "mine")
	called := false
	var got context.Context
	obs := rxobs.New(func(opts ...rxgo.Option) <-chan rxgo.Item {
		called = true
		got = rxobs.ContextOf(opts)
		ch := make(chan rxgo.Item, 1)
		ch <- rxgo.Of(1)
		close(ch)
		return ch
	})
	ch := obs.Map(func(_ context.Context, v any) (any, error) { return v.(int) + 1, nil }).Observe(rxgo.WithContext(ctx))
	if !called {
		t.Fatal("Observe returned before the observe function ran")
	}
	if got.Value(key{}) != "mine" {
		t.Fatal("the observe function did not get the observer's context")
	}
	var vals []any
	for it := range ch {
		vals = append(vals, it.V)
	}
	if len(vals) != 1 || vals[0] != 2 {
		t.Fatalf("got %v, want [2]", vals)
	}
}

func TestContextOfEndsWithTheGivenContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	got := rxobs.ContextOf([]rxgo.Option{rxgo.WithContext(ctx)})
	cancel()
	<-got.Done()
}
