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
	for _, c := range rxws.BenchRequests(benchPayload) {
		b.Run(c.Name, func(b *testing.B) {
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
				if err := m.Send(ctx, c.Req); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "sends/s")
		})
	}
}
