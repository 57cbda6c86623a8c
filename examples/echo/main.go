// Command echo shows rxpype end to end against an embedded local server: a
// manager with a pre-processor, a post-processor and an auth that signs
// requests sends, subscribes and prints what comes back.
//
//	go run ./examples/echo
package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/gorilla/websocket"
	"github.com/rxpype/rxpype/rxws"
)

func main() {
	if err := run(); err != nil {
		log.Fatal(err)
	}
}

func run() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	url, stop, err := startServer()
	if err != nil {
		return err
	}
	defer stop()

	// Every request gets a client id before it is signed.
	tagger := rxws.PreProcessorFunc(func(_ context.Context, req rxws.Request) (rxws.Request, error) {
		if p, ok := req.Payload.(map[string]any); ok {
			p["client"] = "echo-example"
		}
		return req, nil
	})
	// The signer sees the request after the pre-processors, only when
	// AuthRequired is set.
	signer := rxws.AuthFunc(func(_ context.Context, req rxws.Request) (rxws.Request, error) {
		p := req.Payload.(map[string]any)
		body, _ := json.Marshal(p)
		mac := hmac.New(sha256.New, []byte("demo-secret"))
		mac.Write(body)
		p["signature"] = hex.EncodeToString(mac.Sum(nil))[:16]
		return req, nil
	})
	// Replies are unwrapped from the server's envelope; acks are dropped.
	unwrap := rxws.PostProcessorFunc(func(_ context.Context, resp *rxws.Response) (*rxws.Response, error) {
		m, ok := resp.Data().(map[string]any)
		if !ok {
			return resp, nil
		}
		if m["type"] == "ack" {
			return nil, nil
		}
		return resp.WithData(m["echo"]), nil
	})

	m := rxws.NewManager(nil,
		rxws.WithPreProcessors(tagger),
		rxws.WithAuth(signer),
		rxws.WithPostProcessors(unwrap))
	if err := m.Connect(ctx, url); err != nil {
		return err
	}
	defer m.Disconnect(ctx)
	fmt.Println("connected to", url)

	if err := m.Send(ctx, rxws.JSONRequest(map[string]any{"op": "hello"})); err != nil {
		return err
	}
	r, err := m.Receive(ctx)
	if err != nil {
		return err
	}
	fmt.Printf("send      -> %v\n", r.Data())

	sub := rxws.JSONRequest(map[string]any{"op": "subscribe", "channel": "trades"})
	sub.AuthRequired = true
	if err := m.Subscribe(ctx, sub); err != nil {
		return err
	}
	r, err = m.Receive(ctx)
	if err != nil {
		return err
	}
	fmt.Printf("subscribe -> %v\n", r.Data())

	if err := m.Send(ctx, rxws.TextRequest("plain text")); err != nil {
		return err
	}
	r, err = m.Receive(ctx)
	if err != nil {
		return err
	}
	fmt.Printf("text      -> %v\n", r.Data())
	fmt.Printf("last data frame at %s; subscriptions remembered: %d\n",
		m.LastRecvTime().Format(time.RFC3339), len(m.Subscriptions()))
	return m.Disconnect(ctx)
}

// startServer runs a WebSocket server on a loopback port that acknowledges
// every JSON message and then echoes it inside an envelope.
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
		for {
			mt, data, err := c.ReadMessage()
			if err != nil {
				return
			}
			var v any
			if json.Unmarshal(data, &v) != nil {
				v = string(data)
			} else {
				_ = c.WriteJSON(map[string]any{"type": "ack"})
			}
			out, _ := json.Marshal(map[string]any{"type": "echo", "echo": v})
			if err := c.WriteMessage(mt, out); err != nil {
				return
			}
		}
	})}
	go func() { _ = srv.Serve(ln) }()
	return "ws://" + ln.Addr().String() + "/echo", func() {
		if err := srv.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "server:", err)
		}
	}, nil
}
