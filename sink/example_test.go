package sink_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/reactivex/rxgo/v2"

	"github.com/rxpype/rxpype/sink"
)

// Drain writes each value in the calling goroutine, one at a time, and
// reports each outcome: a failed write does not stop it.
func ExampleDrain() {
	in := rxgo.Just("a", "b", "c")()
	write := func(v any) error {
		if v == "b" {
			return errors.New("socket busy")
		}
		return nil
	}
	report := func(v any, err error) { fmt.Println(v, err) }
	err := sink.Drain(context.Background(), in, write, report)
	fmt.Println("drained:", err)
	// Output:
	// a <nil>
	// b socket busy
	// c <nil>
	// drained: <nil>
}
