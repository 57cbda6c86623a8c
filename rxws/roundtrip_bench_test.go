package rxws_test

import (
	"context"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/rxpype/rxpype/rxws"
)

// BenchmarkRoundTrip is one request and its reply, sequentially: raw
// gorilla WriteMessage + ReadMessage (and raw-hop, the same with the reply
// read by another goroutine), rxpype Send + Receive with a context
// that never ends (pull mode: the reply is read in the caller's goroutine),
// and Send + the reply from a
// Messages() observer (one hand-off from the reader goroutine). One op is
// one round trip; compare with
//
//	go test -run '^$' -bench RoundTrip -count 5 ./rxws/ > rt.txt
//	benchstat -col /client rt.txt
func BenchmarkRoundTrip(b *testing.B) {
	url := newBenchServer(b) + "/echo"
	ctx := context.Background()
	b.Run("client=raw", func(b *testing.B) {
		c, _, err := websocket.DefaultDialer.DialContext(ctx, url, nil)
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if err := c.WriteMessage(websocket.TextMessage, readBenchPayload); err != nil {
				b.Fatal(err)
			}
			if _, _, err := c.ReadMessage(); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		_ = c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
		_, _, _ = c.ReadMessage() // the server's close
	})
	// raw-hop is raw gorilla with the reply read by a second goroutine and
	// handed over a channel, as any reader goroutine must: the cost of that
	// one hand-off, without rxpype, for comparison with client=observe.
	b.Run("client=raw-hop", func(b *testing.B) {
		c, _, err := websocket.DefaultDialer.DialContext(ctx, url, nil)
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		replies := make(chan error, 1)
		go func() {
			for {
				_, _, err := c.ReadMessage()
				replies <- err
				if err != nil {
					return
				}
			}
		}()
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if err := c.WriteMessage(websocket.TextMessage, readBenchPayload); err != nil {
				b.Fatal(err)
			}
			if err := <-replies; err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		_ = c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
		<-replies // the reader ends on the server's close
	})
	req := rxws.TextRequest(string(readBenchPayload))
	for _, client := range []string{"receive", "observe"} {
		b.Run("client="+client, func(b *testing.B) {
			m := rxws.NewManager(nil, benchPost())
			octx, cancel := context.WithCancel(ctx)
			defer cancel()
			items := m.Messages().Observe(rxgoCtx(octx))
			if client == "receive" {
				cancel() // no observer: Receive reads for itself
				for range items {
				}
			}
			if err := m.Connect(ctx, url); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := m.Send(ctx, req); err != nil {
					b.Fatal(err)
				}
				if client == "receive" {
					if _, err := m.Receive(ctx); err != nil { // ctx never ends: pull mode
						b.Fatal(err)
					}
				} else if it := <-items; it.E != nil {
					b.Fatal(it.E)
				}
			}
			b.StopTimer()
			cancel()
			for range items {
			}
			dctx, dcancel := context.WithTimeout(ctx, 10*time.Second)
			defer dcancel()
			if err := m.Disconnect(dctx); err != nil {
				b.Error(err)
			}
		})
	}
}
