package operators_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/reactivex/rxgo/v2"

	"github.com/rxpype/rxpype/operators"
)

// A Chain fuses a map and a filter into one operator: one goroutine hop for
// the whole chain, where rxgo's Map and Filter would cost one each.
func ExampleChain() {
	upper := func(_ context.Context, s string) (string, bool, error) { return strings.ToUpper(s), true, nil }
	notHeartbeat := func(_ context.Context, s string) (string, bool, error) { return s, s != "HEARTBEAT", nil }
	chain := operators.Chain[string]{upper, notHeartbeat}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel() // ends the chain's goroutine, whatever happens
	in := rxgo.Just("trade", "heartbeat", "quote")()
	for item := range chain.Observable(in).Observe(rxgo.WithContext(ctx)) {
		fmt.Println(item.V)
	}
	// Output:
	// TRADE
	// QUOTE
}
