package clock_test

import (
	"testing"
	"time"

	"github.com/rxpype/rxpype/clock"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestMockMovesOnlyWhenTold(t *testing.T) {
	m := clock.NewMock()
	start := m.Now()
	timer := m.Timer(time.Second)
	m.Add(999 * time.Millisecond)
	select {
	case <-timer.C:
		t.Fatal("timer fired a millisecond early")
	default:
	}
	m.Add(time.Millisecond)
	if got := <-timer.C; !got.Equal(start.Add(time.Second)) {
		t.Fatalf("fired at %v, want %v", got, start.Add(time.Second))
	}
}

func TestOrReal(t *testing.T) {
	if clock.OrReal(nil) == nil {
		t.Fatal("OrReal(nil) returned nil")
	}
	m := clock.NewMock()
	if clock.OrReal(m) != clock.Clock(m) {
		t.Fatal("OrReal replaced a given clock")
	}
}
