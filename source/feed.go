package source

import "context"

// Feed is the hot source's read loop: it calls read until it fails and
// publishes each value it keeps to s. read returns keep == false to skip a
// value (a filter that ran inside the loop). Feed returns read's error, or
// Publish's if publishing stopped first; it does not close s, so that the
// caller decides whether the stream outlives this loop (a reconnect does).
//
// Because Publish waits while nobody is subscribed, Feed stops calling read
// until someone is: a blocking reader applies backpressure to its peer.
func Feed[T any](ctx context.Context, s *Subject[T], read func() (v T, keep bool, err error)) error {
	for {
		v, keep, err := read()
		if err != nil {
			return err
		}
		if !keep {
			continue
		}
		if err := s.Publish(ctx, v); err != nil {
			return err
		}
	}
}
