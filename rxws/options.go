package rxws

import (
	"crypto/tls"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/rxpype/rxpype/clock"
)

// Option configures a Factory and the Managers it makes, or a Manager or
// Connection made by hand. Options given later win; a nil Option is
// ignored.
type Option func(*config)

type config struct {
	auth      Auth
	pre       []PreProcessor
	post      []PostProcessor
	clock     clock.Clock
	throttler *Throttler
	codec     Codec
	failFast  bool
	logger    *slog.Logger // WithLogger; nil is silent
}

func newConfig(opts []Option) config {
	var c config
	for _, o := range opts {
		if o != nil { // as NewThrottler's: a nil option is no option
			o(&c)
		}
	}
	c.clock = clock.OrReal(c.clock)
	return c
}

// WithAuth signs every request that has AuthRequired set. A nil Auth (or
// AuthFunc) means none: such requests fail with ErrNoAuth.
func WithAuth(a Auth) Option {
	return func(c *config) {
		if isNilProcessor(a) {
			a = nil
		}
		c.auth = a
	}
}

// WithPreProcessors appends pre-processors, which run in order on every
// request before auth. Nil ones (a nil PreProcessorFunc too) are skipped.
func WithPreProcessors(p ...PreProcessor) Option {
	return func(c *config) { c.pre = appendSome(c.pre, p) }
}

// WithPostProcessors appends post-processors, which run in order on every
// message received, inside the read loop. Nil ones (a nil
// PostProcessorFunc too) are skipped.
func WithPostProcessors(p ...PostProcessor) Option {
	return func(c *config) { c.post = appendSome(c.post, p) }
}

// appendSome appends the elements of add that are not nil to a copy of to,
// so that options applied to several managers share no array, and a nil
// processor is skipped here rather than met in a reader or writer goroutine.
func appendSome[T any](to, add []T) []T {
	out := to[:len(to):len(to)]
	for _, x := range add {
		if !isNilProcessor(x) {
			out = append(out, x)
		}
	}
	return out
}

// isNilProcessor reports whether p is nil, or one of the Func adapters
// holding a nil function, which is just as nil to call.
func isNilProcessor(p any) bool {
	switch f := p.(type) {
	case nil:
		return true
	case PreProcessorFunc:
		return f == nil
	case PostProcessorFunc:
		return f == nil
	case AuthFunc:
		return f == nil
	}
	return false
}

// WithClock sets the clock behind every timer and LastRecvTime. The default
// is the real clock; tests pass clock.NewMock().
func WithClock(cl clock.Clock) Option { return func(c *config) { c.clock = cl } }

// WithThrottler charges Request.LimitID on t before each frame is written.
// A Factory passes its throttler to every Manager it makes.
func WithThrottler(t *Throttler) Option { return func(c *config) { c.throttler = t } }

// ConnectOption configures one Connect. A nil ConnectOption is ignored.
type ConnectOption func(*connectConfig)

// Defaults for Connect. Wire deadlines (handshake, write) are wall-clock
// deadlines on the socket; every other timer reads the manager's Clock.
const (
	// DefaultPingTimeout is how long the peer may stay silent after a ping
	// (WithPingTimeout).
	DefaultPingTimeout = 10 * time.Second
	// DefaultHandshakeTimeout bounds the opening handshake
	// (WithHandshakeTimeout).
	DefaultHandshakeTimeout = 10 * time.Second
	// DefaultWriteTimeout bounds the write of one frame (WithWriteTimeout).
	DefaultWriteTimeout = 10 * time.Second
	// DefaultReadLimit is the largest message accepted, in bytes
	// (WithReadLimit): 16 MiB.
	DefaultReadLimit = 16 << 20
	// closeWait bounds how long Disconnect waits for the peer's close frame.
	closeWait = time.Second
)

type connectConfig struct {
	pingTimeout      time.Duration
	pingInterval     time.Duration
	autoPing         bool
	messageTimeout   time.Duration
	headers          http.Header
	tlsConfig        *tls.Config
	handshakeTimeout time.Duration
	writeTimeout     time.Duration
	readLimit        int64
	heartbeat        time.Duration
	heartbeatReq     Request
	heartbeatReply   func(*Response) bool
	reconnect        *Backoff
	proxy            func(*http.Request) (*url.URL, error) // WithProxy; nil means from the environment
	compression      bool                                  // WithCompression
}

func newConnectConfig(opts []ConnectOption) connectConfig {
	c := connectConfig{
		pingTimeout:      DefaultPingTimeout,
		handshakeTimeout: DefaultHandshakeTimeout,
		writeTimeout:     DefaultWriteTimeout,
		readLimit:        DefaultReadLimit,
	}
	for _, o := range opts {
		if o != nil {
			o(&c)
		}
	}
	// Zero or less means the default: a zero write timeout failed every
	// write at once, and a zero read limit lifted the limit altogether.
	if c.handshakeTimeout <= 0 {
		c.handshakeTimeout = DefaultHandshakeTimeout
	}
	if c.writeTimeout <= 0 {
		c.writeTimeout = DefaultWriteTimeout
	}
	if c.readLimit <= 0 {
		c.readLimit = DefaultReadLimit
	}
	if c.pingInterval <= 0 {
		c.pingInterval = c.pingTimeout / 2
	}
	if c.pingInterval <= 0 { // a ping timeout of zero or less: pings are not judged
		c.pingInterval = DefaultPingTimeout / 2
	}
	return c
}

// WithPingTimeout sets how long after a ping the peer may stay silent
// before the connection is declared dead with ErrPingTimeout. The default
// is DefaultPingTimeout; it applies to pings sent by WithAutoPing and Ping.
// Zero or less judges no ping (auto pings then go every
// DefaultPingTimeout/2, unless WithPingInterval says otherwise).
func WithPingTimeout(d time.Duration) ConnectOption {
	return func(c *connectConfig) { c.pingTimeout = d }
}

// WithAutoPing sends a ping frame every ping interval (by default half the
// ping timeout). Pings go out even while a send waits for the throttler or
// a heartbeat for its processors.
func WithAutoPing() ConnectOption { return func(c *connectConfig) { c.autoPing = true } }

// WithPingInterval sets the auto-ping interval and turns auto ping on; zero
// or less means the default, half the ping timeout.
func WithPingInterval(d time.Duration) ConnectOption {
	return func(c *connectConfig) { c.pingInterval = d; c.autoPing = true }
}

// WithMessageTimeout ends the connection with ErrMessageTimeout when no data
// frame arrives for d. Zero, the default, means no limit.
func WithMessageTimeout(d time.Duration) ConnectOption {
	return func(c *connectConfig) { c.messageTimeout = d }
}

// WithHeaders adds headers to the opening handshake; given more than once,
// it adds each set (values of one key are appended).
func WithHeaders(h http.Header) ConnectOption {
	return func(c *connectConfig) {
		if c.headers == nil {
			c.headers = make(http.Header, len(h))
		}
		for k, vs := range h {
			c.headers[k] = append(c.headers[k], vs...)
		}
	}
}

// WithTLSConfig sets the TLS configuration for wss:// URLs. Verification
// stays on unless cfg turns it off.
func WithTLSConfig(cfg *tls.Config) ConnectOption {
	return func(c *connectConfig) { c.tlsConfig = cfg.Clone() }
}

// WithHandshakeTimeout bounds the opening handshake (default
// DefaultHandshakeTimeout; zero or less means the default), in addition to
// Connect's context.
func WithHandshakeTimeout(d time.Duration) ConnectOption {
	return func(c *connectConfig) { c.handshakeTimeout = d }
}

// WithWriteTimeout bounds each frame write (default DefaultWriteTimeout;
// zero or less means the default), so that a peer that stops reading cannot
// hold Send forever.
func WithWriteTimeout(d time.Duration) ConnectOption {
	return func(c *connectConfig) { c.writeTimeout = d }
}

// WithReadLimit sets the largest message accepted, in bytes (default
// DefaultReadLimit; zero or less means the default, never no limit). A
// bigger one ends the connection.
func WithReadLimit(n int64) ConnectOption {
	return func(c *connectConfig) { c.readLimit = n }
}

// WithHeartbeat sends req through the normal send pipeline (pre-processors,
// auth, throttler) every interval, for servers that want an application-level
// ping such as {"op":"ping"} or the text "ping". Messages for which isReply
// returns true are taken out of the stream before the post-processors; a
// nil isReply keeps every message. Heartbeats are independent of WithAutoPing.
func WithHeartbeat(interval time.Duration, req Request, isReply func(*Response) bool) ConnectOption {
	return func(c *connectConfig) {
		c.heartbeat = interval
		c.heartbeatReq = req.clone()
		c.heartbeatReply = isReply
	}
}
