package rxws

import "context"

// Throttler is replaced by the real throttler on merge.
type Throttler struct{}

// Acquire is replaced on merge.
func (t *Throttler) Acquire(ctx context.Context, limitID string) error { return nil }
