// Command fanout hangs three consumers on one WebSocket stream, served by
// an embedded local server: an order-book builder and a trade logger that
// must see every trade (Block, the default), and a slow metrics sampler that
// only wants recent trades (DropOldest). The slow one never holds the other
// two back; at the end each one's delivered and dropped counts are printed,
// and for each delivered + dropped equals the trades sent.
//
//	go run ./examples/fanout
package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/reactivex/rxgo/v2"
	"github.com/rxpype/rxpype/rxws"
)

const trades = 50_000

// Trade is the server's trade message.
type Trade struct {
	Seq   int     `json:"seq"`
	Sym   string  `json:"sym"`
	Price float64 `json:"px"`
	Qty   float64 `json:"qty"`
}

func main() {
	if err := run(); err != nil {
		log.Fatal(err)
	}
}

func run() error {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	url, stop, err := startServer()
	if err != nil {
		return err
	}
	defer stop()

	m := rxws.NewManager(nil)
	var bookMeter, logMeter, metricsMeter rxws.Meter
	var wg sync.WaitGroup
	// Each consumer keeps its own first error and reads on, so that no
	// number of error items can block one (and hang wg.Wait).
	errs := make([]error, 3)
	consume := func(i int, items <-chan rxgo.Item, next func(v any)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for item := range items {
				if item.E != nil {
					errs[i] = cmp.Or(errs[i], item.E)
					continue
				}
				next(item.V)
			}
		}()
	}

	// The consumers attach before the subscription request, so that all
	// three see the stream from its first trade. Each Observe attaches a
	// subscriber with its own buffer and policy.

	// 1. Order book: decodes every trade into a Trade (lossless).
	var last Trade
	consume(0, rxws.DecodeJSON[Trade](
		m.MessagesWith([]rxws.StreamOption{rxws.WithName("book"), rxws.WithMeter(&bookMeter)}),
		rxgo.WithContext(ctx)).Observe(), func(v any) { last = *v.(*Trade) })
	// 2. Trade logger: counts bytes of every trade (lossless, larger buffer).
	var logged int
	consume(1, m.MessagesWith([]rxws.StreamOption{
		rxws.WithName("logger"), rxws.WithBuffer(1024), rxws.WithMeter(&logMeter),
	}, rxgo.WithContext(ctx)).Observe(), func(v any) { logged += len(v.(*rxws.Response).Bytes()) })
	// 3. Metrics sampler: slow, keeps the 64 newest trades and drops the rest.
	var sampled, newest int
	consume(2, m.MessagesWith([]rxws.StreamOption{
		rxws.WithName("metrics"), rxws.WithBuffer(64), rxws.WithOverflow(rxws.DropOldest), rxws.WithMeter(&metricsMeter),
	}, rxgo.WithContext(ctx)).Observe(), func(v any) {
		var t Trade
		if err := v.(*rxws.Response).Decode(&t); err == nil {
			sampled++
			newest = t.Seq
		}
		time.Sleep(200 * time.Microsecond) // a slow consumer
	})

	if err := m.Connect(ctx, url); err != nil {
		return err
	}
	defer m.Disconnect(ctx)
	if err := m.Subscribe(ctx, rxws.JSONRequest(map[string]any{"op": "subscribe", "channel": "trades"})); err != nil {
		return err
	}
	fmt.Printf("subscribed to %d trades with %d consumers on one connection\n", trades, len(m.Stats()))

	wg.Wait() // the server closes normally after the last trade: every stream completes
	if err := errors.Join(errs...); err != nil {
		return err
	}

	fmt.Printf("book:    last trade #%d %s %.2f\n", last.Seq, last.Sym, last.Price)
	fmt.Printf("logger:  %d bytes logged\n", logged)
	fmt.Printf("metrics: sampled %d trades, the newest #%d\n", sampled, newest)
	fmt.Println()
	fmt.Printf("%-8s %-12s %10s %10s %10s\n", "consumer", "policy", "delivered", "dropped", "sum")
	for _, c := range []struct {
		name   string
		policy rxws.Policy
		meter  *rxws.Meter
	}{{"book", rxws.Block, &bookMeter}, {"logger", rxws.Block, &logMeter}, {"metrics", rxws.DropOldest, &metricsMeter}} {
		d, dr := c.meter.Delivered(), c.meter.Dropped()
		fmt.Printf("%-8s %-12s %10d %10d %10d\n", c.name, c.policy, d, dr, d+dr)
		if d+dr != trades {
			return fmt.Errorf("%s: delivered %d + dropped %d != %d sent", c.name, d, dr, trades)
		}
	}
	return nil
}

// startServer runs a WebSocket server on a loopback port that, on a
// subscribe request, streams the trades as fast as the client reads them
// and then closes normally.
func startServer() (url string, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	var up websocket.Upgrader
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		var req struct{ Op, Channel string }
		if err := c.ReadJSON(&req); err != nil || req.Op != "subscribe" {
			return
		}
		for i := 0; i < trades; i++ {
			msg, _ := json.Marshal(Trade{Seq: i, Sym: "BTCUSDT", Price: 27000 + float64(i%500)/4, Qty: 0.012})
			if err := c.WriteMessage(websocket.TextMessage, msg); err != nil {
				return
			}
		}
		_ = c.WriteControl(websocket.CloseMessage,
			websocket.FormatCloseMessage(websocket.CloseNormalClosure, "done"), time.Now().Add(time.Second))
		// Wait for the client's close reply (ReadMessage fails on it).
		for {
			if _, _, err := c.ReadMessage(); err != nil {
				return
			}
		}
	})}
	go func() { _ = srv.Serve(ln) }()
	return "ws://" + ln.Addr().String() + "/trades", func() {
		if err := srv.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "server:", err)
		}
	}, nil
}
