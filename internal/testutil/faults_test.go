package testutil_test

import (
	"crypto/tls"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/rxpype/rxpype/internal/testutil"
)

func TestRawServerSpeaksWebSocket(t *testing.T) {
	got := make(chan testutil.RawFrame, 1)
	srv := testutil.NewRawServer(t, func(c *testutil.RawConn) {
		if c.Upgrade() != nil || c.WriteFrame(0x81, []byte("hi")) != nil {
			return
		}
		f, err := c.ReadFrame()
		if err == nil {
			_ = c.WriteClose(4000, "done")
			got <- f
		}
	})
	ws, _, err := websocket.DefaultDialer.DialContext(testCtx(t), srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	if mt, p, err := ws.ReadMessage(); err != nil || mt != websocket.TextMessage || string(p) != "hi" {
		t.Fatalf("read %d %q %v", mt, p, err)
	}
	if err := ws.WriteMessage(websocket.BinaryMessage, make([]byte, 300)); err != nil {
		t.Fatal(err)
	}
	if f := <-got; !f.Fin || f.Op != websocket.BinaryMessage || len(f.Payload) != 300 {
		t.Fatalf("server read %+v", f)
	}
	if _, _, err := ws.ReadMessage(); !websocket.IsCloseError(err, 4000) {
		t.Fatalf("want close 4000, got %v", err)
	}
}

func TestNewServerWithTLSAndProxy(t *testing.T) {
	cert, pool := testutil.SelfSigned(t, "127.0.0.1")
	var in atomic.Int64
	srv := testutil.NewServerWith(t, testutil.Echo, testutil.ServerConfig{
		TLS: &tls.Config{Certificates: []tls.Certificate{cert}}, Compression: true, BytesIn: &in,
	})
	proxy := testutil.NewProxy(t, "")
	d := websocket.Dialer{TLSClientConfig: &tls.Config{RootCAs: pool}, Proxy: http.ProxyURL(proxy.URL), EnableCompression: true}
	ws, _, err := d.DialContext(testCtx(t), srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	if err := ws.WriteMessage(websocket.TextMessage, []byte("x")); err != nil {
		t.Fatal(err)
	}
	if _, p, err := ws.ReadMessage(); err != nil || string(p) != "x" {
		t.Fatalf("echo %q %v", p, err)
	}
	if tun := proxy.Tunnels(); len(tun) != 1 || !tun[0].OK || in.Load() == 0 {
		t.Fatalf("tunnels %+v, bytes %d", tun, in.Load())
	}
}
