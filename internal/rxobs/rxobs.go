// Package rxobs builds rxgo v2 Observables on a plain observe function, so
// that work done in Observe (attaching a subscriber, observing an upstream)
// happens before Observe returns.
//
// rxgo offers no public way to build an Observable on a custom Iterable; its
// Defer runs everything in a goroutine, later, which loses the first items
// of a hot source to an observer that was set up after another. New fills
// the fields of rxgo.ObservableImpl (v2.5.0, the last release) through a
// mirror struct whose layout is checked before use; on any mismatch it falls
// back to Defer and Sync reports false.
package rxobs

import (
	"context"
	"reflect"
	"unsafe"

	"github.com/reactivex/rxgo/v2"
)

// ObserveFunc is an rxgo.Iterable: Observe calls the function.
type ObserveFunc func(opts ...rxgo.Option) <-chan rxgo.Item

// Observe calls f.
func (f ObserveFunc) Observe(opts ...rxgo.Option) <-chan rxgo.Item { return f(opts...) }

// observableImpl mirrors the fields of rxgo.ObservableImpl.
type observableImpl struct {
	parent   context.Context
	iterable rxgo.Iterable
}

var layoutMatches = func() bool {
	t := reflect.TypeOf(rxgo.ObservableImpl{})
	m := reflect.TypeOf(observableImpl{})
	if t.NumField() != m.NumField() || t.Size() != m.Size() {
		return false
	}
	for i := 0; i < t.NumField(); i++ {
		a, b := t.Field(i), m.Field(i)
		if a.Name != b.Name || a.Type != b.Type || a.Offset != b.Offset {
			return false
		}
	}
	return true
}()

// Sync reports whether Observables from New call their observe function
// synchronously in Observe (true with rxgo v2.5.0).
func Sync() bool { return layoutMatches }

// New returns an Observable whose Observe(opts...) calls observe(opts...)
// in the caller's goroutine and returns its channel. Most rxgo operators
// chained after it observe it synchronously too, passing their options on;
// those built on rxgo's customObservableOperator (BufferWithTime, Debounce,
// TimeInterval, FlatMap, ...), and Retry, observe it in a goroutine of
// their own.
func New(observe ObserveFunc) rxgo.Observable {
	if !layoutMatches {
		return rxgo.Defer([]rxgo.Producer{func(ctx context.Context, next chan<- rxgo.Item) {
			for item := range observe(rxgo.WithContext(ctx)) {
				select {
				case next <- item:
				case <-ctx.Done():
					return
				}
			}
		}})
	}
	o := &rxgo.ObservableImpl{}
	(*observableImpl)(unsafe.Pointer(o)).iterable = observe
	return o
}

// ContextOf returns the context rxgo builds from opts. rxgo keeps it
// unexported, so a producer that returns at once is asked for it; this
// costs a short-lived goroutine per Observe, not per item.
func ContextOf(opts []rxgo.Option) context.Context {
	got := make(chan context.Context, 1)
	for range rxgo.Defer([]rxgo.Producer{func(ctx context.Context, _ chan<- rxgo.Item) { got <- ctx }}, opts...).Observe() {
	}
	return <-got
}
