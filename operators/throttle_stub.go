package operators

import (
	"context"

	"github.com/reactivex/rxgo/v2"
)

// Throttle is replaced on merge.
func Throttle(in rxgo.Observable, acquire func(ctx context.Context, item any) error, onErr func(item any, err error) any, opts ...rxgo.Option) rxgo.Observable {
	return in
}
