package rxws

import (
	"context"
	"errors"
	"sync"
)

// Factory makes Managers that share one configuration and one throttler, so
// that several connections draw on one rate-limit budget. Close disconnects
// every Manager it made.
//
// A Factory holds its Managers only while they are connected (or
// connecting, or reconnecting): one that has been disconnected and dropped
// is not kept from the garbage collector, so a long-lived Factory may make
// a Manager per session.
type Factory struct {
	opts []Option

	mu     sync.Mutex
	live   map[*Manager]struct{} // its managers between Connect and the stream's end
	closed bool
}

// NewFactory returns a Factory whose Managers charge t (nil: no throttling)
// and use opts.
func NewFactory(t *Throttler, opts ...Option) *Factory {
	o := append([]Option{WithThrottler(t)}, opts...)
	return &Factory{opts: o, live: make(map[*Manager]struct{})}
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
	m.factory = f
	return m, nil
}

// Close disconnects every Manager the factory made and refuses to make more;
// their Connect fails with ErrFactoryClosed from then on. It returns their
// errors joined. Calling it again does nothing.
func (f *Factory) Close() error {
	f.mu.Lock()
	ms := f.live
	f.live, f.closed = nil, true
	f.mu.Unlock()
	var errs []error
	for m := range ms {
		// A Connect of m either enlisted before f closed, and is in ms
		// (Disconnect ends it, even in flight), or fails to enlist.
		errs = append(errs, m.Disconnect(context.Background()))
	}
	return errors.Join(errs...)
}

// enlist records m as connecting, unless f is closed. m.mu is held.
func (f *Factory) enlist(m *Manager) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return false
	}
	f.live[m] = struct{}{}
	return true
}

// forget drops m once its stream has ended. m.mu is held.
func (f *Factory) forget(m *Manager) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.live, m) // a no-op once Close has taken the map
}
