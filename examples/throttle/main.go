// Command throttle shows two managers from one factory sharing one rate
// limit: 12 sends, 6 from each, against a limit of 4 per 500 ms, printing
// when each send went out. It runs against an embedded local server.
//
//	go run ./examples/throttle
package main

import (
	"context"
	"fmt"
	"log"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/rxpype/rxpype/rxws"
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	url, stop := startServer()
	defer stop()

	limits := []rxws.RateLimit{{LimitID: "orders", Limit: 4, Interval: 500 * time.Millisecond}}
	f := rxws.NewFactory(rxws.NewThrottler(limits, rxws.WithSafetyMargin(0)))
	defer f.Close()

	start := time.Now()
	var mu sync.Mutex // keeps output lines whole
	var wg sync.WaitGroup
	for _, name := range []string{"A", "B"} {
		m, err := f.WSManager()
		if err != nil {
			log.Fatal(err)
		}
		if err := m.Connect(ctx, url); err != nil {
			log.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 6 {
				req := rxws.JSONRequest(map[string]any{"op": "order", "from": name, "n": i})
				req.LimitID = "orders"
				if err := m.Send(ctx, req); err != nil {
					log.Fatal(err)
				}
				mu.Lock()
				fmt.Printf("%7.0f ms  manager %s  send %d written\n", float64(time.Since(start).Microseconds())/1000, name, i)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	fmt.Println("12 sends, 4 per 500 ms shared by both managers: three windows, done in about 1 s")
}

func startServer() (string, func()) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	var up websocket.Upgrader
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		for {
			if _, _, err := c.ReadMessage(); err != nil {
				return
			}
		}
	})}
	go func() { _ = srv.Serve(ln) }()
	return "ws://" + ln.Addr().String(), func() { _ = srv.Close() }
}
