package rxws

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/rxpype/rxpype/clock"
)

// Connection dials and holds one gorilla/websocket client connection at a
// time. A Manager owns it and lets one reader and one data-frame writer at
// a time use it, as gorilla requires. The zero value is ready to use and
// takes the logger of the first Manager made on it; NewConnection gives it
// the logger of its options instead.
type Connection struct {
	mu  sync.Mutex
	ws  *websocket.Conn
	url string // redacted, for errors
	cfg connectConfig

	log            *slog.Logger // nil: silent
	insecureWarned atomic.Bool  // the InsecureSkipVerify warning was logged
}

// NewConnection returns an unconnected Connection. Of the options only
// WithLogger matters to it: the Manager that owns it times everything,
// its messages' Received times included, on the Manager's own clock.
func NewConnection(opts ...Option) *Connection {
	c := newConfig(opts)
	return &Connection{log: c.logger}
}

// Connected reports whether a connection is open.
func (c *Connection) Connected() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ws != nil
}

// URL returns the URL of the last connection made (the last dial that
// succeeded), without query or credentials.
func (c *Connection) URL() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.url
}

// parseURL checks that raw is a ws:// or wss:// URL and returns it with its
// redacted form.
func parseURL(raw string) (*url.URL, string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		var why any = unwrapURLError(err)
		if strings.Contains(raw, "@") {
			why = "it does not parse" // net/url's reason may quote the userinfo
		}
		return nil, "", fmt.Errorf("%w %q: %v", ErrBadURL, redactRaw(raw), why)
	}
	shown := redactURL(u)
	// A URL that is wrong may not mean what it parses as (credentials in
	// what parses as a path): hide whatever sits like userinfo too.
	bad := redactRaw(shown)
	switch {
	case u.Scheme != "ws" && u.Scheme != "wss":
		return nil, "", fmt.Errorf("%w %q: scheme must be ws or wss, not %q", ErrBadURL, bad, redactRaw(u.Scheme))
	case u.Host == "":
		return nil, "", fmt.Errorf("%w %q: no host", ErrBadURL, bad)
	case u.User != nil:
		// gorilla refuses them with a vague "malformed URL"; say why.
		return nil, "", fmt.Errorf("%w %q: user and password in a WebSocket URL are not sent; use WithHeaders", ErrBadURL, bad)
	}
	return u, shown, nil
}

func unwrapURLError(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err
	}
	return err
}

// dial opens the connection and returns it with the socket under it, which
// notes on clk when it reads. The opening handshake is bounded by ctx and by
// the handshake timeout.
func (c *Connection) dial(ctx context.Context, raw string, cfg connectConfig, clk clock.Clock) (*websocket.Conn, *socket, error) {
	u, shown, err := parseURL(raw)
	if err != nil {
		return nil, nil, err
	}
	sd := socketDialer{clock: clk}
	d := websocket.Dialer{
		NetDialContext:    sd.dial,
		Proxy:             cfg.proxyFunc(),
		HandshakeTimeout:  cfg.handshakeTimeout,
		TLSClientConfig:   cfg.tlsConfig,
		EnableCompression: cfg.compression,
	}
	if u.Scheme == "wss" {
		c.warnInsecure(shown, cfg.tlsConfig)
	}
	log := c.logger()
	log.Debug("rxws: dialling", "url", shown)
	stop := context.AfterFunc(ctx, sd.abort)
	ws, resp, err := d.DialContext(ctx, u.String(), cfg.headers)
	if !stop() && err == nil {
		// ctx ended as the handshake completed: the socket may have a
		// deadline in the past already, and the caller wants out anyway.
		_ = ws.Close()
		ws, err = nil, ctx.Err()
	}
	if err == nil {
		sd.sock.limit = 0 // the handshake is over: frames have the read limit
		if err = checkUpgrade(shown, resp, cfg); err != nil {
			_ = ws.Close()
			ws = nil
		}
	}
	if err != nil {
		switch {
		case errors.As(err, new(*ProtocolError)):
		case resp != nil && err == websocket.ErrBadHandshake && resp.StatusCode == http.StatusSwitchingProtocols:
			err = badUpgrade(shown, resp)
		case resp != nil && err == websocket.ErrBadHandshake:
			err = handshakeError(shown, resp)
		case ctx.Err() != nil:
			err = fmt.Errorf("rxws: dial %s: %w", shown, ctx.Err())
		case deadlinePassed(ctx):
			// The socket's deadline is ctx's, and it can pass a moment
			// before ctx's own timer ends ctx: still ctx's doing.
			err = fmt.Errorf("rxws: dial %s: %w", shown, context.DeadlineExceeded)
		default:
			host := u.Hostname()
			if cfg.tlsConfig != nil && cfg.tlsConfig.ServerName != "" {
				host = cfg.tlsConfig.ServerName // what the certificate was checked against
			}
			err = dialError(shown, host, cfg.proxyHost(u), cfg.handshakeTimeout, err)
		}
		log.Warn("rxws: connect failed", "url", shown, "err", err.Error())
		return nil, nil, err
	}
	log.Info("rxws: connected", "url", shown, "compression", cfg.compression)
	ws.SetReadLimit(cfg.readLimit)
	c.mu.Lock()
	c.ws, c.url, c.cfg = ws, shown, cfg
	c.mu.Unlock()
	return ws, sd.sock, nil
}

func deadlinePassed(ctx context.Context) bool {
	d, ok := ctx.Deadline()
	return ok && !time.Now().Before(d)
}

// checkUpgrade fails a handshake in which the server turned on what the
// client did not offer (RFC 6455 §4.1): gorilla accepts a permessage-deflate
// the client never offered, and rxws's read limit would then count
// compressed bytes, so that a small frame could inflate without bound.
func checkUpgrade(shown string, resp *http.Response, cfg connectConfig) error {
	for _, v := range resp.Header.Values("Sec-Websocket-Extensions") {
		for _, ext := range strings.Split(v, ",") {
			name, _, _ := strings.Cut(ext, ";")
			name = strings.TrimSpace(name)
			if name == "" || name == "permessage-deflate" && cfg.compression {
				continue
			}
			if offeredInHeaders(cfg.headers, "Sec-WebSocket-Extensions", name) {
				// Offered by hand, which rxws cannot honour: its reader
				// would not inflate, nor bound what a message inflates to.
				return &ProtocolError{Err: fmt.Errorf("handshake with %s: the server turned on extension %q, offered through WithHeaders, which rxws does not support (WithCompression offers permessage-deflate)", shown, name)}
			}
			return &ProtocolError{Err: fmt.Errorf("handshake with %s: the server turned on extension %q, which was not offered", shown, name)}
		}
	}
	if got := resp.Header.Get("Sec-Websocket-Protocol"); got != "" && !offeredInHeaders(cfg.headers, "Sec-WebSocket-Protocol", got) {
		return &ProtocolError{Err: fmt.Errorf("handshake with %s: the server chose subprotocol %q, which was not offered", shown, got)}
	}
	return nil
}

// offeredInHeaders reports whether the caller's headers offer token (as
// subprotocols and extensions are named: exactly) under name.
func offeredInHeaders(h http.Header, name, token string) bool {
	return headerHas(h, name, func(t string) bool { return t == token })
}

// badUpgrade says what is wrong with a 101 answer that gorilla refused.
func badUpgrade(shown string, resp *http.Response) error {
	if resp.Body != nil {
		resp.Body.Close()
	}
	why := "its Sec-WebSocket-Accept does not match the key sent"
	switch {
	case !headerHasToken(resp.Header, "Upgrade", "websocket"):
		why = "it lacks Upgrade: websocket"
	case !headerHasToken(resp.Header, "Connection", "upgrade"):
		why = "it lacks Connection: Upgrade"
	}
	// It wraps gorilla's ErrBadHandshake still, as the HandshakeError that
	// rxws returned for it did.
	return &ProtocolError{Err: fmt.Errorf("handshake with %s: the server answered 101 Switching Protocols, but %s (%w)", shown, why, websocket.ErrBadHandshake)}
}

// headerHasToken reports whether header name includes token,
// case-insensitively, as RFC 6455 reads Upgrade and Connection.
func headerHasToken(h http.Header, name, token string) bool {
	return headerHas(h, name, func(t string) bool { return strings.EqualFold(t, token) })
}

// headerHas reports whether one of header name's comma-separated values
// (parameters after ";" aside) matches. Keys are compared without regard
// to case, as WithHeaders keeps the caller's spelling.
func headerHas(h http.Header, name string, match func(string) bool) bool {
	for k, vs := range h {
		if !strings.EqualFold(k, name) {
			continue
		}
		for _, v := range vs {
			for _, t := range strings.Split(v, ",") {
				t, _, _ = strings.Cut(t, ";")
				if match(strings.TrimSpace(t)) {
					return true
				}
			}
		}
	}
	return false
}

func handshakeError(shown string, resp *http.Response) error {
	const max = 512
	var body []byte
	if resp.Body != nil {
		body, _ = io.ReadAll(io.LimitReader(resp.Body, max))
		resp.Body.Close()
	}
	return &HandshakeError{URL: shown, StatusCode: resp.StatusCode, Status: resp.Status, Body: string(body)}
}

// close drops ws if it is the current connection and closes its socket.
func (c *Connection) close(ws *websocket.Conn) error {
	c.mu.Lock()
	if c.ws == ws {
		c.ws = nil
	}
	c.mu.Unlock()
	return ws.Close()
}

// write sends one data or control frame; only the writer calls it.
func write(ws *websocket.Conn, timeout time.Duration, mt int, data []byte) error {
	deadline := time.Now().Add(timeout)
	if mt == websocket.PingMessage || mt == websocket.CloseMessage || mt == websocket.PongMessage {
		return writeError(timeout, ws.WriteControl(mt, data, deadline))
	}
	if err := ws.SetWriteDeadline(deadline); err != nil {
		return err
	}
	return writeError(timeout, ws.WriteMessage(mt, data))
}
