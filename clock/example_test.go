package clock_test

import (
	"fmt"
	"time"

	"github.com/rxpype/rxpype/clock"
)

// A test moves a mock clock by hand: a timer fires during the Add that
// reaches its time, and not a moment before.
func ExampleMock() {
	mock := clock.NewMock()
	timer := mock.Timer(10 * time.Second)

	mock.Add(9 * time.Second)
	select {
	case <-timer.C:
		fmt.Println("fired early")
	default:
		fmt.Println("at 9s: not yet")
	}
	mock.Add(time.Second)
	fmt.Println("fired at", (<-timer.C).Sub(time.Unix(0, 0)))
	// Output:
	// at 9s: not yet
	// fired at 10s
}
