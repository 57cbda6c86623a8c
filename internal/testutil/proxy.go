package testutil

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"testing"
)

// Proxy is a loopback HTTP proxy that serves CONNECT tunnels only, as
// gorilla's dialer uses for ws:// and wss:// alike. It records each tunnel.
type Proxy struct {
	// URL is http://127.0.0.1:PORT.
	URL *url.URL

	ln       net.Listener
	wantAuth string // the Proxy-Authorization value required; "" requires none
	wg       sync.WaitGroup

	mu      sync.Mutex
	closed  bool
	conns   []net.Conn
	tunnels []ProxyTunnel
	once    sync.Once
}

// ProxyTunnel is one CONNECT request the proxy received.
type ProxyTunnel struct {
	Target string // host:port asked for
	Auth   string // the Proxy-Authorization header, if any
	OK     bool   // the tunnel was opened
}

// NewProxy starts a Proxy. With a non-empty wantAuth it answers 407 to any
// CONNECT whose Proxy-Authorization is not exactly wantAuth.
func NewProxy(t testing.TB, wantAuth string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testutil: listen: %v", err)
	}
	p := &Proxy{URL: &url.URL{Scheme: "http", Host: ln.Addr().String()}, ln: ln, wantAuth: wantAuth}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.Close)
	return p
}

// Tunnels returns every CONNECT request received so far.
func (p *Proxy) Tunnels() []ProxyTunnel {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]ProxyTunnel(nil), p.tunnels...)
}

// Close stops the proxy, cuts every tunnel and waits for its goroutines.
func (p *Proxy) Close() {
	p.once.Do(func() {
		p.mu.Lock()
		p.closed = true
		conns := p.conns
		p.mu.Unlock()
		_ = p.ln.Close()
		for _, c := range conns {
			_ = c.Close()
		}
		p.wg.Wait()
	})
}

// track registers c to be closed by Close; false if the proxy is closed.
func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.conns = append(p.conns, c)
	return true
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		if !p.track(c) {
			_ = c.Close()
			return
		}
		p.wg.Add(1)
		go p.serve(c)
	}
}

func (p *Proxy) serve(c net.Conn) {
	defer p.wg.Done()
	defer c.Close()
	br := bufio.NewReader(c)
	req, err := http.ReadRequest(br)
	if err != nil {
		return
	}
	tun := ProxyTunnel{Target: req.Host, Auth: req.Header.Get("Proxy-Authorization")}
	record := func() {
		p.mu.Lock()
		p.tunnels = append(p.tunnels, tun)
		p.mu.Unlock()
	}
	switch {
	case req.Method != http.MethodConnect:
		record()
		_, _ = io.WriteString(c, "HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
		return
	case p.wantAuth != "" && tun.Auth != p.wantAuth:
		record()
		_, _ = io.WriteString(c, "HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n")
		return
	}
	up, err := net.Dial("tcp", req.Host)
	if err != nil {
		record()
		_, _ = fmt.Fprintf(c, "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
		return
	}
	defer up.Close()
	if !p.track(up) {
		return
	}
	tun.OK = true
	record()
	if _, err := io.WriteString(c, "HTTP/1.1 200 Connection established\r\n\r\n"); err != nil {
		return
	}
	// Copy both ways; when one side ends, cut the other so both copies end.
	done := make(chan struct{}, 2)
	go func() {
		_, _ = io.Copy(up, br) // br: bytes the client sent after the request
		_ = up.Close()
		done <- struct{}{}
	}()
	_, _ = io.Copy(c, up)
	_ = c.Close()
	<-done
}
