// Package sink holds generic sinks for observable pipelines: the end of a
// pipeline, where items leave for the outside world. It knows nothing of
// WebSockets.
package sink

import (
	"context"
	"io"

	"github.com/reactivex/rxgo/v2"
)

// Drain observes in and calls write for each value, one at a time, in the
// calling goroutine: whatever write touches has exactly one writer, which is
// what a network connection needs. After each value, report is told the
// value and write's error (nil on success); an error item from upstream is
// reported with a nil value. A failed write does not stop the drain: the
// caller decides, through ctx, when the pipeline is over.
//
// Drain returns nil when in completes, or ctx's error once ctx ends, and
// writes nothing after ctx has ended, even an item that was already on its
// way. Either way every stage of the pipeline that honours the context has
// been told to stop, because Drain observes in with ctx; Drain does not wait
// for a source that ignores it (rxgo.FromChannel) to close.
func Drain(ctx context.Context, in rxgo.Observable, write func(v any) error, report func(v any, err error)) error {
	items := in.Observe(rxgo.WithContext(ctx))
	for {
		select {
		case item, ok := <-items:
			if !ok {
				return ctx.Err()
			}
			// select picks at random among ready cases: an item can
			// win over a context that has already ended.
			if err := ctx.Err(); err != nil {
				return err
			}
			if item.E != nil {
				report(nil, item.E)
				continue
			}
			report(item.V, write(item.V))
		case <-ctx.Done():
			// Not every source honours the context (rxgo.FromChannel does
			// not), so stop here rather than wait for it to close.
			return ctx.Err()
		}
	}
}

// Pull drains a pull-based source, such as source.Subscription.Next, into
// write: one value at a time, in the calling goroutine, with report told
// each value and write's error. It costs no goroutine and no channel hop
// beyond the source's own, which matters for a request/reply round trip.
// It returns nil when next reports io.EOF, otherwise next's error.
//
// Pull leaves ctx to next: it writes every value next returns, and stops
// only at next's error. So with a source that hands out what it has
// buffered before it looks at ctx, as source.Subscription.Next does, the
// backlog is written after ctx ends; rxws's writer relies on that to hand
// the sends queued at a lost connection back to their senders. To stop
// writing at once, check ctx in write.
func Pull[T any](ctx context.Context, next func(context.Context) (T, error), write func(T) error, report func(T, error)) error {
	for {
		v, err := next(ctx)
		if err != nil {
			if err == io.EOF {
				return nil
			}
			return err
		}
		report(v, write(v))
	}
}
