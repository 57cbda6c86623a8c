// Command reconnect shows one stream outliving its connections: an embedded
// server drops the connection twice, and the manager reconnects with
// backoff, subscribes again and keeps delivering, printing each state change.
//
//	go run ./examples/reconnect
package main

import (
	"context"
	"fmt"
	"log"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/reactivex/rxgo/v2"
	"github.com/rxpype/rxpype/rxws"
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	url, stop := startServer()
	defer stop()

	m := rxws.NewManager(nil)
	watch, unwatch := context.WithCancel(ctx)
	defer unwatch()
	states := m.States(rxgo.WithContext(watch)).Observe()
	statesDone := make(chan struct{})
	go func() {
		defer close(statesDone)
		for item := range states {
			st := item.V.(rxws.State)
			fmt.Printf("  state: %v\n", st)
			if st.Kind == rxws.StateDisconnected {
				return // the last change: nothing reconnects after Disconnect
			}
		}
	}()

	policy := rxws.Backoff{Initial: 100 * time.Millisecond, Max: time.Second}
	if err := m.Connect(ctx, url, rxws.WithReconnect(policy)); err != nil {
		log.Fatal(err)
	}
	if err := m.Subscribe(ctx, rxws.JSONRequest(map[string]any{"op": "subscribe", "channel": "ticks"})); err != nil {
		log.Fatal(err)
	}
	n := 0
	for resp, err := range m.IterMessages(ctx) {
		if err != nil {
			log.Fatal(err)
		}
		if n++; n%5 == 0 || n == 1 {
			fmt.Printf("message %2d: %v\n", n, resp.Data())
		}
		if n == 30 {
			break
		}
	}
	if err := m.Disconnect(ctx); err != nil {
		log.Fatal(err)
	}
	<-statesDone // so that the last state is printed before the summary
	fmt.Println("30 messages over three connections, one stream")
}

// startServer streams ten ticks per connection after the subscription and
// drops the first two connections without a close frame.
func startServer() (string, func()) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	var conns atomic.Int32
	var up websocket.Upgrader
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		n := conns.Add(1)
		if _, _, err := c.ReadMessage(); err != nil { // the subscription
			return
		}
		fmt.Printf("  server: connection %d subscribed\n", n)
		for i := range 10 {
			if c.WriteJSON(map[string]any{"conn": n, "tick": i}) != nil {
				return
			}
		}
		if n <= 2 {
			fmt.Printf("  server: dropping connection %d\n", n)
			return // TCP close, no close frame
		}
		for {
			if _, _, err := c.ReadMessage(); err != nil {
				return
			}
		}
	})}
	go func() { _ = srv.Serve(ln) }()
	return "ws://" + ln.Addr().String(), func() { _ = srv.Close() }
}
