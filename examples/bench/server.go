package main

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// server is the embedded loopback server. It speaks WebSocket through
// gorilla/websocket, but writes the stream workloads' frames pre-encoded,
// straight to the socket, a chunk at a time, so that it costs a few
// nanoseconds per message and allocates nothing per message: the clients
// are measured, not the server. The chunk of the default size is built at
// start, before anything is timed; a connection then allocates a fixed
// amount (its upgrade, its copy of the chunk).
//
//	/stream?n=N&size=S  sends N trades of S bytes as soon as the client
//	                    connects, then a normal close frame
//	/echo               sends every data frame back
//	/idle               reads (and so answers pings and the close
//	                    handshake), never writes
type server struct {
	URL  string // ws://127.0.0.1:PORT
	n    int    // /stream defaults
	size int

	hs       *http.Server
	ln       net.Listener
	upgrader websocket.Upgrader

	mu     sync.Mutex
	chunks map[int]*chunk
	wg     sync.WaitGroup // handlers
}

func startServer(addr string, n, size int) (*server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	s := &server{URL: "ws://" + ln.Addr().String(), n: n, size: size, ln: ln, chunks: map[int]*chunk{}}
	s.upgrader = websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}
	mux := http.NewServeMux()
	mux.HandleFunc("/stream", s.stream)
	mux.HandleFunc("/echo", s.echo)
	mux.HandleFunc("/idle", s.idle)
	s.hs = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	if size > 0 {
		s.chunks[size] = newChunk(size) // some 7,000 allocations and 10 ms: not in a client's time
	}
	go func() { _ = s.hs.Serve(ln) }()
	return s, nil
}

// Close stops the server and waits for its handlers.
func (s *server) Close() {
	_ = s.hs.Close()
	s.wg.Wait()
}

func (s *server) chunk(size int) *chunk {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.chunks[size]
	if !ok {
		c = newChunk(size)
		s.chunks[size] = c
	}
	return c.clone()
}

func queryInt(r *http.Request, key string, def int) int {
	if v, err := strconv.Atoi(r.URL.Query().Get(key)); err == nil && v > 0 {
		return v
	}
	return def
}

func (s *server) stream(w http.ResponseWriter, r *http.Request) {
	s.wg.Add(1)
	defer s.wg.Done()
	n := min(queryInt(r, "n", s.n), maxN)
	ch := s.chunk(queryInt(r, "size", s.size))
	c, err := s.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	defer c.Close()
	nc := c.NetConn()
	for sent := 0; sent < n; {
		k := min(chunkFrames, n-sent)
		if _, err := nc.Write(ch.patch(sent, k)); err != nil {
			return
		}
		sent += k
	}
	// Nothing is buffered in gorilla's writer: the close frame follows the
	// last trade on the wire.
	if err := c.WriteControl(websocket.CloseMessage,
		websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(5*time.Second)); err != nil {
		return
	}
	// Wait (bounded) for the client's close reply.
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		if _, _, err := c.NextReader(); err != nil {
			return
		}
	}
}

func (s *server) echo(w http.ResponseWriter, r *http.Request) {
	s.wg.Add(1)
	defer s.wg.Done()
	c, err := s.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	defer c.Close()
	for {
		mt, data, err := c.ReadMessage()
		if err != nil {
			return
		}
		if err := c.WriteMessage(mt, data); err != nil {
			return
		}
	}
}

func (s *server) idle(w http.ResponseWriter, r *http.Request) {
	s.wg.Add(1)
	defer s.wg.Done()
	c, err := s.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	defer c.Close()
	for {
		if _, _, err := c.ReadMessage(); err != nil {
			return
		}
	}
}

// serve runs the server alone until ctx ends (the -serve flag), so that a
// second bench process can use it through -url.
func serve(ctx context.Context, addr string, n, size int, ready func(url string)) error {
	s, err := startServer(addr, n, size)
	if err != nil {
		return err
	}
	ready(s.URL)
	<-ctx.Done()
	s.Close()
	if errors.Is(ctx.Err(), context.Canceled) {
		return nil
	}
	return ctx.Err()
}
