package operators_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any goroutine outlives them: an
// operator that strands its goroutine is the leak rxgo makes easy.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
