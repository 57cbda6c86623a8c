package operators_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync/atomic"
	"testing"
	"time"

	"github.com/reactivex/rxgo/v2"

	"github.com/rxpype/rxpype/operators"
	"github.com/rxpype/rxpype/source"
)

// A stuck test must fail, not hang until the go test timeout.
const stuck = 10 * time.Second

// itemsOf emits items and completes, stopping early if ctx ends, as every
// producer in a pipeline must.
func itemsOf(items ...rxgo.Item) rxgo.Observable {
	return rxgo.Defer([]rxgo.Producer{func(ctx context.Context, next chan<- rxgo.Item) {
		for _, it := range items {
			select {
			case next <- it:
			case <-ctx.Done():
				return
			}
		}
	}})
}

func values(n int) []rxgo.Item {
	items := make([]rxgo.Item, n)
	for i := range items {
		items[i] = rxgo.Of(i)
	}
	return items
}

// collect reads ch to its end, rendering each item as its value or "err:...".
func collect(t *testing.T, ch <-chan rxgo.Item) []string {
	t.Helper()
	var got []string
	timeout := time.After(stuck)
	for {
		select {
		case it, ok := <-ch:
			if !ok {
				return got
			}
			if it.Error() {
				got = append(got, "err:"+it.E.Error())
			} else {
				got = append(got, fmt.Sprint(it.V))
			}
		case <-timeout:
			t.Fatalf("stream did not end; got %v so far", got)
		}
	}
}

func TestThrottleCallsAcquireOncePerValueInOrder(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var seen []any
	var inFlight, overlaps atomic.Int32
	acquire := func(_ context.Context, v any) error {
		if inFlight.Add(1) > 1 {
			overlaps.Add(1)
		}
		defer inFlight.Add(-1)
		seen = append(seen, v) // safe only because calls never overlap
		return nil
	}
	got := collect(t, operators.Throttle(itemsOf(values(200)...), acquire, nil, rxgo.WithContext(ctx)).Observe())

	want := make([]string, 200)
	wantSeen := make([]any, 200)
	for i := range want {
		want[i], wantSeen[i] = fmt.Sprint(i), i
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("items out of order or lost: %v", got)
	}
	if !reflect.DeepEqual(seen, wantSeen) {
		t.Fatalf("acquire saw %v", seen)
	}
	if overlaps.Load() != 0 {
		t.Fatal("acquire ran concurrently with itself")
	}
}

func TestThrottleHoldsEachItemUntilAcquireReturns(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	gate := make(chan struct{})
	acquire := func(ctx context.Context, _ any) error {
		select {
		case <-gate:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	out := operators.Throttle(itemsOf(values(3)...), acquire, nil, rxgo.WithContext(ctx)).Observe()
	for i := 0; i < 3; i++ {
		select {
		case it := <-out:
			t.Fatalf("item %v passed before acquire allowed it", it.V)
		default:
		}
		gate <- struct{}{}
		if it := <-out; it.V != i {
			t.Fatalf("got %v, want %d", it.V, i)
		}
	}
	if got := collect(t, out); len(got) != 0 {
		t.Fatalf("extra items %v", got)
	}
}

func TestThrottleFailureBecomesAnItemAndTheStreamGoesOn(t *testing.T) {
	errOdd := errors.New("odd")
	acquire := func(_ context.Context, v any) error {
		if v.(int)%2 == 1 {
			return errOdd
		}
		return nil
	}
	onErr := func(v any, err error) any { return fmt.Sprintf("%v failed: %v", v, err) }

	for _, tc := range []struct {
		name  string
		onErr func(any, error) any
		want  []string
	}{
		{"onErr maps it to a value", onErr, []string{"0", "1 failed: odd", "2", "3 failed: odd", "4"}},
		{"no onErr emits an error item", nil, []string{"0", "err:odd", "2", "err:odd", "4"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			got := collect(t, operators.Throttle(itemsOf(values(5)...), acquire, tc.onErr, rxgo.WithContext(ctx)).Observe())
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestThrottlePassesUpstreamErrorsWithoutAcquiring(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var calls atomic.Int32
	acquire := func(context.Context, any) error { calls.Add(1); return nil }
	in := itemsOf(rxgo.Of(1), rxgo.Error(errors.New("boom")), rxgo.Of(2))
	got := collect(t, operators.Throttle(in, acquire, nil, rxgo.WithContext(ctx)).Observe())
	if want := []string{"1", "err:boom", "2"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	if calls.Load() != 2 {
		t.Fatalf("acquire called %d times, want 2", calls.Load())
	}
}

// blockingAcquire waits for ctx, like a throttler with no capacity left, and
// tells the test once it is waiting.
func blockingAcquire(waiting chan<- struct{}) func(context.Context, any) error {
	return func(ctx context.Context, _ any) error {
		waiting <- struct{}{}
		<-ctx.Done()
		return ctx.Err()
	}
}

func TestThrottleStopsWhenTheContextEnds(t *testing.T) {
	for _, where := range []string{"operator option", "Observe option"} {
		t.Run(where, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			waiting := make(chan struct{}, 1)
			var obs rxgo.Observable
			var out <-chan rxgo.Item
			if where == "operator option" {
				obs = operators.Throttle(itemsOf(values(10)...), blockingAcquire(waiting), nil, rxgo.WithContext(ctx))
				out = obs.Observe()
			} else {
				obs = operators.Throttle(itemsOf(values(10)...), blockingAcquire(waiting), nil)
				out = obs.Observe(rxgo.WithContext(ctx))
			}
			<-waiting
			cancel()
			if got := collect(t, out); len(got) != 0 {
				t.Fatalf("items after cancel: %v", got)
			}
		})
	}
}

func TestThrottleWithAConsumerThatStopsReading(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	out := operators.Throttle(itemsOf(values(10)...), func(context.Context, any) error { return nil }, nil,
		rxgo.WithContext(ctx)).Observe()
	<-out // take one, then walk away: cancelling must release the rest
	cancel()
	collect(t, out)
}

func TestAcquireStagePassesOrCarriesTheFailure(t *testing.T) {
	boom := errors.New("no room")
	acquire := func(_ context.Context, v int) error {
		if v < 0 {
			return boom
		}
		return nil
	}
	carry := operators.AcquireStage(acquire, func(v int, err error) int { return 1000 })
	if v, keep, err := carry(context.Background(), 5); v != 5 || !keep || err != nil {
		t.Fatalf("pass: %v %v %v", v, keep, err)
	}
	if v, keep, err := carry(context.Background(), -1); v != 1000 || !keep || err != nil {
		t.Fatalf("carried failure: %v %v %v", v, keep, err)
	}
	fail := operators.AcquireStage[int](acquire, nil)
	if _, keep, err := fail(context.Background(), -1); keep || !errors.Is(err, boom) {
		t.Fatalf("failing stage: %v %v", keep, err)
	}
}

// Observe attaches to a hot upstream before it returns: an item published
// right after Observe reaches the throttle.
func TestThrottleObservesAHotUpstreamSynchronously(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := source.NewSubject[string]()
	other := s.Subscribe(source.Config{}) // so that Publish does not wait for the throttle
	defer other.Close()
	pass := func(context.Context, any) error { return nil }
	ch := operators.Throttle(s.Observable(source.Config{}), pass, nil, rxgo.WithContext(ctx)).Observe()
	if err := s.Publish(ctx, "first"); err != nil {
		t.Fatal(err)
	}
	s.Close(nil)
	var got []any
	for item := range ch {
		got = append(got, item.V)
	}
	if !reflect.DeepEqual(got, []any{"first"}) {
		t.Fatalf("got %v", got)
	}
}

// passingOperators are this package's operators, each letting every int
// through unchanged.
func passingOperators() map[string]func(in rxgo.Observable, opt rxgo.Option) rxgo.Observable {
	pass := func(context.Context, any) error { return nil }
	return map[string]func(in rxgo.Observable, opt rxgo.Option) rxgo.Observable{
		"chain": func(in rxgo.Observable, opt rxgo.Option) rxgo.Observable {
			return operators.Chain[int]{func(_ context.Context, v int) (int, bool, error) { return v, true, nil }}.Observable(in, opt)
		},
		"decode": func(in rxgo.Observable, opt rxgo.Option) rxgo.Observable {
			return operators.Decode(in, func(v any) (int, error) { return v.(int), nil }, opt)
		},
		"throttle": func(in rxgo.Observable, opt rxgo.Option) rxgo.Observable {
			return operators.Throttle(in, pass, nil, opt)
		},
	}
}

// Each operator's output completes when its context ends, even while an
// upstream that ignores the context (rxgo.FromChannel) sends nothing.
func TestOperatorsEndWithTheContextWhileTheUpstreamIsIdle(t *testing.T) {
	for name, op := range passingOperators() {
		t.Run(name, func(t *testing.T) {
			up := make(chan rxgo.Item)
			defer close(up) // ends the upstream, and the drain behind the operator
			ctx, cancel := context.WithCancel(context.Background())
			out := op(rxgo.FromChannel(up), rxgo.WithContext(ctx)).Observe()
			cancel()
			select {
			case item, ok := <-out:
				if ok {
					t.Fatalf("unexpected item %v", item)
				}
			case <-time.After(stuck):
				t.Fatal("the output did not complete when the context ended")
			}
		})
	}
}

// An upstream that ignores the context (rxgo.FromChannel) is drained once
// the context ends, wherever the operator was: waiting to hand an item on
// to a consumer that stopped reading, or, for Throttle, in acquire. Its
// producer is never left blocked.
func TestOperatorsDrainAContextBlindUpstreamAfterTheContextEnds(t *testing.T) {
	ops := passingOperators()
	ops["throttle in acquire"] = func(in rxgo.Observable, opt rxgo.Option) rxgo.Observable {
		return operators.Throttle(in, func(ctx context.Context, _ any) error { <-ctx.Done(); return ctx.Err() }, nil, opt)
	}
	for name, op := range ops {
		t.Run(name, func(t *testing.T) {
			up := make(chan rxgo.Item)
			ctx, cancel := context.WithCancel(context.Background())
			out := op(rxgo.FromChannel(up), rxgo.WithContext(ctx)).Observe()
			up <- rxgo.Of(0) // taken: nobody reads out, or acquire holds it
			cancel()
			produced := make(chan struct{})
			go func() {
				defer close(produced)
				for i := 1; i <= 3; i++ {
					up <- rxgo.Of(i)
				}
				close(up)
			}()
			select {
			case <-produced:
			case <-time.After(stuck):
				go drain(up) // so that the leak check reports this, not the producer
				t.Fatal("the producer is left blocked: nothing drains the upstream")
			}
			for range out {
			}
		})
	}
}

func drain(c <-chan rxgo.Item) {
	for range c {
	}
}
