package rxws_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/rxpype/rxpype/rxws"
)

// BenchmarkManagerSend is one Send, sequentially, to a server that reads
// and discards frames: the request's copy and encoding, the send pipeline
// (Subject, pre-processor stage, writer) and the write. One op is one
// frame written.
//
// kind=text/pre=1 adds a pre-processor that does nothing: what the
// processors' context costs a send.
func BenchmarkManagerSend(b *testing.B) {
	url := newBenchServer(b) + "/sink"
	cases := rxws.BenchRequests(benchPayload)
	for _, c := range cases {
		if c.Name == "kind=text" {
			c.Name += "/pre=1"
			cases = append(cases, c)
			break
		}
	}
	for _, c := range cases {
		b.Run(c.Name, func(b *testing.B) {
			ctx := context.Background()
			var opts []rxws.Option
			if strings.HasSuffix(c.Name, "/pre=1") {
				opts = append(opts, rxws.WithPreProcessors(rxws.PreProcessorFunc(
					func(_ context.Context, r rxws.Request) (rxws.Request, error) { return r, nil })))
			}
			m := rxws.NewManager(nil, opts...)
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
