package operators_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/reactivex/rxgo/v2"
	"github.com/rxpype/rxpype/operators"
	"github.com/rxpype/rxpype/source"
)

func TestChainRunsStagesInOrderDropsAndFails(t *testing.T) {
	double := func(_ context.Context, v int) (int, bool, error) { return v * 2, true, nil }
	dropSix := func(_ context.Context, v int) (int, bool, error) { return v, v != 6, nil }
	failEight := func(_ context.Context, v int) (int, bool, error) {
		if v == 8 {
			return 0, false, errors.New("eight")
		}
		return v + 1, true, nil
	}
	c := operators.Chain[int]{double, dropSix, failEight}
	if v, keep, err := c.Run(context.Background(), 1); v != 3 || !keep || err != nil {
		t.Fatalf("Run(1) = %v %v %v", v, keep, err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var got []any
	var errs []error
	for item := range c.Observable(rxgo.Just(1, 2, 3, 4, "x")(), rxgo.WithContext(ctx)).Observe() {
		if item.E != nil {
			errs = append(errs, item.E)
			continue
		}
		got = append(got, item.V)
	}
	if !reflect.DeepEqual(got, []any{3, 5}) {
		t.Fatalf("values %v", got)
	}
	var se *operators.StageError
	if len(errs) != 2 || !errors.As(errs[0], &se) || se.Index != 2 || se.Err.Error() != "eight" {
		t.Fatalf("errors %v", errs)
	}
}

func TestChainObservableSubscribesInsideObserve(t *testing.T) {
	s := source.NewSubject[int]()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	inc := operators.Chain[int]{func(_ context.Context, v int) (int, bool, error) { return v + 1, true, nil }}
	ch := inc.Observable(s.Observable(source.Config{}), rxgo.WithContext(ctx)).Observe()
	// Observe has returned, so the subscriber is attached: Publish does not
	// wait for one, and nothing published now is lost.
	if s.Subscribers() != 1 {
		t.Fatalf("subscribers: %d", s.Subscribers())
	}
	for i := range 3 {
		if err := s.Publish(ctx, i); err != nil {
			t.Fatal(err)
		}
	}
	s.Close(nil)
	var got []any
	for it := range ch {
		got = append(got, it.V)
	}
	if !reflect.DeepEqual(got, []any{1, 2, 3}) {
		t.Fatalf("got %v", got)
	}
}

// A nil value is a value of an interface type: a Chain[any] (and a
// DecodeFunc taking one) hands it on, as rxgo's Map does, while a chain
// of a concrete type still refuses it.
func TestAChainOfAnInterfaceTypeTakesNil(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	id := operators.Chain[any]{func(_ context.Context, v any) (any, bool, error) { return v, true, nil }}
	got := collect(t, id.Observable(itemsOf(rxgo.Of(1), rxgo.Of(nil), rxgo.Of(2)), rxgo.WithContext(ctx)).Observe())
	if !reflect.DeepEqual(got, []string{"1", "<nil>", "2"}) {
		t.Fatalf("Chain[any] gave %q", got)
	}
	ints := operators.Chain[int]{func(_ context.Context, v int) (int, bool, error) { return v, true, nil }}
	got = collect(t, ints.Observable(itemsOf(rxgo.Of(nil)), rxgo.WithContext(ctx)).Observe())
	if len(got) != 1 || !strings.Contains(got[0], "chain got <nil>, want int") {
		t.Fatalf("Chain[int] of nil gave %q", got)
	}
	f := operators.DecodeFunc(func(in error) (string, error) { return fmt.Sprint(in), nil })
	if s, err := f(nil); err != nil || s != "<nil>" {
		t.Fatalf("DecodeFunc taking an error, given nil: %q, %v", s, err)
	}
}
