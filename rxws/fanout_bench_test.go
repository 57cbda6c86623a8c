package rxws_test

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"testing"

	"github.com/gorilla/websocket"
	"github.com/reactivex/rxgo/v2"
	"github.com/rxpype/rxpype/internal/testutil"
	"github.com/rxpype/rxpype/rxws"
)

// benchPayload is a 100-byte trade message, encoded once.
var benchPayload = []byte(`{"e":"trade","s":"BTCUSDT","t":123456789012,"p":"27123.45000000","q":"0.01200000","T":1690000000000}`)

// BenchmarkFanout measures one connection fanned out to 1, 4 and 16
// Messages observers (lossless, default buffer) over the loopback server.
// One op is one message received by every observer. Custom metrics:
// msgs/s (messages per second, each delivered to every observer) and
// allocs/msg/sub (heap allocations per message per observer, the server's
// side, which runs in the same process, included).
//
//	go test -run '^$' -bench Fanout -benchmem -count 3 ./rxws/
func BenchmarkFanout(b *testing.B) {
	if len(benchPayload) != 100 {
		b.Fatalf("payload is %d bytes", len(benchPayload))
	}
	for _, subs := range []int{1, 4, 16} {
		b.Run(fmt.Sprintf("subs=%d", subs), func(b *testing.B) { benchFanout(b, subs) })
	}
}

func benchFanout(b *testing.B, subs int) {
	pm, err := websocket.NewPreparedMessage(websocket.TextMessage, benchPayload)
	if err != nil {
		b.Fatal(err)
	}
	n := b.N
	start := make(chan struct{})
	srv := testutil.NewServer(b, func(c *testutil.Conn) {
		select {
		case <-start:
		case <-c.Done():
			return
		}
		for i := 0; i < n; i++ {
			if c.SendPrepared(pm) != nil {
				return
			}
		}
	})
	defer srv.Close()

	m := rxws.NewManager(nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	defer func() { _ = m.Disconnect(context.Background()) }()
	var wg sync.WaitGroup
	counts := make([]int, subs)
	for k := range counts {
		ch := m.Messages().Observe(rxgo.WithContext(ctx))
		wg.Add(1)
		go func() {
			defer wg.Done()
			for item := range ch {
				if item.E == nil && len(item.V.(*rxws.Response).Bytes()) == len(benchPayload) {
					counts[k]++
				}
			}
		}()
	}
	if err := m.Connect(ctx, srv.URL); err != nil {
		b.Fatal(err)
	}

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	b.ReportAllocs()
	b.ResetTimer()
	close(start)
	wg.Wait() // the server closes normally after n messages: every observer completes
	b.StopTimer()
	runtime.ReadMemStats(&after)

	for k, c := range counts {
		if c != n {
			b.Fatalf("observer %d got %d of %d", k, c, n)
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "msgs/s")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(n)/float64(subs), "allocs/msg/sub")
}
