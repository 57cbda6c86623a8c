package testutil

import (
	"bufio"
	"crypto/sha1"
	"crypto/tls"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/gorilla/websocket"
)

// ServerConfig configures a Server made by NewServerWith.
type ServerConfig struct {
	// TLS, if set, serves wss:// with this configuration (its Certificates,
	// ClientAuth and ClientCAs). With no Certificates httptest's own
	// certificate is used.
	TLS *tls.Config
	// Compression makes the upgrader accept permessage-deflate, and then
	// compress what it writes.
	Compression bool
	// BytesIn, if set, counts every byte the server reads from its clients,
	// handshakes and TLS records included: it shows what crossed the wire.
	BytesIn *atomic.Int64
}

// NewServerWith is NewServer with TLS, compression or byte counting. Its
// URL is wss:// when cfg.TLS is set.
func NewServerWith(t testing.TB, h Handler, cfg ServerConfig) *Server {
	t.Helper()
	if h == nil {
		h = Hold
	}
	s := &Server{
		t:       t,
		h:       h,
		changed: make(chan struct{}),
		upgrader: websocket.Upgrader{
			CheckOrigin:       func(*http.Request) bool { return true },
			EnableCompression: cfg.Compression,
		},
	}
	s.answerPings.Store(true)
	s.hs = httptest.NewUnstartedServer(http.HandlerFunc(s.serveHTTP))
	// TLS handshakes that tests make fail on purpose are not news.
	s.hs.Config.ErrorLog = log.New(io.Discard, "", 0)
	if cfg.BytesIn != nil {
		s.hs.Listener = &countingListener{Listener: s.hs.Listener, n: cfg.BytesIn}
	}
	if cfg.TLS != nil {
		s.hs.TLS = cfg.TLS.Clone()
		s.hs.StartTLS()
		s.URL = "wss" + strings.TrimPrefix(s.hs.URL, "https")
	} else {
		s.hs.Start()
		s.URL = "ws" + strings.TrimPrefix(s.hs.URL, "http")
	}
	t.Cleanup(s.Close)
	return s
}

type countingListener struct {
	net.Listener
	n *atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &countingConn{Conn: c, n: l.n}, nil
}

type countingConn struct {
	net.Conn
	n *atomic.Int64
}

func (c *countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// RawServer is a loopback TCP server that speaks WebSocket by hand, for the
// faults a well-behaved server library refuses to commit: never answering
// the handshake, never reading, dying in the middle of a frame, close
// frames with reserved codes, frames with reserved bits. Each accepted TCP
// connection goes to a RawHandler in its own goroutine; the connection is
// closed when the handler returns.
type RawServer struct {
	// URL is ws://127.0.0.1:PORT.
	URL string

	ln   net.Listener
	h    RawHandler
	done chan struct{}
	wg   sync.WaitGroup

	mu     sync.Mutex
	conns  []net.Conn
	closed bool
	once   sync.Once
}

// RawHandler serves one accepted TCP connection. It must return once
// c.Done is closed or a read or write fails.
type RawHandler func(c *RawConn)

// RawConn is the server side of one TCP connection of a RawServer.
type RawConn struct {
	net.Conn
	br   *bufio.Reader
	done <-chan struct{}
	// Request is the client's handshake request, once Upgrade has read it.
	Request *http.Request
}

// NewRawServer starts a RawServer on 127.0.0.1 and registers t.Cleanup(Close).
func NewRawServer(t testing.TB, h RawHandler) *RawServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testutil: listen: %v", err)
	}
	s := &RawServer{URL: "ws://" + ln.Addr().String(), ln: ln, h: h, done: make(chan struct{})}
	s.wg.Add(1)
	go s.accept()
	t.Cleanup(s.Close)
	return s
}

// Close stops the listener, closes every connection and waits for every
// handler to return. It is idempotent.
func (s *RawServer) Close() {
	s.once.Do(func() {
		s.mu.Lock()
		s.closed = true
		conns := s.conns
		s.mu.Unlock()
		close(s.done)
		_ = s.ln.Close()
		for _, c := range conns {
			_ = c.Close()
		}
		s.wg.Wait()
	})
}

func (s *RawServer) accept() {
	defer s.wg.Done()
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			_ = nc.Close()
			return
		}
		s.conns = append(s.conns, nc)
		s.wg.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.wg.Done()
			defer nc.Close()
			s.h(&RawConn{Conn: nc, br: bufio.NewReader(nc), done: s.done})
		}()
	}
}

// Done is closed when the server closes.
func (c *RawConn) Done() <-chan struct{} { return c.done }

// Upgrade reads the client's handshake request and answers 101 Switching
// Protocols, with no extension and no subprotocol.
func (c *RawConn) Upgrade() error { return c.UpgradeWith() }

// UpgradeWith is Upgrade with extra header lines ("Name: value") in the
// answer, such as an extension or a subprotocol the client did not offer.
func (c *RawConn) UpgradeWith(extra ...string) error {
	req, err := c.ReadRequest()
	if err != nil {
		return err
	}
	key := req.Header.Get("Sec-WebSocket-Key")
	if key == "" {
		return errors.New("testutil: handshake without Sec-WebSocket-Key")
	}
	head := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " + AcceptKey(key) + "\r\n"
	for _, h := range extra {
		head += h + "\r\n"
	}
	_, err = io.WriteString(c.Conn, head+"\r\n")
	return err
}

// ReadRequest reads the client's handshake request (and keeps it in
// Request), for a handler that answers it by hand.
func (c *RawConn) ReadRequest() (*http.Request, error) {
	req, err := http.ReadRequest(c.br)
	if err == nil {
		c.Request = req
	}
	return req, err
}

// AcceptKey is the Sec-WebSocket-Accept that answers key.
func AcceptKey(key string) string {
	h := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return base64.StdEncoding.EncodeToString(h[:])
}

// WriteHeader writes a frame header (server frames are unmasked) with the
// given first byte (FIN, RSV1-3 and opcode; e.g. 0x81 is a final text
// frame) and payload length. The payload, if any, follows with Write.
func (c *RawConn) WriteHeader(b0 byte, length uint64) error {
	var hdr []byte
	switch {
	case length < 126:
		hdr = []byte{b0, byte(length)}
	case length <= 0xffff:
		hdr = []byte{b0, 126, 0, 0}
		binary.BigEndian.PutUint16(hdr[2:], uint16(length))
	default:
		hdr = make([]byte, 10)
		hdr[0], hdr[1] = b0, 127
		binary.BigEndian.PutUint64(hdr[2:], length)
	}
	_, err := c.Conn.Write(hdr)
	return err
}

// WriteFrame writes a whole frame with first byte b0.
func (c *RawConn) WriteFrame(b0 byte, payload []byte) error {
	if err := c.WriteHeader(b0, uint64(len(payload))); err != nil {
		return err
	}
	_, err := c.Conn.Write(payload)
	return err
}

// WriteClose writes a close frame with code and reason, whatever the code:
// RFC 6455 forbids some (1005, 1006, 1015) on the wire, and a hostile
// server sends them anyway.
func (c *RawConn) WriteClose(code uint16, reason string) error {
	p := binary.BigEndian.AppendUint16(nil, code)
	return c.WriteFrame(0x88, append(p, reason...))
}

// RawFrame is one frame a RawConn read from the client, unmasked.
type RawFrame struct {
	Fin     bool   // the frame ends its message
	Op      int    // websocket.TextMessage, CloseMessage, ...
	Payload []byte // unmasked
}

// Code is the close code of a close frame, or 0.
func (f RawFrame) Code() int {
	if f.Op != websocket.CloseMessage || len(f.Payload) < 2 {
		return 0
	}
	return int(binary.BigEndian.Uint16(f.Payload))
}

// ReadFrame reads one frame from the client (client frames are masked).
// It does not follow the protocol: pings are returned, not answered.
func (c *RawConn) ReadFrame() (RawFrame, error) {
	var hdr [2]byte
	if _, err := io.ReadFull(c.br, hdr[:]); err != nil {
		return RawFrame{}, err
	}
	f := RawFrame{Fin: hdr[0]&0x80 != 0, Op: int(hdr[0] & 0x0f)}
	n := uint64(hdr[1] & 0x7f)
	switch n {
	case 126:
		var b [2]byte
		if _, err := io.ReadFull(c.br, b[:]); err != nil {
			return f, err
		}
		n = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		if _, err := io.ReadFull(c.br, b[:]); err != nil {
			return f, err
		}
		n = binary.BigEndian.Uint64(b[:])
	}
	var mask [4]byte
	if hdr[1]&0x80 != 0 {
		if _, err := io.ReadFull(c.br, mask[:]); err != nil {
			return f, err
		}
	}
	if n > 1<<20 {
		return f, fmt.Errorf("testutil: client frame of %d bytes is too big for ReadFrame", n)
	}
	f.Payload = make([]byte, n)
	if _, err := io.ReadFull(c.br, f.Payload); err != nil {
		return f, err
	}
	for i := range f.Payload {
		f.Payload[i] ^= mask[i%4]
	}
	return f, nil
}

// ReadUntilClose reads frames until a close frame, which it returns, or
// until the read fails.
func (c *RawConn) ReadUntilClose() (RawFrame, error) {
	for {
		f, err := c.ReadFrame()
		if err != nil || f.Op == websocket.CloseMessage {
			return f, err
		}
	}
}
