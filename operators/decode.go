package operators

import (
	"context"
	"fmt"

	"github.com/reactivex/rxgo/v2"
	"github.com/rxpype/rxpype/internal/rxobs"
)

// DecodeError is the error item a Decoder emits for a value it could not
// decode. The stream goes on after it unless the Decoder stops on errors.
type DecodeError struct {
	Value any   // the item's value as it arrived
	Err   error // what the decode function returned
}

// Error is the decode function's error, prefixed with where it happened.
func (e *DecodeError) Error() string { return "operators: decode: " + e.Err.Error() }

// Unwrap returns the decode function's error.
func (e *DecodeError) Unwrap() error { return e.Err }

// Decoder turns the values of a stream into T, one goroutine for the whole
// stream (one channel hop, like a Chain).
//
// When T is a pointer, emitting it costs no allocation beyond the decode's
// own; a struct value is copied into a new allocation each time it is put in
// an rxgo.Item.
type Decoder[T any] struct {
	// Decode turns one value into a T. It runs in the operator's goroutine,
	// one value at a time, in order.
	Decode func(v any) (T, error)
	// StopOnError ends the output after the first decode error (emitted as
	// a *DecodeError). By default a decode error is emitted and the stream
	// goes on. Error items from upstream pass through either way.
	StopOnError bool
}

// Decode returns in with every value item decoded by decode; a value that
// fails becomes a *DecodeError item and the stream goes on. It is
// Decoder[T]{Decode: decode}.Observable(in, opts...).
func Decode[T any](in rxgo.Observable, decode func(v any) (T, error), opts ...rxgo.Option) rxgo.Observable {
	return Decoder[T]{Decode: decode}.Observable(in, opts...)
}

// Observable applies d to every value item of in and emits the results as
// T values in order. Observe observes in before it returns, so on a hot
// source the subscriber is attached by then.
//
// opts apply to this operator and, as with rxgo's own operators, flow
// upstream into in when it is observed, so a rxgo.WithContext given here
// also ends the upstream observation. Cancel that context to stop early: an
// observer that just stops reading holds the operator, and the upstream
// behind it. With StopOnError the output completes after the first decode
// error, and the upstream is drained in the background until it completes,
// so that a lossless upstream subscriber never holds its source; cancel the
// context to end an upstream that honours it at once (one that ignores it,
// such as rxgo.FromChannel's, is drained until it completes).
func (d Decoder[T]) Observable(in rxgo.Observable, opts ...rxgo.Option) rxgo.Observable {
	if d.Decode == nil {
		panic("operators: Decoder.Decode is nil")
	}
	return rxobs.New(func(obsOpts ...rxgo.Option) <-chan rxgo.Item {
		all := append(append([]rxgo.Option{}, opts...), obsOpts...)
		// Observe the upstream now, in the caller's goroutine, so that a hot
		// upstream has its subscriber attached when Observe returns.
		upstream := in.Observe(all...)
		return rxgo.Defer([]rxgo.Producer{func(ctx context.Context, next chan<- rxgo.Item) {
			d.run(ctx, upstream, next)
		}}, all...).Observe()
	})
}

func (d Decoder[T]) run(ctx context.Context, upstream <-chan rxgo.Item, next chan<- rxgo.Item) {
	for {
		item, ok := receive(ctx, upstream)
		if !ok {
			return
		}
		stop := false
		if item.E == nil {
			out, err := d.Decode(item.V)
			if err != nil {
				item = rxgo.Error(&DecodeError{Value: item.V, Err: err})
				stop = d.StopOnError
			} else {
				item = rxgo.Of(out)
			}
		}
		select {
		case next <- item:
		case <-ctx.Done():
			stop = true
		}
		if stop {
			go drain(upstream)
			return
		}
	}
}

func drain(c <-chan rxgo.Item) {
	for range c {
	}
}

// receive waits for up's next item. It reports false once up completes, or
// once ctx ends, even if up goes on (an upstream that ignores the context,
// such as rxgo.FromChannel's): then up is drained in the background until it
// completes, so that a lossless upstream does not hold its source.
func receive(ctx context.Context, up <-chan rxgo.Item) (rxgo.Item, bool) {
	select {
	case item, ok := <-up:
		return item, ok
	case <-ctx.Done():
		go drain(up)
		return rxgo.Item{}, false
	}
}

// DecodeFunc adapts a function of a concrete input type to Decode: a value
// that is not an In is a decode error naming both types.
func DecodeFunc[In, T any](f func(In) (T, error)) func(v any) (T, error) {
	return func(v any) (T, error) {
		in, ok := as[In](v)
		if !ok {
			var zero T
			return zero, fmt.Errorf("got %T, want %T", v, in)
		}
		return f(in)
	}
}
