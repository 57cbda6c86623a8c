package rxws_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gorilla/websocket"
	"github.com/rxpype/rxpype/internal/testutil"
	"github.com/rxpype/rxpype/rxws"
)

func TestWithProxyTunnels(t *testing.T) {
	srv := testutil.NewServer(t, testutil.Echo)
	tlsSrv, pool := tlsServer(t, nil, "127.0.0.1")
	wantAuth := "Basic " + base64.StdEncoding.EncodeToString([]byte("trader:"+secret))
	proxy := testutil.NewProxy(t, wantAuth)
	pu := *proxy.URL
	pu.User = url.UserPassword("trader", secret)

	for _, tc := range []struct {
		url  string
		opts []rxws.ConnectOption
	}{
		{srv.URL, nil},
		{tlsSrv.URL, []rxws.ConnectOption{rxws.WithTLSConfig(&tls.Config{RootCAs: pool})}},
	} {
		m := rxws.NewManager(nil)
		if err := m.Connect(testCtx(t), tc.url, append(tc.opts, rxws.WithProxy(&pu))...); err != nil {
			t.Fatal(err)
		}
		echoOnce(t, m, "via proxy")
		if err := m.Disconnect(testCtx(t)); err != nil {
			t.Fatal(err)
		}
	}
	tun := proxy.Tunnels()
	if len(tun) != 2 || !tun[0].OK || tun[0].Target != strings.TrimPrefix(srv.URL, "ws://") ||
		tun[1].Target != strings.TrimPrefix(tlsSrv.URL, "wss://") || tun[0].Auth != wantAuth {
		t.Fatalf("tunnels: %+v", tun)
	}
}

func TestWithProxyRefused(t *testing.T) {
	srv := testutil.NewServer(t, testutil.Echo)
	proxy := testutil.NewProxy(t, "Basic something-else")
	pu := *proxy.URL
	pu.User = url.UserPassword("trader", secret)
	err := rxws.NewManager(nil).Connect(testCtx(t), srv.URL, rxws.WithProxy(&pu))
	t.Log(err)
	// The refusal is the proxy's, and the text says so (gorilla gives only
	// the status text); the proxy's password stays out of it.
	if err == nil || !strings.Contains(err.Error(), "via proxy "+proxy.URL.Host+": Proxy Authentication Required") || strings.Contains(err.Error(), secret) {
		t.Fatalf("got %v", err)
	}
	if srv.Attempts() != 0 {
		t.Fatal("the server was reached")
	}
}

func TestWithProxyNilDialsDirect(t *testing.T) {
	srv := testutil.NewServer(t, testutil.Echo)
	proxy := testutil.NewProxy(t, "")
	m := rxws.NewManager(nil)
	if err := m.Connect(testCtx(t), srv.URL, rxws.WithProxy(nil)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Disconnect(context.Background()) })
	echoOnce(t, m, "direct")
	if n := len(proxy.Tunnels()); n != 0 {
		t.Fatalf("%d tunnels", n)
	}
}

// compressed starts an echo server that accepts permessage-deflate and
// counts the bytes it reads.
func compressed(t *testing.T, h testutil.Handler) (*testutil.Server, *atomic.Int64) {
	var n atomic.Int64
	return testutil.NewServerWith(t, h, testutil.ServerConfig{Compression: true, BytesIn: &n}), &n
}

func TestCompressionOffByDefault(t *testing.T) {
	srv, in := compressed(t, testutil.Echo)
	m, w := connectTo(t, srv.URL, nil)
	big := make([]byte, 1<<20)
	if err := m.Send(testCtx(t), rxws.BinaryRequest(big)); err != nil {
		t.Fatal(err)
	}
	if r := w.next(); !bytes.Equal(r.Bytes(), big) {
		t.Fatal("echo differs")
	}
	if ext := srv.Conn(0).Request().Header.Get("Sec-WebSocket-Extensions"); ext != "" {
		t.Fatalf("offered %q", ext)
	}
	if in.Load() < 1<<20 {
		t.Fatalf("server read %d bytes for a 1 MiB message", in.Load())
	}
}

func TestWithCompression(t *testing.T) {
	srv, in := compressed(t, testutil.Echo)
	m, w := connectTo(t, srv.URL, []rxws.ConnectOption{rxws.WithCompression()})
	big := bytes.Repeat([]byte(`{"price":"1.25","qty":3},`), 40000) // 1 MB of JSON-ish text
	if err := m.Send(testCtx(t), rxws.TextRequest(string(big))); err != nil {
		t.Fatal(err)
	}
	if r := w.next(); !bytes.Equal(r.Bytes(), big) {
		t.Fatal("echo differs")
	}
	if ext := srv.Conn(0).Request().Header.Get("Sec-WebSocket-Extensions"); !strings.Contains(ext, "permessage-deflate") {
		t.Fatalf("offered %q", ext)
	}
	if n := in.Load(); n > 64<<10 {
		t.Fatalf("server read %d bytes for a %d-byte message: not compressed", n, len(big))
	}
}

// A compressed frame is small on the wire; the read limit still holds for
// the message it inflates to.
func TestCompressedMessageOverReadLimit(t *testing.T) {
	srv, _ := compressed(t, func(c *testutil.Conn) {
		_ = c.SendBinary(make([]byte, 8<<20)) // ~8 KiB on the wire
		<-c.Done()
	})
	_, w := connectTo(t, srv.URL, []rxws.ConnectOption{rxws.WithCompression(), rxws.WithReadLimit(1 << 20)})
	end := w.end()
	closeErr(t, end, websocket.CloseMessageTooBig)
	var tb *rxws.MessageTooBigError
	if !errors.As(end, &tb) || tb.Limit != 1<<20 {
		t.Fatalf("got %v", end)
	}
	c := srv.Conn(0)
	<-c.Done()
	var wce *websocket.CloseError
	if !errors.As(c.Err(), &wce) || wce.Code != websocket.CloseMessageTooBig {
		t.Fatalf("server saw %v", c.Err())
	}
}
