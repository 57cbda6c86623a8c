package rxws_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"time"

	"github.com/gorilla/websocket"
	"github.com/reactivex/rxgo/v2"
	"github.com/rxpype/rxpype/clock"
	"github.com/rxpype/rxpype/rxws"
)

// exampleServer stands in for an exchange: it answers {"op":"subscribe",...}
// with three trades and echoes anything else. It listens on 127.0.0.1;
// close it when done.
func exampleServer() *httptest.Server {
	up := websocket.Upgrader{}
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		for {
			mt, msg, err := c.ReadMessage()
			if err != nil {
				return
			}
			if !strings.Contains(string(msg), `"subscribe"`) {
				_ = c.WriteMessage(mt, msg)
				continue
			}
			for i, px := range []string{"43010.5", "43011.0", "43009.5"} {
				_ = c.WriteMessage(websocket.TextMessage, fmt.Appendf(nil, `{"seq":%d,"px":%q}`, i+1, px))
			}
		}
	}))
}

func wsURL(s *httptest.Server) string { return "ws" + strings.TrimPrefix(s.URL, "http") }

// A request and its reply. With a context that never ends and nobody else
// listening, Receive reads the reply in this goroutine.
func ExampleManager_Receive() {
	srv := exampleServer()
	defer srv.Close()
	ctx := context.Background()
	m := rxws.NewManager(nil)
	if err := m.Connect(ctx, wsURL(srv)); err != nil {
		fmt.Println(err)
		return
	}
	defer m.Disconnect(ctx)

	if err := m.Send(ctx, rxws.TextRequest("ping")); err != nil {
		fmt.Println(err)
		return
	}
	reply, err := m.Receive(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(reply.Data())
	// Output: ping
}

// The stream as an rxgo Observable: subscribe, then decode each trade.
func ExampleManager_Messages() {
	srv := exampleServer()
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m := rxws.NewManager(nil)
	// Observe before Connect: the observer sees the stream from its start.
	trades := m.Messages().Observe(rxgo.WithContext(ctx))
	if err := m.Connect(ctx, wsURL(srv)); err != nil {
		fmt.Println(err)
		return
	}
	defer m.Disconnect(context.Background())
	if err := m.Subscribe(ctx, rxws.JSONRequest(map[string]any{"op": "subscribe", "channel": "trades"})); err != nil {
		fmt.Println(err)
		return
	}
	var trade struct {
		Seq int    `json:"seq"`
		Px  string `json:"px"`
	}
	for i := 0; i < 3; i++ {
		it := <-trades
		if it.E != nil {
			fmt.Println(it.E)
			return
		}
		if err := it.V.(*rxws.Response).Decode(&trade); err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(trade.Seq, trade.Px)
	}
	cancel() // the observer leaves
	for range trades {
	}
	// Output:
	// 1 43010.5
	// 2 43011.0
	// 3 43009.5
}

// The same stream as an iterator, in the caller's goroutine.
func ExampleManager_IterMessages() {
	srv := exampleServer()
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m := rxws.NewManager(nil)
	if err := m.Connect(ctx, wsURL(srv)); err != nil {
		fmt.Println(err)
		return
	}
	defer m.Disconnect(context.Background())
	// With nobody listening yet the reader holds the first trade until the
	// iteration starts: nothing is lost.
	if err := m.Send(ctx, rxws.JSONRequest(map[string]any{"op": "subscribe"})); err != nil {
		fmt.Println(err)
		return
	}
	n := 0
	for resp, err := range m.IterMessages(ctx) {
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(string(resp.Bytes()))
		if n++; n == 3 {
			break
		}
	}
	// Output:
	// {"seq":1,"px":"43010.5"}
	// {"seq":2,"px":"43011.0"}
	// {"seq":3,"px":"43009.5"}
}

// Decode replaces its target: a field the message lacks is zero afterwards.
func ExampleResponse_Decode() {
	var quote struct {
		Bid string `json:"bid"`
		Ask string `json:"ask"`
	}
	for _, msg := range []string{`{"bid":"1.5","ask":"1.6"}`, `{"ask":"1.7"}`} {
		if err := rxws.NewResponse(rxws.KindText, []byte(msg)).Decode(&quote); err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("bid %q ask %q\n", quote.Bid, quote.Ask)
	}
	// Output:
	// bid "1.5" ask "1.6"
	// bid "" ask "1.7"
}

// Managers from one factory share its processors, its auth and one
// throttler's budget. The pre-processor stamps every request, auth signs
// those that ask for it, and the caller's request stays as it was.
func ExampleNewFactory() {
	srv := exampleServer()
	defer srv.Close()
	ctx := context.Background()

	orders := rxws.NewThrottler([]rxws.RateLimit{{LimitID: "orders", Limit: 10, Interval: time.Second}})
	stamp := rxws.PreProcessorFunc(func(_ context.Context, req rxws.Request) (rxws.Request, error) {
		req.Payload.(map[string]any)["client"] = "example"
		return req, nil
	})
	sign := rxws.AuthFunc(func(_ context.Context, req rxws.Request) (rxws.Request, error) {
		req.Payload.(map[string]any)["sig"] = "hmac-of-the-payload"
		return req, nil
	})
	f := rxws.NewFactory(orders, rxws.WithPreProcessors(stamp), rxws.WithAuth(sign))
	defer f.Close()

	m, err := f.WSManager()
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := m.Connect(ctx, wsURL(srv), rxws.WithPingTimeout(5*time.Second)); err != nil {
		fmt.Println(err)
		return
	}
	order := rxws.JSONRequest(map[string]any{"op": "order", "qty": 1})
	order.LimitID = "orders"
	order.AuthRequired = true
	if err := m.Send(ctx, order); err != nil {
		fmt.Println(err)
		return
	}
	echo, err := m.Receive(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(string(echo.Bytes()))
	fmt.Println(order.Payload)
	// Output:
	// {"client":"example","op":"order","qty":1,"sig":"hmac-of-the-payload"}
	// map[op:order qty:1]
}

// Two orders a second: the third waits until the first leaves the window.
// A mock clock stands in for time, as it does in tests.
func ExampleThrottler_Acquire() {
	mock := clock.NewMock()
	t := rxws.NewThrottler([]rxws.RateLimit{{LimitID: "orders", Limit: 2, Interval: time.Second}},
		rxws.WithThrottlerClock(mock), rxws.WithSafetyMargin(0))
	ctx := context.Background()
	start := mock.Now()
	for i := 1; i <= 2; i++ {
		if err := t.Acquire(ctx, "orders"); err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("order %d at +%v\n", i, mock.Since(start))
	}
	third := make(chan error)
	go func() { third <- t.Acquire(ctx, "orders") }()
	for t.Waiting() == 0 {
		runtime.Gosched()
	}
	mock.Add(time.Second)
	if err := <-third; err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("order 3 at +%v\n", mock.Since(start))
	// Output:
	// order 1 at +0s
	// order 2 at +0s
	// order 3 at +1s
}
