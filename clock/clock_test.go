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

// The Mock's ways with timers already due, as its doc describes them.
func TestMockTimersAlreadyDue(t *testing.T) {
	m := clock.NewMock()
	if _, ok := <-m.After(0); !ok {
		t.Fatal("After(0) did not fire at once")
	}
	ran := make(chan struct{})
	m.AfterFunc(0, func() { close(ran) })
	select {
	case <-ran:
		t.Fatal("AfterFunc(0) ran at once")
	default:
	}
	after := m.After(0) // fires the AfterFunc in its place
	<-ran
	select {
	case <-after:
		t.Fatal("After(0) fired, although an AfterFunc was due")
	default:
	}
	m.Add(0)
	<-after
}
