package rxws_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/rxpype/rxpype/internal/testutil"
	"github.com/rxpype/rxpype/rxws"
)

// logBuffer collects JSON log records; slog writes from the library's
// goroutines while the test reads.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// records decodes the JSON records logged so far.
func (b *logBuffer) records(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		if line == "" {
			continue
		}
		var r map[string]any
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		out = append(out, r)
	}
	return out
}

// newLogger returns a logger at debug level writing JSON into a buffer.
func newLogger() (*slog.Logger, *logBuffer) {
	b := &logBuffer{}
	return slog.New(slog.NewJSONHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug})), b
}

// tlsServer starts an echo server on wss:// with a self-signed certificate
// for hosts and returns it with a pool that trusts the certificate.
func tlsServer(t *testing.T, cfg *tls.Config, hosts ...string) (*testutil.Server, *x509.CertPool) {
	cert, pool := testutil.SelfSigned(t, hosts...)
	if cfg == nil {
		cfg = &tls.Config{}
	}
	cfg.Certificates = []tls.Certificate{cert}
	return testutil.NewServerWith(t, testutil.Echo, testutil.ServerConfig{TLS: cfg}), pool
}

// echoOnce sends text and expects it back.
func echoOnce(t *testing.T, m *rxws.Manager, text string) {
	t.Helper()
	if err := m.Send(testCtx(t), rxws.TextRequest(text)); err != nil {
		t.Fatal(err)
	}
	if r := receive(t, m); r.Data() != text {
		t.Fatalf("echo: got %v", r)
	}
}

func TestTLSVerificationOnRejectsSelfSigned(t *testing.T) {
	srv, _ := tlsServer(t, nil, "127.0.0.1")
	m := rxws.NewManager(nil)
	err := m.Connect(testCtx(t), srv.URL+"/feed?key=secret") // system roots
	var ce *rxws.CertificateError
	var cve *tls.CertificateVerificationError
	var ua x509.UnknownAuthorityError
	if !errors.As(err, &ce) || ce.Host != "127.0.0.1" || ce.URL != srv.URL+"/feed?…" ||
		!errors.Is(err, rxws.ErrCertificate) || !errors.As(err, &cve) || !errors.As(err, &ua) {
		t.Fatalf("got %T %v", err, err)
	}
	t.Log(err)
	if msg := err.Error(); !strings.Contains(msg, "certificate of 127.0.0.1") || strings.Contains(msg, "secret") {
		t.Fatalf("message %q", msg)
	}
	if m.Connected() {
		t.Fatal("connected")
	}
}

func TestTLSCertificateForAnotherHost(t *testing.T) {
	srv, pool := tlsServer(t, nil, "feed.example")
	m := rxws.NewManager(nil)
	err := m.Connect(testCtx(t), srv.URL, rxws.WithTLSConfig(&tls.Config{RootCAs: pool}))
	var ce *rxws.CertificateError
	var he x509.HostnameError
	if !errors.As(err, &ce) || ce.Host != "127.0.0.1" || !errors.As(err, &he) {
		t.Fatalf("got %T %v", err, err)
	}
	// Naming the host the certificate is for makes it pass.
	if err := m.Connect(testCtx(t), srv.URL, rxws.WithTLSConfig(&tls.Config{RootCAs: pool, ServerName: "feed.example"})); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Disconnect(context.Background()) })
	echoOnce(t, m, "hello")
}

func TestTLSCustomRoots(t *testing.T) {
	srv, pool := tlsServer(t, nil, "127.0.0.1", "localhost")
	cfg := &tls.Config{RootCAs: pool}
	m := rxws.NewManager(nil)
	if err := m.Connect(testCtx(t), srv.URL, rxws.WithTLSConfig(cfg)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Disconnect(context.Background()) })
	echoOnce(t, m, "over tls")
	if cfg.ServerName != "" || cfg.InsecureSkipVerify {
		t.Fatal("the caller's tls.Config was changed")
	}
}

func TestTLSClientCertificate(t *testing.T) {
	clientCert, clientPool := testutil.SelfSigned(t, "client.example")
	srv, pool := tlsServer(t, &tls.Config{ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: clientPool}, "127.0.0.1")

	m := rxws.NewManager(nil)
	if err := m.Connect(testCtx(t), srv.URL, rxws.WithTLSConfig(&tls.Config{RootCAs: pool})); err == nil {
		t.Fatal("connected without a client certificate")
	}
	if err := m.Connect(testCtx(t), srv.URL, rxws.WithTLSConfig(&tls.Config{RootCAs: pool, Certificates: []tls.Certificate{clientCert}})); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Disconnect(context.Background()) })
	echoOnce(t, m, "mutual")
	req := srv.Conn(0).Request()
	if req.TLS == nil || len(req.TLS.PeerCertificates) == 0 || !req.TLS.PeerCertificates[0].Equal(clientCert.Leaf) {
		t.Fatal("the server did not see the client certificate")
	}
}

func TestTLSInsecureSkipVerifyWarnsOnce(t *testing.T) {
	srv, _ := tlsServer(t, nil, "127.0.0.1")
	log, buf := newLogger()
	m := rxws.NewManager(nil, rxws.WithLogger(log))
	ctx := testCtx(t)
	insecure := rxws.WithTLSConfig(&tls.Config{InsecureSkipVerify: true})
	for i := 0; i < 2; i++ { // reconnecting does not warn again
		if err := m.Connect(ctx, srv.URL, insecure); err != nil {
			t.Fatal(err)
		}
		echoOnce(t, m, "unverified")
		if err := m.Disconnect(ctx); err != nil {
			t.Fatal(err)
		}
	}
	var warnings []map[string]any
	for _, r := range buf.records(t) {
		if strings.Contains(r["msg"].(string), "verification is off") {
			warnings = append(warnings, r)
		}
	}
	if len(warnings) != 1 || warnings[0]["level"] != "WARN" || warnings[0]["url"] != srv.URL {
		t.Fatalf("want one warning, got %v\nlog:\n%s", warnings, buf)
	}
}
