package rxws

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/gorilla/websocket"
)

var (
	// ErrNotConnected is returned by calls that need a live connection when
	// the manager has none: before Connect, after Disconnect, or once the
	// connection was lost.
	ErrNotConnected = errors.New("rxws: not connected")
	// ErrAlreadyConnected is returned by Connect on a manager that is
	// connected, connecting, or reconnecting after a loss.
	ErrAlreadyConnected = errors.New("rxws: already connected")
	// ErrDisconnected is wrapped by the error of a Connect that Disconnect
	// (or Factory.Close) called meanwhile ended before it was done: the
	// manager stays disconnected.
	ErrDisconnected = errors.New("rxws: disconnected while connecting")
	// ErrPingTimeout ends a connection whose peer sent nothing, not even a
	// pong, within the ping timeout of a ping.
	ErrPingTimeout = errors.New("rxws: ping timeout")
	// ErrMessageTimeout ends a connection that carried no data frame for the
	// message timeout.
	ErrMessageTimeout = errors.New("rxws: message timeout")
	// ErrClosed matches every *CloseError: the connection ended, by a close
	// frame or because it broke.
	ErrClosed = errors.New("rxws: connection closed")
	// ErrBadURL is wrapped by Connect's error for a URL that cannot be
	// parsed, is not ws:// or wss://, has no host, or carries a user and
	// password (gorilla would not send them; use WithHeaders).
	ErrBadURL = errors.New("rxws: bad URL")
	// ErrNoAuth fails a send with AuthRequired on a manager without an Auth.
	ErrNoAuth = errors.New("rxws: request requires auth and the manager has no Auth")
	// ErrFactoryClosed is returned by Factory.WSManager after Close, and by
	// the Connect of a Manager the closed Factory made.
	ErrFactoryClosed = errors.New("rxws: factory closed")
)

// CloseError says how a connection ended: the close code and reason the peer
// sent, or 1006 (abnormal closure) with the read error when it broke without
// a close frame. errors.Is(err, ErrClosed) holds for every CloseError.
type CloseError struct {
	URL    string // the server, without query or credentials
	Code   int    // RFC 6455 close code
	Reason string // the peer's reason text, if any
	Err    error  // the underlying error, if the connection broke
}

// Error names the server, the close code and, when there is one, the
// reason or the underlying error.
func (e *CloseError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "rxws: connection to %s closed with code %d", e.URL, e.Code)
	if name := closeCodeName(e.Code); name != "" {
		fmt.Fprintf(&b, " (%s)", name)
	}
	if e.Reason != "" {
		fmt.Fprintf(&b, ": %q", e.Reason)
	}
	if e.Err != nil {
		fmt.Fprintf(&b, ": %v", e.Err)
	}
	return b.String()
}

// Is makes errors.Is(err, ErrClosed) true.
func (e *CloseError) Is(target error) bool { return target == ErrClosed }

// Unwrap returns the read error behind an abnormal closure.
func (e *CloseError) Unwrap() error { return e.Err }

func closeCodeName(code int) string {
	switch code {
	case websocket.CloseNormalClosure:
		return "normal closure"
	case websocket.CloseGoingAway:
		return "going away"
	case websocket.CloseProtocolError:
		return "protocol error"
	case websocket.CloseUnsupportedData:
		return "unsupported data"
	case websocket.CloseNoStatusReceived:
		return "no status"
	case websocket.CloseAbnormalClosure:
		return "abnormal closure"
	case websocket.CloseInvalidFramePayloadData:
		return "invalid payload"
	case websocket.ClosePolicyViolation:
		return "policy violation"
	case websocket.CloseMessageTooBig:
		return "message too big"
	case websocket.CloseMandatoryExtension:
		return "mandatory extension"
	case websocket.CloseInternalServerErr:
		return "internal server error"
	case websocket.CloseServiceRestart:
		return "service restart"
	case websocket.CloseTryAgainLater:
		return "try again later"
	case websocket.CloseTLSHandshake:
		return "TLS handshake"
	}
	return ""
}

// HandshakeError is returned by Connect when the server answered the opening
// handshake with something other than 101 Switching Protocols.
type HandshakeError struct {
	URL        string // the server, without query or credentials
	StatusCode int    // the HTTP status, such as 401
	Status     string // the HTTP status line text, such as "401 Unauthorized"
	Body       string // the first bytes of the response body
}

// Error names the server, the HTTP status and the start of the body.
func (e *HandshakeError) Error() string {
	msg := fmt.Sprintf("rxws: handshake with %s refused: HTTP %s", e.URL, e.Status)
	if e.Body != "" {
		msg += fmt.Sprintf(": %q", e.Body)
	}
	return msg
}

// Unwrap returns websocket.ErrBadHandshake, gorilla's error for the case.
func (e *HandshakeError) Unwrap() error { return websocket.ErrBadHandshake }

// redactURL renders u without credentials, query or fragment, which may
// carry keys. An opaque URL ("ws:user:key@host") is not shown at all.
func redactURL(u *url.URL) string {
	c := *u
	c.User = nil
	c.Fragment, c.RawFragment = "", ""
	if c.Opaque != "" {
		c.Opaque = "…"
	}
	if c.RawQuery != "" || c.ForceQuery {
		c.RawQuery = ""
		c.ForceQuery = false
		return c.String() + "?…"
	}
	return c.String()
}

// redactRaw does what redactURL does for text that did not parse.
func redactRaw(s string) string {
	// Userinfo first: a password may hold "?" or "#".
	if at := strings.LastIndex(s, "@"); at >= 0 {
		if start := strings.Index(s, "//"); start >= 0 && start < at {
			s = s[:start+2] + "…@" + s[at+1:]
		} else if colon := strings.Index(s, ":"); colon >= 0 && colon < at {
			// No "//" (wss:user:pass@host): whatever follows the scheme up
			// to the @ may be userinfo.
			s = s[:colon+1] + "…@" + s[at+1:]
		}
	}
	if i := strings.IndexAny(s, "?#"); i >= 0 {
		s = s[:i] + "?…"
	}
	return s
}
