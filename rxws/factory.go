package rxws

import (
	"context"
	"errors"
	"sync"
)

// Factory makes Managers that share one configuration and one throttler, so
// that several connections draw on one rate-limit budget. Close disconnects
// every Manager it made.
type Factory struct {
	opts []Option

	mu       sync.Mutex
	managers []*Manager
	closed   bool
}

// NewFactory returns a Factory whose Managers charge t (nil: no throttling)
// and use opts.
func NewFactory(t *Throttler, opts ...Option) *Factory {
	o := append([]Option{WithThrottler(t)}, opts...)
	return &Factory{opts: o}
}

// WSManager returns a new, unconnected Manager with the factory's options
// followed by opts. It fails with ErrFactoryClosed after Close.
func (f *Factory) WSManager(opts ...Option) (*Manager, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return nil, ErrFactoryClosed
	}
	all := append(append([]Option{}, f.opts...), opts...)
	m := NewManager(nil, all...)
	f.managers = append(f.managers, m)
	return m, nil
}

// Close disconnects every Manager the factory made and refuses to make more;
// their Connect fails with ErrFactoryClosed from then on. It returns their
// errors joined. Calling it again does nothing.
func (f *Factory) Close() error {
	f.mu.Lock()
	ms := f.managers
	f.managers, f.closed = nil, true
	f.mu.Unlock()
	var errs []error
	for _, m := range ms {
		// Closed first, under m.mu: a Connect either fails now or is
		// in flight, and then Disconnect ends it.
		m.mu.Lock()
		m.closed = true
		m.mu.Unlock()
		errs = append(errs, m.Disconnect(context.Background()))
	}
	return errors.Join(errs...)
}
