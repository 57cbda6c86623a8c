package rxws_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/reactivex/rxgo/v2"
	"github.com/rxpype/rxpype/internal/testutil"
	"github.com/rxpype/rxpype/rxws"
)

// Decode replaces its target: a field the message lacks is zero, not left
// from the message decoded into it before.
func TestDecodeReplacesTheTarget(t *testing.T) {
	r := rxws.NewResponse(rxws.KindText, []byte(`{"px":"2"}`))
	v := struct {
		Px  string `json:"px"`
		Qty int    `json:"qty"`
	}{Px: "1", Qty: 7}
	if err := r.Decode(&v); err != nil || v.Px != "2" || v.Qty != 0 {
		t.Fatalf("got %+v, %v; want px 2 and qty 0", v, err)
	}
	// After an error the target is zero, not half filled.
	if err := rxws.NewResponse(rxws.KindText, []byte(`{"px":"3","qty":"x"}`)).Decode(&v); err == nil || v.Px != "" || v.Qty != 0 {
		t.Fatalf("got %+v, %v; want an error and a zero value", v, err)
	}
	m := map[string]any{"old": true}
	if err := r.Decode(&m); err != nil || len(m) != 1 || m["px"] != "2" {
		t.Fatalf("map: got %v, %v", m, err)
	}
}

type flatTrade struct {
	Px   string           `json:"px"`
	Qty  float64          `json:"qty"`
	Seq  [2]int           `json:"seq"`
	Meta struct{ A bool } `json:"meta"`
}

type tradeWithTags struct {
	Px   string   `json:"px"`
	Tags []string `json:"tags"`
}

// Several observers of one message each get the whole value from Decode,
// decoded once when the type can be shared by copying, and never share
// memory through it: a slice in one observer's value is its own.
func TestDecodeSharedAmongObservers(t *testing.T) {
	srv, m := connect(t, testutil.Hold)
	ctx := testCtx(t)
	// Three observers: from three on, a message's decode is shared.
	a := m.Messages().Observe(rxgo.WithContext(ctx))
	b := m.Messages().Observe(rxgo.WithContext(ctx))
	third := m.Messages().Observe(rxgo.WithContext(ctx))
	c, _ := srv.WaitConn(ctx, 0)
	_ = c.SendText(`{"px":"1.5","qty":3,"seq":[1,2],"meta":{"A":true},"tags":["x","y"]}`)
	ra := (<-a).V.(*rxws.Response)
	rb := (<-b).V.(*rxws.Response)
	if rc := (<-third).V.(*rxws.Response); rc != ra || rb != ra {
		t.Fatal("observers got different responses for one message")
	}
	var fa, fb flatTrade
	for _, d := range []struct {
		r *rxws.Response
		v *flatTrade
	}{{ra, &fa}, {rb, &fb}, {ra, &fa}} {
		if err := d.r.Decode(d.v); err != nil {
			t.Fatal(err)
		}
	}
	want := flatTrade{Px: "1.5", Qty: 3, Seq: [2]int{1, 2}}
	want.Meta.A = true
	if fa != want || fb != want {
		t.Fatalf("got %+v and %+v, want %+v", fa, fb, want)
	}
	fa.Seq[0] = 99
	var again flatTrade
	if err := rb.Decode(&again); err != nil || again != want {
		t.Fatalf("a copy was changed through another: %+v, %v", again, err)
	}
	var ta, tb tradeWithTags
	if err := ra.Decode(&ta); err != nil {
		t.Fatal(err)
	}
	if err := rb.Decode(&tb); err != nil {
		t.Fatal(err)
	}
	ta.Tags[0] = "changed"
	if tb.Tags[0] != "x" {
		t.Fatalf("two observers share a slice: %q", tb.Tags)
	}
	// A decode error reaches every caller.
	var n int
	if err := ra.Decode(&n); err == nil {
		t.Fatal("decoding an object into an int succeeded")
	}
	if err := rb.Decode(&n); err == nil {
		t.Fatal("the second decode of the failing type succeeded")
	}
}

// WithData's value is Data's, nil included: the payload is not decoded
// again behind it, and the copy keeps the payload and kind.
func TestWithDataIsWhatDataReturns(t *testing.T) {
	r := rxws.NewResponse(rxws.KindText, []byte(`{"px":"2"}`))
	for _, v := range []any{nil, 42, "x"} {
		c := r.WithData(v)
		if got := c.Data(); got != v {
			t.Errorf("WithData(%v).Data() = %v", v, got)
		}
		if string(c.Bytes()) != `{"px":"2"}` || c.Kind() != rxws.KindText {
			t.Errorf("WithData(%v) kept %s %q", v, c.Kind(), c.Bytes())
		}
	}
	if m, ok := r.Data().(map[string]any); !ok || m["px"] != "2" {
		t.Errorf("the original's Data = %v, want the decoded payload", r.Data())
	}
}

// goccy/go-json alone decodes these without an error, into zeros: a corrupt
// feed message would become a zero price. The default codec refuses them,
// with encoding/json's error, as Data calls them text.
func TestDecodeOfInvalidJSONFails(t *testing.T) {
	bad := []string{`{"qty":-}`, `{"price":1.}`, `{"price":2,"extra":{"q":}}`, `{"qty":1`, ``}
	var msgs [][]byte
	for _, b := range bad {
		msgs = append(msgs, []byte(b))
	}
	_, m := connect(t, testutil.Stream(msgs))
	for _, b := range bad {
		r := receive(t, m)
		if s, ok := r.Data().(string); !ok || s != b {
			t.Fatalf("Data of %q: %#v, want the string (not valid JSON)", b, r.Data())
		}
		var v struct {
			Price float64 `json:"price"`
			Qty   int     `json:"qty"`
		}
		err := r.Decode(&v)
		var se *json.SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("Decode(%q) = %v (decoded %+v), want a *json.SyntaxError", b, err, v)
		}
	}
}

// A number too big for its field fails with either codec: goccy/go-json
// before v0.12 wrapped it around without an error, so a 19-digit order id
// became a negative int64 and a price past float32's range +Inf.
func TestDecodeOfAnOutOfRangeNumberFails(t *testing.T) {
	bad := []string{`{"id":9999999999999999999}`, `{"id":-9223372036854775809}`,
		`{"seq":18446744073709551616}`, `{"px":1e39}`, `{"lot":256}`}
	var msgs [][]byte
	for _, b := range bad {
		msgs = append(msgs, []byte(b))
	}
	for _, c := range []rxws.Codec{rxws.FastJSON, rxws.StdJSON} {
		_, m := connect(t, testutil.Stream(msgs), rxws.WithCodec(c))
		for _, b := range bad {
			var v struct {
				ID  int64   `json:"id"`
				Seq uint64  `json:"seq"`
				Px  float32 `json:"px"`
				Lot uint8   `json:"lot"`
			}
			if err := receive(t, m).Decode(&v); err == nil {
				t.Errorf("%s: Decode(%s) = nil, decoded %+v", c.Name(), b, v)
			}
		}
	}
}

// A response a post-processor builds with NewResponse (unwrapping an
// envelope, as the README's example does) decodes with the manager's codec
// and keeps its frame's Received time: with StdJSON chosen, its errors are
// encoding/json's.
func TestAResponseAPostProcessorBuildsDecodesWithTheManagersCodec(t *testing.T) {
	unwrap := rxws.PostProcessorFunc(func(_ context.Context, r *rxws.Response) (*rxws.Response, error) {
		var env struct {
			Data json.RawMessage `json:"data"`
		}
		if err := r.Decode(&env); err != nil {
			return nil, err
		}
		return rxws.NewResponse(rxws.KindText, env.Data), nil
	})
	msgs := [][]byte{[]byte(`{"data":{"qty":"not a number"}}`)}
	_, m := connect(t, testutil.Stream(msgs), rxws.WithCodec(rxws.StdJSON), rxws.WithPostProcessors(unwrap))
	r := receive(t, m)
	var v struct {
		Qty int `json:"qty"`
	}
	var ute *json.UnmarshalTypeError
	if err := r.Decode(&v); !errors.As(err, &ute) {
		t.Fatalf("the manager's codec is StdJSON, but Decode failed with %T: %v", errors.Unwrap(err), err)
	}
	if r.Received().IsZero() {
		t.Fatal("the unwrapped response has no Received time")
	}
}
