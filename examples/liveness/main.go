// Command liveness shows a dead connection being found by the clock: an
// embedded server sends a few messages and then stalls (it stops writing
// and answers no pings, as a hung peer behind a live TCP connection would).
// Auto ping notices within the ping timeout.
//
//	go run ./examples/liveness
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/rxpype/rxpype/clock"
	"github.com/rxpype/rxpype/rxws"
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	url, stop := startServer()
	defer stop()

	clk := clock.New() // tests pass clock.NewMock() here and move it by hand
	start := clk.Now()
	at := func() string { return fmt.Sprintf("t=%5.2fs", clk.Since(start).Seconds()) }

	m := rxws.NewManager(nil, rxws.WithClock(clk))
	err := m.Connect(ctx, url,
		rxws.WithAutoPing(),
		rxws.WithPingInterval(250*time.Millisecond),
		rxws.WithPingTimeout(time.Second))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(at(), "connected; pinging every 250 ms, ping timeout 1 s")
	for resp, err := range m.IterMessages(ctx) {
		if err != nil {
			fmt.Println(at(), "stream ended:", err)
			if !errors.Is(err, rxws.ErrPingTimeout) {
				log.Fatalf("the stream ended, but not by the ping timeout: %v", err)
			}
			fmt.Printf("%s dead connection detected; last data at %s, last frame of any kind at %s\n", at(),
				fmt.Sprintf("t=%5.2fs", m.LastRecvTime().Sub(start).Seconds()),
				fmt.Sprintf("t=%5.2fs", m.LastActivity().Sub(start).Seconds()))
			break
		}
		fmt.Println(at(), "message:", resp.Data())
	}
	if m.Connected() {
		log.Fatal("still connected")
	}
}

// startServer sends five messages 100 ms apart, then stalls: it writes
// nothing more and leaves the client's pings unanswered.
func startServer() (string, func()) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	quit := make(chan struct{})
	var up websocket.Upgrader
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		var stalled atomic.Bool
		c.SetPingHandler(func(data string) error {
			if stalled.Load() {
				return nil
			}
			return c.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(time.Second))
		})
		go func() { // read (and so answer pings) only until the stall
			for {
				if _, _, err := c.NextReader(); err != nil {
					return
				}
			}
		}()
		for i := range 5 {
			if c.WriteJSON(map[string]any{"seq": i, "price": 100 + i}) != nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		fmt.Println("  server: stalling (no more writes, pings unanswered)")
		stalled.Store(true)
		<-quit
	})}
	go func() { _ = srv.Serve(ln) }()
	return "ws://" + ln.Addr().String(), func() { close(quit); _ = srv.Close() }
}
