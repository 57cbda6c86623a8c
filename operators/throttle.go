// Package operators holds generic operators for rxgo v2 pipelines: ordered
// chains, throttling and decoding. They know nothing of
// WebSockets, so any observable pipeline can use them; package rxws is only
// their first user.
//
// rxgo v2.5.0 runs every operator in its own goroutine, stops at the first
// error item, and leaks its goroutines when a consumer stops reading without
// cancelling. The operators here are built so that none of that bites: each
// is one goroutine reading its upstream in order, error items flow through
// rather than ending the stream, and everything stops when the context passed
// with rxgo.WithContext ends. Always cancel that context when done with a
// pipeline.
package operators

import (
	"context"

	"github.com/reactivex/rxgo/v2"
	"github.com/rxpype/rxpype/internal/rxobs"
)

// Throttle lets each value of in through only after acquire(ctx, value)
// returns nil, calling acquire for one value at a time in arrival order, so
// items leave in the order they came and a rate limiter sees requests in the
// order they were made. ctx is the pipeline's context (from rxgo.WithContext in
// opts or in Observe), so a cancelled pipeline also abandons a pending wait.
//
// When acquire fails, the stream goes on: the item becomes onErr(value, err)
// if onErr is not nil, so the caller can report the failure per item (for
// example to whoever sent it), or otherwise an error item carrying err.
// Error items from upstream pass through untouched and do not end the
// stream. If acquire fails because ctx ended, Throttle stops without
// emitting anything more.
//
// opts configure the returned Observable as for any rxgo operator
// (rxgo.WithContext, rxgo.WithBufferedChannel); only the context is passed
// on to in. Throttle runs no goroutine until observed, and its goroutine ends
// when in completes or ctx ends; an in that goes on after ctx ended (such as
// rxgo.FromChannel's) is then drained in the background until it completes.
// in is observed before Observe returns, so on a hot source the subscriber
// is attached by then.
func Throttle(in rxgo.Observable, acquire func(ctx context.Context, item any) error,
	onErr func(item any, err error) any, opts ...rxgo.Option) rxgo.Observable {
	return rxobs.New(func(obsOpts ...rxgo.Option) <-chan rxgo.Item {
		all := append(append([]rxgo.Option{}, opts...), obsOpts...)
		up := in.Observe(rxgo.WithContext(rxobs.ContextOf(all)))
		return rxgo.Defer([]rxgo.Producer{func(ctx context.Context, next chan<- rxgo.Item) {
			throttle(ctx, up, next, acquire, onErr)
		}}, all...).Observe()
	})
}

func throttle(ctx context.Context, up <-chan rxgo.Item, next chan<- rxgo.Item,
	acquire func(context.Context, any) error, onErr func(any, error) any) {
	for {
		item, ok := receive(ctx, up) // drains up itself when ctx ends
		if !ok {
			return
		}
		if !item.Error() {
			if err := acquire(ctx, item.V); err != nil {
				if ctx.Err() != nil {
					go drain(up)
					return
				}
				if onErr != nil {
					item = rxgo.Of(onErr(item.V, err))
				} else {
					item = rxgo.Error(err)
				}
			}
		}
		select {
		case next <- item:
		case <-ctx.Done():
			// As receive does: an upstream that ignores ctx must not be
			// left holding its source.
			go drain(up)
			return
		}
	}
}

// AcquireStage is Throttle as a Chain stage, for pipelines that run their
// stages inline in one goroutine (as rxws's writer does): the value passes
// once acquire(ctx, v) returns nil. When acquire fails the value becomes
// onErr(v, err) and goes on, so the failure can travel with it to whoever
// waits for it; with a nil onErr the stage fails with err.
func AcquireStage[T any](acquire func(ctx context.Context, v T) error, onErr func(v T, err error) T) Stage[T] {
	return func(ctx context.Context, v T) (T, bool, error) {
		if err := acquire(ctx, v); err != nil {
			if onErr == nil {
				return v, false, err
			}
			return onErr(v, err), true, nil
		}
		return v, true, nil
	}
}
