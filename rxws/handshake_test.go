package rxws_test

import (
	"bytes"
	"compress/flate"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/rxpype/rxpype/internal/testutil"
	"github.com/rxpype/rxpype/rxws"
)

const deflateExt = "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_no_context_takeover"

// RFC 6455 §4.1: a handshake in which the server turns on an extension or
// a subprotocol the client did not offer fails. gorilla accepted an
// unoffered permessage-deflate, and rxws's read limit then counted only
// compressed bytes: a 500-byte frame inflated to 512 KiB past a 1 KiB limit.
func TestAHandshakeTurningOnWhatWasNotOfferedFails(t *testing.T) {
	for _, tc := range []struct {
		name   string
		answer string
		copts  []rxws.ConnectOption
		fails  string // "" for a handshake that must succeed
	}{
		{"deflate not offered", deflateExt, nil, `extension "permessage-deflate", which was not offered`},
		{"unknown extension", "Sec-WebSocket-Extensions: x-unknown", []rxws.ConnectOption{rxws.WithCompression()}, `extension "x-unknown"`},
		{"subprotocol not offered", "Sec-WebSocket-Protocol: chat", nil, `subprotocol "chat", which was not offered`},
		{"subprotocol offered", "Sec-WebSocket-Protocol: chat", []rxws.ConnectOption{rxws.WithHeaders(map[string][]string{"Sec-WebSocket-Protocol": {"feed, chat"}})}, ""},
		{"extension offered by hand", "Sec-WebSocket-Extensions: x-ext", []rxws.ConnectOption{rxws.WithHeaders(map[string][]string{"Sec-WebSocket-Extensions": {"x-ext; p=1"}})}, `extension "x-ext", offered through WithHeaders, which rxws does not support`},
		{"deflate offered", deflateExt, []rxws.ConnectOption{rxws.WithCompression()}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := testutil.NewRawServer(t, func(c *testutil.RawConn) {
				if c.UpgradeWith(tc.answer) != nil {
					return
				}
				// The compression bomb that an unoffered deflate let through.
				var b bytes.Buffer
				fw, _ := flate.NewWriter(&b, flate.BestCompression)
				_, _ = fw.Write(make([]byte, 512<<10))
				_ = fw.Flush()
				_ = c.WriteFrame(0xC2, bytes.TrimSuffix(b.Bytes(), []byte{0, 0, 0xff, 0xff})) // FIN, RSV1, binary
				<-c.Done()
			})
			m := rxws.NewManager(nil)
			err := m.Connect(testCtx(t), srv.URL, append(tc.copts, rxws.WithReadLimit(1024))...)
			if tc.fails == "" {
				if err != nil {
					t.Fatal(err)
				}
				// With deflate negotiated the limit holds for the inflated
				// message; without, a compressed frame breaks the protocol.
				if _, err := m.Receive(testCtx(t)); !errors.Is(err, rxws.ErrMessageTooBig) && !errors.Is(err, rxws.ErrProtocol) {
					t.Fatalf("the bomb: %v, want ErrMessageTooBig or ErrProtocol", err)
				}
				_ = m.Disconnect(testCtx(t))
				return
			}
			if !errors.Is(err, rxws.ErrProtocol) || !strings.Contains(err.Error(), tc.fails) || !strings.Contains(err.Error(), srv.URL) {
				_ = m.Disconnect(testCtx(t))
				t.Fatalf("Connect: %v; want ErrProtocol saying %s, naming the server", err, tc.fails)
			}
			if m.Connected() {
				t.Fatal("connected")
			}
		})
	}
}

// A 101 answer that gorilla refuses is a broken upgrade, not a refusal: the
// error says what is wrong with it.
func TestABad101SaysWhatIsWrong(t *testing.T) {
	for _, tc := range []struct{ name, head, says string }{
		{"wrong accept", "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=", "Sec-WebSocket-Accept does not match"},
		{"no Upgrade", "Connection: Upgrade\r\nSec-WebSocket-Accept: %s", "lacks Upgrade: websocket"},
		{"no Connection", "Upgrade: websocket\r\nSec-WebSocket-Accept: %s", "lacks Connection: Upgrade"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := testutil.NewRawServer(t, func(c *testutil.RawConn) {
				req, err := c.ReadRequest()
				if err != nil {
					return
				}
				head := tc.head
				if strings.Contains(head, "%s") {
					head = fmt.Sprintf(head, testutil.AcceptKey(req.Header.Get("Sec-WebSocket-Key")))
				}
				_, _ = io.WriteString(c.Conn, "HTTP/1.1 101 Switching Protocols\r\n"+head+"\r\n\r\n")
				<-c.Done()
			})
			err := rxws.NewManager(nil).Connect(testCtx(t), srv.URL)
			var he *rxws.HandshakeError
			if !errors.Is(err, rxws.ErrProtocol) || errors.As(err, &he) || !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("Connect: %T %v; want ErrProtocol saying %s", err, err, tc.says)
			}
			if !errors.Is(err, websocket.ErrBadHandshake) { // as the HandshakeError it used to be
				t.Fatalf("Connect: %v; want it to wrap websocket.ErrBadHandshake", err)
			}
		})
	}
}

// A server that sends handshake headers without end does not have the
// client buffer them until the handshake timeout: the handshake fails once
// it has read 1 MiB.
func TestEndlessHandshakeHeadersFailAtABound(t *testing.T) {
	srv := testutil.NewRawServer(t, func(c *testutil.RawConn) {
		if _, err := c.ReadRequest(); err != nil {
			return
		}
		chunk := "HTTP/1.1 101 Switching Protocols\r\n" + strings.Repeat("X-Junk: "+strings.Repeat("a", 4000)+"\r\n", 64)
		for {
			if _, err := io.WriteString(c.Conn, chunk); err != nil {
				return
			}
			chunk = chunk[strings.Index(chunk, "X-Junk"):]
		}
	})
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	err := rxws.NewManager(nil).Connect(testCtx(t), srv.URL, rxws.WithHandshakeTimeout(time.Hour))
	runtime.ReadMemStats(&after)
	if err == nil || !strings.Contains(err.Error(), "handshake is over 1 MiB") || !strings.Contains(err.Error(), srv.URL) {
		t.Fatalf("Connect: %v", err)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 32<<20 {
		t.Fatalf("the handshake allocated %d MiB", grew>>20)
	}
}

// Disconnect reads on until the peer's close frame with the read limit on
// what a message inflates to: gorilla's ReadMessage, which it used, counts
// compressed bytes, so a server answering the close with compression bombs
// made Disconnect inflate each (16 MiB here) into memory.
func TestDisconnectKeepsTheReadLimitOnCompressedFrames(t *testing.T) {
	var b bytes.Buffer
	fw, _ := flate.NewWriter(&b, flate.BestCompression)
	_, _ = fw.Write(make([]byte, 16<<20))
	_ = fw.Flush()
	bomb := bytes.TrimSuffix(b.Bytes(), []byte{0, 0, 0xff, 0xff})
	const limit = 1 << 20
	held := make(chan struct{})
	srv := testutil.NewRawServer(t, func(c *testutil.RawConn) {
		if c.UpgradeWith(deflateExt) != nil {
			return
		}
		// One message nobody takes: the reader waits for a listener, holding it.
		if c.WriteFrame(0x81, []byte("held")) != nil {
			return
		}
		close(held)
		if _, err := c.ReadFrame(); err != nil { // the client's close frame
			return
		}
		for range 4 {
			if c.WriteFrame(0xC2, bomb) != nil {
				return
			}
		}
		<-c.Done()
	})
	m := rxws.NewManager(nil)
	if err := m.Connect(testCtx(t), srv.URL, rxws.WithCompression(), rxws.WithReadLimit(limit)); err != nil {
		t.Fatal(err)
	}
	<-held
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if err := m.Disconnect(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	// Reading up to the limit costs a few times the limit (the buffer
	// grows by doubling); inflating the four bombs cost over 128 MiB.
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 16*limit {
		t.Fatalf("Disconnect allocated %d MiB inflating the server's frames; the read limit is %d MiB", grew>>20, limit>>20)
	}
}
