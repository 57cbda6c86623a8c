package rxws_test

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rxpype/rxpype/internal/testutil"
	"github.com/rxpype/rxpype/rxws"
)

// WithWriteTimeout(0) means the default: it made every write's deadline
// "now", so every Send failed and ended the connection.
func TestAZeroWriteTimeoutMeansTheDefault(t *testing.T) {
	srv := testutil.NewServer(t, testutil.Echo)
	m := rxws.NewManager(nil)
	if err := m.Connect(testCtx(t), srv.URL, rxws.WithWriteTimeout(0)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Disconnect(context.Background()) })
	if err := m.Send(testCtx(t), rxws.TextRequest("hi")); err != nil {
		t.Fatalf("WithWriteTimeout(0): Send failed: %v (connected=%v)", err, m.Connected())
	}
}

// A TimeoutError is a net.Error (it lacked Temporary), as its doc says, so
// code written for net timeouts keeps working.
func TestATimeoutErrorIsANetError(t *testing.T) {
	silent := testutil.NewRawServer(t, func(c *testutil.RawConn) { <-c.Done() })
	err := rxws.NewManager(nil).Connect(testCtx(t), silent.URL, rxws.WithHandshakeTimeout(20*time.Millisecond))
	if !errors.Is(err, rxws.ErrHandshakeTimeout) {
		t.Fatalf("got %v", err)
	}
	if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
		t.Fatalf("%T is not a net.Error (it lacks Temporary): %v", err, err)
	}
}

// CertificateError.Host is the host name the certificate was checked
// against: tls.Config.ServerName when it is set, not the URL's host.
func TestACertificateErrorNamesTheServerNameChecked(t *testing.T) {
	srv, pool := tlsServer(t, nil, "feed.example")
	err := rxws.NewManager(nil).Connect(testCtx(t), srv.URL,
		rxws.WithTLSConfig(&tls.Config{RootCAs: pool, ServerName: "other.example"}))
	var ce *rxws.CertificateError
	if !errors.As(err, &ce) {
		t.Fatalf("got %T %v", err, err)
	}
	t.Log(err)
	if ce.Host != "other.example" {
		t.Fatalf("Host = %q, but the certificate was checked against %q", ce.Host, "other.example")
	}
}

// WithReadLimit(0) means the default: it lifted the limit altogether, so a
// message over 16 MiB was accepted.
func TestAZeroReadLimitMeansTheDefault(t *testing.T) {
	srv := testutil.NewServer(t, func(c *testutil.Conn) {
		_ = c.SendBinary(make([]byte, rxws.DefaultReadLimit+1))
		<-c.Done()
	})
	m, w := connectTo(t, srv.URL, []rxws.ConnectOption{rxws.WithReadLimit(0)})
	_ = m
	it := <-w.items
	if it.E == nil {
		t.Fatalf("WithReadLimit(0): a %d-byte message was accepted (no limit at all)", len(it.V.(*rxws.Response).Bytes()))
	}
}

// WithAutoPing with WithPingTimeout(0) still pings (every
// DefaultPingTimeout/2); no ping went out at all.
func TestAutoPingWithAZeroPingTimeoutStillPings(t *testing.T) {
	mock, m, c, _, _ := liveSetup(t, true, rxws.WithAutoPing(), rxws.WithPingTimeout(0))
	for range 10 {
		mock.Add(time.Minute)
	}
	barrier(t, m, c, 1)
	if n := pingCount(c); n == 0 {
		t.Fatalf("WithAutoPing() and WithPingTimeout(0): %d pings in 10 minutes", n)
	}
}

// WithHeaders adds headers: a second WithHeaders dropped the first one's.
func TestWithHeadersTwiceSendsBoth(t *testing.T) {
	srv := testutil.NewServer(t, testutil.Echo)
	m := rxws.NewManager(nil)
	err := m.Connect(testCtx(t), srv.URL,
		rxws.WithHeaders(http.Header{"X-Api-Key": {"k"}}),
		rxws.WithHeaders(http.Header{"X-Client": {"c"}}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Disconnect(context.Background()) })
	h := srv.Conn(0).Request().Header
	if h.Get("X-Api-Key") != "k" || h.Get("X-Client") != "c" {
		t.Fatalf("server got X-Api-Key=%q X-Client=%q", h.Get("X-Api-Key"), h.Get("X-Client"))
	}
}

// An unparsable URL without "//" (wss:user:pass@host) hides its userinfo in
// the error, as one with "//" does.
func TestABadURLWithoutSlashesHidesItsUserinfo(t *testing.T) {
	err := rxws.NewManager(nil).Connect(testCtx(t), "wss:trader:"+secret+"@127.0.0.1/ws\x7f")
	if !errors.Is(err, rxws.ErrBadURL) {
		t.Fatalf("got %v", err)
	}
	if strings.Contains(err.Error(), secret) {
		t.Fatalf("error leaks the password: %v", err)
	}
}

// A password holding "?" or "#" in a URL that does not parse stays out of
// the error: the query was cut before the userinfo was looked for, and
// net/url's reason quoted part of it.
func TestABadURLWithAQueryCharacterInItsPasswordHidesIt(t *testing.T) {
	for _, raw := range []string{"wss://trader:se?cret@host:bad", "wss://trader:se#cret@host:bad", "wss:trader:se?cret@host\x7f"} {
		err := rxws.NewManager(nil).Connect(testCtx(t), raw)
		if !errors.Is(err, rxws.ErrBadURL) {
			t.Fatalf("%q: %v", raw, err)
		}
		if msg := err.Error(); strings.Contains(msg, "trader") || strings.Contains(msg, ":se") || strings.Contains(msg, "cret") {
			t.Fatalf("%q: the error shows the credentials: %v", raw, err)
		}
	}
}

// Nil options and nil processors are ignored, as NewThrottler's nil options
// are: they panicked, a nil ConnectOption inside Connect after it had
// marked the manager connecting (so that a recovered panic left it unable
// to connect again), and a nil post-processor in the reader goroutine, out
// of the caller's reach.
func TestNilOptionsAndProcessorsAreIgnored(t *testing.T) {
	srv := testutil.NewServer(t, testutil.Echo)
	var nilPre rxws.PreProcessorFunc
	var nilPost rxws.PostProcessorFunc
	var nilAuth rxws.AuthFunc
	m := rxws.NewManager(nil, nil, rxws.WithPreProcessors(nil, nilPre), rxws.WithPostProcessors(nil, nilPost), rxws.WithAuth(nilAuth))
	ctx := testCtx(t)
	if err := m.Connect(ctx, srv.URL, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Disconnect(context.Background()) })
	msgs := m.MessagesWith([]rxws.StreamOption{nil}, rxgoCtx(ctx)).Observe()
	if err := m.Send(ctx, rxws.TextRequest("hi")); err != nil {
		t.Fatal(err)
	}
	if item := <-msgs; item.E != nil || string(item.V.(*rxws.Response).Bytes()) != "hi" {
		t.Fatalf("got %v", item)
	}
	signed := rxws.TextRequest("sign me")
	signed.AuthRequired = true
	if err := m.Send(ctx, signed); !errors.Is(err, rxws.ErrNoAuth) {
		t.Fatalf("a nil AuthFunc: %v, want ErrNoAuth", err)
	}
}
