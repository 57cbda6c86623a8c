package sink_test

import (
	"context"
	"errors"
	"io"
	"reflect"
	"testing"

	"github.com/reactivex/rxgo/v2"
	"github.com/rxpype/rxpype/sink"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestDrainWritesInOrderAndReportsEach(t *testing.T) {
	boom := errors.New("boom")
	in := rxgo.Just(1, 2, boom, 3)()
	var written []any
	var reports []string
	err := sink.Drain(context.Background(), in,
		func(v any) error {
			written = append(written, v)
			if v == 2 {
				return errors.New("write failed")
			}
			return nil
		},
		func(v any, err error) {
			s := "ok"
			if err != nil {
				s = err.Error()
			}
			reports = append(reports, s)
		})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(written, []any{1, 2, 3}) {
		t.Fatalf("written %v", written)
	}
	if want := []string{"ok", "write failed", "boom", "ok"}; !reflect.DeepEqual(reports, want) {
		t.Fatalf("reports %v, want %v", reports, want)
	}
}

func TestDrainStopsWithContext(t *testing.T) {
	ch := make(chan rxgo.Item)
	ctx, cancel := context.WithCancel(context.Background())
	in := rxgo.FromChannel(ch)
	done := make(chan error)
	go func() { done <- sink.Drain(ctx, in, func(any) error { return nil }, func(any, error) {}) }()
	ch <- rxgo.Of(1)
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v", err)
	}
	close(ch)
}

func TestPullWritesUntilEOF(t *testing.T) {
	vals := []int{1, 2, 3}
	next := func(context.Context) (int, error) {
		if len(vals) == 0 {
			return 0, io.EOF
		}
		v := vals[0]
		vals = vals[1:]
		return v, nil
	}
	var got []int
	var reported []error
	err := sink.Pull(context.Background(), next,
		func(v int) error {
			got = append(got, v)
			if v == 2 {
				return errors.New("two")
			}
			return nil
		},
		func(_ int, err error) { reported = append(reported, err) })
	if err != nil || !reflect.DeepEqual(got, []int{1, 2, 3}) || len(reported) != 3 || reported[1] == nil {
		t.Fatalf("err %v, got %v, reported %v", err, got, reported)
	}
	boom := errors.New("source failed")
	if err := sink.Pull(context.Background(), func(context.Context) (int, error) { return 0, boom },
		func(int) error { return nil }, func(int, error) {}); err != boom {
		t.Fatalf("got %v", err)
	}
}

// With items and the context's end both ready, select would pick either:
// Drain must still write nothing once ctx has ended.
func TestDrainWritesNothingAfterTheContextEnded(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	writes := 0
	for range 100 { // each item would be written with probability 1/2
		ch := make(chan rxgo.Item, 100)
		for i := range 100 {
			ch <- rxgo.Of(i)
		}
		close(ch)
		err := sink.Drain(ctx, rxgo.FromChannel(ch), func(any) error { writes++; return nil }, func(any, error) {})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Drain returned %v, want context.Canceled", err)
		}
	}
	if writes != 0 {
		t.Fatalf("Drain wrote %d item(s) after ctx had ended", writes)
	}
}

// Pull leaves ctx to next, as documented: what next still returns after
// ctx ends is written, and Pull ends with next's error.
func TestPullWritesWhatNextReturnsAfterTheContextEnded(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	backlog := []int{1, 2, 3}
	next := func(ctx context.Context) (int, error) {
		if len(backlog) == 0 {
			return 0, ctx.Err()
		}
		v := backlog[0]
		backlog = backlog[1:]
		return v, nil
	}
	var written []int
	err := sink.Pull(ctx, next, func(v int) error { written = append(written, v); return nil }, func(int, error) {})
	if !errors.Is(err, context.Canceled) || !reflect.DeepEqual(written, []int{1, 2, 3}) {
		t.Fatalf("Pull = %v, wrote %v; want context.Canceled after 1 2 3", err, written)
	}
}
