package rxws_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any goroutine outlives them: every
// waiter, timer callback and pipeline stage in rxws must end on its own.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
