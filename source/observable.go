package source

import (
	"context"
	"io"

	"github.com/reactivex/rxgo/v2"
	"github.com/rxpype/rxpype/internal/rxobs"
)

// Observable returns the Subject as an rxgo Observable. Every Observe, on it
// or on an operator chained after it that observes its upstream at once
// (Map, Filter, Take, Scan and most others; not rxgo's time- and
// window-based ones, such as BufferWithTime, Debounce, TimeInterval or
// FlatMap, nor Retry, which observe it in a goroutine of their own), attaches a new
// subscriber with cfg before Observe returns, so two observers set up one
// after the other both see every later item. Items arrive as rxgo.Of(v); the stream ends with
// the Subject's error as an error item, or closes after a normal completion.
//
// Each observer has one goroutine that moves items from its buffer to the
// observer's channel; it holds one item beyond cfg's buffer while the
// observer is not reading, and Stats count that item as delivered.
//
// Pass rxgo.WithContext and cancel it to leave early: an observer that just
// stops reading keeps its subscription (rxgo has no other unsubscribe), and
// with Block it holds the publisher.
func (s *Subject[T]) Observable(cfg Config, opts ...rxgo.Option) rxgo.Observable {
	return observableOf(&subjectIterable[T]{subj: s, cfg: cfg, opts: opts, item: func(v T) rxgo.Item { return rxgo.Of(v) }})
}

// Items is Observable for a Subject whose values already are rxgo Items, so
// that a producer can publish error items in the stream without ending it.
// Items are passed on as they are, without a second wrapping.
//
// Its observers cost no goroutine: each gets its subscription's own channel,
// which the Subject closes after the last item (and the error item, if
// any), and which closes when the context in the options ends. rxgo options
// other than the context (WithBufferedChannel, ...) do not apply to it; the
// buffer is cfg's.
func Items(s *Subject[rxgo.Item], cfg Config, opts ...rxgo.Option) rxgo.Observable {
	if cfg.Once {
		return observableOf(&subjectIterable[rxgo.Item]{subj: s, cfg: cfg, opts: opts, item: func(it rxgo.Item) rxgo.Item { return it }})
	}
	return observableOf(rxobs.ObserveFunc(func(o ...rxgo.Option) <-chan rxgo.Item {
		ctx := rxobs.ContextOf(append(append([]rxgo.Option{}, opts...), o...))
		sub := s.subscribe(cfg, func(sub *Subscription[rxgo.Item]) {
			sub.direct = true
			sub.errItem = rxgo.Error
		})
		sub.hook(ctx)
		return sub.ch
	}))
}

type subjectIterable[T any] struct {
	subj *Subject[T]
	cfg  Config
	opts []rxgo.Option
	item func(T) rxgo.Item
}

func (it *subjectIterable[T]) Observe(opts ...rxgo.Option) <-chan rxgo.Item {
	sub := it.subj.Subscribe(it.cfg)
	// Defer parses the options (context, channel buffer) and runs the pump
	// in its own goroutine; the subscription above is already in place.
	return rxgo.Defer([]rxgo.Producer{func(ctx context.Context, next chan<- rxgo.Item) {
		pump(ctx, sub, next, it.item)
	}}, append(append([]rxgo.Option{}, it.opts...), opts...)...).Observe()
}

func pump[T any](ctx context.Context, sub *Subscription[T], next chan<- rxgo.Item, item func(T) rxgo.Item) {
	defer sub.Close()
	for {
		v, err := sub.Next(ctx)
		if err != nil {
			if err != io.EOF && err != ErrUnsubscribed && ctx.Err() == nil {
				select {
				case next <- rxgo.Error(err):
				case <-ctx.Done():
				}
			}
			return
		}
		it := item(v)
		select { // a send with room needs no second case
		case next <- it:
			continue
		default:
		}
		select {
		case next <- it:
		case <-ctx.Done():
			return
		}
	}
}

func observableOf(it rxgo.Iterable) rxgo.Observable { return rxobs.New(it.Observe) }
