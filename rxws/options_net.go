package rxws

import (
	"net/http"
	"net/url"
	"strings"
)

// WithProxy dials through the HTTP proxy at u (an http:// URL; user and
// password in it are sent as Proxy-Authorization, but a user without a
// password is not, as gorilla/websocket does it), with a CONNECT tunnel for
// both ws:// and wss://. A nil u dials directly, ignoring the environment.
// Without this option the proxy comes from HTTPS_PROXY, HTTP_PROXY and
// NO_PROXY as http.ProxyFromEnvironment reads them (which never proxies
// localhost or 127.0.0.1).
func WithProxy(u *url.URL) ConnectOption {
	return func(c *connectConfig) {
		if u == nil {
			c.proxy = func(*http.Request) (*url.URL, error) { return nil, nil }
			return
		}
		p := *u
		c.proxy = http.ProxyURL(&p)
	}
}

// WithCompression offers permessage-deflate (RFC 7692) in the handshake;
// if the server accepts, messages are compressed both ways. It is off by
// default: compression costs CPU on every frame and pays only on large,
// repetitive payloads. The read limit still holds for the decompressed
// message, so a small compressed frame cannot inflate past it.
func WithCompression() ConnectOption {
	return func(c *connectConfig) { c.compression = true }
}

// proxyHost is the host of the proxy a dial of u goes through, "" if none:
// the dialer's choice, asked again (gorilla asks it with the scheme made
// http or https).
func (c *connectConfig) proxyHost(u *url.URL) string {
	pu := *u
	pu.Scheme = strings.Replace(pu.Scheme, "ws", "http", 1)
	p, err := c.proxyFunc()(&http.Request{URL: &pu})
	if err != nil || p == nil {
		return ""
	}
	return p.Host // without its userinfo
}

// proxyFunc is the dialer's Proxy for c.
func (c *connectConfig) proxyFunc() func(*http.Request) (*url.URL, error) {
	if c.proxy != nil {
		return c.proxy
	}
	return http.ProxyFromEnvironment
}
