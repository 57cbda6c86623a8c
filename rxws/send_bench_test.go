package rxws_test

import (
	"context"
	"testing"
	"time"

	"github.com/rxpype/rxpype/rxws"
)

// BenchmarkManagerSend is one Send, sequentially, to a server that reads
// and discards frames: the request's copy and encoding, the send pipeline
// (Subject, pre-processor stage, writer) and the write. One op is one
// frame written.
func BenchmarkManagerSend(b *testing.B) {
	url := newBenchServer(b) + "/sink"
	type order struct {
		Op     string  `json:"op"`
		Symbol string  `json:"symbol"`
		Side   string  `json:"side"`
		Price  float64 `json:"price"`
		Qty    float64 `json:"qty"`
		ID     int64   `json:"id"`
	}
	cases := []struct {
		name string
		req  rxws.Request
	}{
		{"kind=json-struct", rxws.JSONRequest(order{Op: "order", Symbol: "BTC-USD", Side: "buy", Price: 43010.5, Qty: 0.0043, ID: 100000042})},
		{"kind=json-map", rxws.JSONRequest(map[string]any{"op": "order", "symbol": "BTC-USD", "side": "buy", "price": 43010.5, "qty": 0.0043, "id": 100000042})},
		{"kind=text", rxws.TextRequest(string(benchPayload))},
		{"kind=binary", rxws.BinaryRequest(benchPayload)},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			ctx := context.Background()
			m := rxws.NewManager(nil)
			if err := m.Connect(ctx, url); err != nil {
				b.Fatal(err)
			}
			defer func() {
				dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				defer cancel()
				if err := m.Disconnect(dctx); err != nil {
					b.Error(err)
				}
			}()
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			for i := 0; i < b.N; i++ {
				if err := m.Send(ctx, c.req); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "sends/s")
		})
	}
}
