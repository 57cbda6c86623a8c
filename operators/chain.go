package operators

import (
	"context"
	"fmt"

	"github.com/reactivex/rxgo/v2"
	"github.com/rxpype/rxpype/internal/rxobs"
)

// Stage is one step of a Chain. It returns the value to pass on, keep ==
// false to drop the value, or an error.
type Stage[T any] func(ctx context.Context, v T) (out T, keep bool, err error)

// Chain is an ordered list of stages fused into one operator.
//
// rxgo runs every operator in its own goroutine behind a channel, which
// costs more per item than a WebSocket read; a Chain of any length costs one
// hop when used as an operator (Observable), and none when called inline
// (Run) from a read loop.
type Chain[T any] []Stage[T]

// StageError reports which stage of a Chain failed.
type StageError struct {
	Index int   // the stage's position in the chain, from 0
	Err   error // what the stage returned
}

// Error says which stage failed and how.
func (e *StageError) Error() string { return fmt.Sprintf("stage %d: %v", e.Index, e.Err) }

// Unwrap returns the stage's error.
func (e *StageError) Unwrap() error { return e.Err }

// Run passes v through every stage in order, stopping at the first that
// drops it or fails; a failure is returned as a *StageError.
func (c Chain[T]) Run(ctx context.Context, v T) (T, bool, error) {
	for i, stage := range c {
		out, keep, err := stage(ctx, v)
		if err != nil {
			var zero T
			return zero, false, &StageError{Index: i, Err: err}
		}
		if !keep {
			var zero T
			return zero, false, nil
		}
		v = out
	}
	return v, true, nil
}

// Observable applies the chain to every value item of in, in one goroutine.
// Dropped values vanish, a failing stage turns its value into an error item
// and the stream goes on, and error items from upstream pass through. A value
// that is not a T is an error item. Cancel the context in opts (or given to
// Observe) to stop it. The upstream is observed inside Observe, in the
// caller's goroutine, so a hot upstream misses nothing.
func (c Chain[T]) Observable(in rxgo.Observable, opts ...rxgo.Option) rxgo.Observable {
	return rxobs.New(func(obsOpts ...rxgo.Option) <-chan rxgo.Item {
		all := append(append([]rxgo.Option{}, opts...), obsOpts...)
		upstream := in.Observe(all...)
		return rxgo.Defer([]rxgo.Producer{func(ctx context.Context, next chan<- rxgo.Item) {
			c.run(ctx, upstream, next)
		}}, all...).Observe()
	})
}

func (c Chain[T]) run(ctx context.Context, upstream <-chan rxgo.Item, next chan<- rxgo.Item) {
	for {
		item, ok := receive(ctx, upstream)
		if !ok {
			return
		}
		if item.E == nil {
			v, ok := as[T](item.V)
			if !ok {
				item = rxgo.Error(fmt.Errorf("operators: chain got %T, want %T", item.V, v))
			} else {
				out, keep, err := c.Run(ctx, v)
				switch {
				case err != nil:
					item = rxgo.Error(err)
				case !keep:
					continue
				default:
					item = rxgo.Of(out)
				}
			}
		}
		select {
		case next <- item:
		case <-ctx.Done():
			go drain(upstream) // an upstream we stop reading must not be stranded
			return
		}
	}
}

// as is x.(T), except that a nil x is T's zero value when T is an interface
// type (any, error, ...), as rxgo's Map hands nil on: x.(T) refuses nil.
func as[T any](x any) (T, bool) {
	v, ok := x.(T)
	if !ok && x == nil && any(v) == nil {
		return v, true
	}
	return v, ok
}
