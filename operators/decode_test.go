package operators_test

import (
	"context"
	"errors"
	"reflect"
	"strconv"
	"testing"

	"github.com/reactivex/rxgo/v2"
	"github.com/rxpype/rxpype/operators"
	"github.com/rxpype/rxpype/source"
	"go.uber.org/goleak"
)

type point struct{ X int }

var atoi = operators.DecodeFunc(func(s string) (*point, error) {
	n, err := strconv.Atoi(s)
	if err != nil {
		return nil, err
	}
	return &point{X: n}, nil
})

func collectInts(t *testing.T, obs rxgo.Observable) (vals []int, errs []error) {
	t.Helper()
	for item := range obs.Observe() {
		if item.E != nil {
			errs = append(errs, item.E)
			continue
		}
		vals = append(vals, item.V.(*point).X)
	}
	return vals, errs
}

func TestDecodeGoesOnAfterAnError(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	upstreamErr := errors.New("upstream")
	in := rxgo.Just("1", "x", 7, "3", upstreamErr, "4")()
	vals, errs := collectInts(t, operators.Decode(in, atoi, rxgo.WithContext(ctx)))
	if !reflect.DeepEqual(vals, []int{1, 3, 4}) {
		t.Fatalf("values %v", vals)
	}
	if len(errs) != 3 {
		t.Fatalf("errors %v", errs)
	}
	var de *operators.DecodeError
	if !errors.As(errs[0], &de) || de.Value != "x" || !errors.Is(errs[0], strconv.ErrSyntax) {
		t.Fatalf("first error %v", errs[0])
	}
	if !errors.As(errs[1], &de) || de.Value != 7 || de.Err.Error() != "got int, want string" {
		t.Fatalf("second error %v", errs[1])
	}
	if errs[2] != upstreamErr {
		t.Fatalf("the upstream error did not pass through: %v", errs[2])
	}
}

func TestDecodeStopOnErrorEndsTheOutputAndReleasesTheUpstream(t *testing.T) {
	before := goleak.IgnoreCurrent()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// An upstream that never ends by itself: only its context stops it.
	up := rxgo.Defer([]rxgo.Producer{func(ctx context.Context, next chan<- rxgo.Item) {
		for i := 0; ; i++ {
			v := strconv.Itoa(i)
			if i == 2 {
				v = "bad"
			}
			select {
			case next <- rxgo.Of(v):
			case <-ctx.Done():
				return
			}
		}
	}})
	d := operators.Decoder[*point]{Decode: atoi, StopOnError: true}
	vals, errs := collectInts(t, d.Observable(up, rxgo.WithContext(ctx)))
	if !reflect.DeepEqual(vals, []int{0, 1}) || len(errs) != 1 {
		t.Fatalf("values %v, errors %v", vals, errs)
	}
	cancel() // the context given to the operator reached the upstream
	goleak.VerifyNone(t, before)
}

func TestDecoderWithoutAFunctionPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("no panic")
		}
	}()
	operators.Decoder[int]{}.Observable(rxgo.Empty())
}

// Observe attaches to a hot upstream before it returns: an item published
// right after Observe reaches the decoder.
func TestDecodeObservesAHotUpstreamSynchronously(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := source.NewSubject[string]()
	other := s.Subscribe(source.Config{}) // so that Publish does not wait for the decoder
	defer other.Close()
	ch := operators.Decode(s.Observable(source.Config{}), atoi, rxgo.WithContext(ctx)).Observe()
	if err := s.Publish(ctx, "5"); err != nil {
		t.Fatal(err)
	}
	s.Close(nil)
	var got []int
	for item := range ch {
		if item.E != nil {
			t.Fatal(item.E)
		}
		got = append(got, item.V.(*point).X)
	}
	if !reflect.DeepEqual(got, []int{5}) {
		t.Fatalf("got %v", got)
	}
}
