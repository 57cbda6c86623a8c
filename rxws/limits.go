package rxws

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"

	"github.com/gorilla/websocket"
)

// Errors of a hostile or broken peer. Each is matched with errors.Is; the
// typed errors below carry the details.
var (
	// ErrMessageTooBig matches a *MessageTooBigError: the peer sent a
	// message larger than the read limit (WithReadLimit).
	ErrMessageTooBig = errors.New("rxws: message too big")
	// ErrWriteTimeout matches a *TimeoutError from a frame write that did
	// not finish within the write timeout (WithWriteTimeout), typically
	// because the peer stopped reading.
	ErrWriteTimeout = errors.New("rxws: write timeout")
	// ErrHandshakeTimeout matches a *TimeoutError from an opening handshake
	// that did not finish within the handshake timeout (WithHandshakeTimeout).
	ErrHandshakeTimeout = errors.New("rxws: handshake timeout")
	// ErrProtocol matches a *ProtocolError: the peer broke RFC 6455, for
	// example with a close frame carrying a reserved code.
	ErrProtocol = errors.New("rxws: protocol error")
)

// MessageTooBigError ends a connection whose peer sent a message larger
// than the read limit. The connection is closed with code 1009 before the
// payload is read, so a hostile peer cannot make the client buffer it; for
// the same reason its size is not known (gorilla stops at the frame header
// and does not report the length). It is found with errors.As, and
// errors.Is(err, ErrMessageTooBig) holds; the connection's *CloseError
// (code 1009) wraps it.
type MessageTooBigError struct {
	Limit int64 // the read limit in bytes that the message exceeded
}

// Error names the limit.
func (e *MessageTooBigError) Error() string {
	return fmt.Sprintf("rxws: message exceeds the read limit of %d bytes", e.Limit)
}

// Is makes errors.Is(err, ErrMessageTooBig) true.
func (e *MessageTooBigError) Is(target error) bool { return target == ErrMessageTooBig }

// Unwrap returns websocket.ErrReadLimit, gorilla's error for the case.
func (e *MessageTooBigError) Unwrap() error { return websocket.ErrReadLimit }

// TimeoutError reports a wire deadline that passed: the opening handshake
// (Op "handshake", matching ErrHandshakeTimeout) or a frame write (Op
// "write", matching ErrWriteTimeout). errors.Is(err, os.ErrDeadlineExceeded)
// holds too, and Timeout reports true, as for net.Error, so code written for
// net timeouts keeps working. It is not a context error: the caller's
// context did not end.
type TimeoutError struct {
	Op    string        // "handshake" or "write"
	URL   string        // the server, without query or credentials; may be empty for writes
	After time.Duration // the timeout that passed
	Err   error         // the network error, if any
}

// Error names the operation, the server and the timeout.
func (e *TimeoutError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "rxws: %s", e.Op)
	if e.URL != "" {
		fmt.Fprintf(&b, " with %s", e.URL)
	}
	fmt.Fprintf(&b, " timed out after %v", e.After)
	if e.Err != nil {
		fmt.Fprintf(&b, ": %v", e.Err)
	}
	return b.String()
}

// Is matches ErrHandshakeTimeout or ErrWriteTimeout (by Op) and
// os.ErrDeadlineExceeded.
func (e *TimeoutError) Is(target error) bool {
	switch target {
	case os.ErrDeadlineExceeded:
		return true
	case ErrHandshakeTimeout:
		return e.Op == "handshake"
	case ErrWriteTimeout:
		return e.Op == "write"
	}
	return false
}

// Unwrap returns the network error.
func (e *TimeoutError) Unwrap() error { return e.Err }

// Timeout reports true, as net.Error's Timeout does.
func (e *TimeoutError) Timeout() bool { return true }

// Temporary reports true, as net's timeouts do; with Timeout it makes a
// TimeoutError a net.Error.
func (e *TimeoutError) Temporary() bool { return true }

// ProtocolError ends a connection whose peer broke RFC 6455: a close frame
// with a reserved or unassigned code (such as 1004, 1005, 1006, 1015, 999 or
// 5000), reserved bits set, an unknown opcode, a fragmented control frame.
// The client answers with a close frame 1002 and the connection's
// *CloseError (code 1002) wraps this error. Connect returns it alone for a
// handshake that breaks the protocol: a 101 answer that is not an upgrade,
// or one that turns on an extension or a subprotocol the client did not
// offer. errors.Is(err, ErrProtocol) holds.
type ProtocolError struct {
	Err error // gorilla's description of the violation
}

// Error gives gorilla's description of the violation.
func (e *ProtocolError) Error() string {
	return "rxws: peer broke the WebSocket protocol: " + strings.TrimPrefix(e.Err.Error(), "websocket: ")
}

// Is makes errors.Is(err, ErrProtocol) true.
func (e *ProtocolError) Is(target error) bool { return target == ErrProtocol }

// Unwrap returns gorilla's error.
func (e *ProtocolError) Unwrap() error { return e.Err }

// msgReader is websocket.Conn.ReadMessage without an allocation per
// message: it reads into a reused scratch buffer and hands out exact-size
// slices of shared 16 KiB slabs. A Response kept long pins its slab (the
// messages read around it); a message over a quarter slab gets its own
// allocation.
//
// With compression on it also applies the read limit to the message as
// delivered: gorilla's limit counts compressed bytes, so a small frame could
// inflate to gigabytes (a "zip bomb"). Without compression the two are the
// same and gorilla's own check fires first, at the frame header.
type msgReader struct {
	limit   int64
	inflate bool // compression negotiated: count the limit here too
	lr      io.LimitedReader
	scratch []byte
	slab    []byte
}

const (
	slabSize   = 16 << 10
	maxScratch = 64 << 10 // a bigger scratch buffer is dropped after use
)

func (mr *msgReader) read(ws *websocket.Conn) (int, []byte, error) {
	mt, r, err := ws.NextReader()
	if err != nil {
		return mt, nil, err
	}
	if mr.inflate && mr.limit > 0 {
		mr.lr = io.LimitedReader{R: r, N: mr.limit + 1}
		r = &mr.lr
	}
	buf := mr.scratch[:0]
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			return mt, nil, err
		}
	}
	if cap(buf) <= maxScratch {
		mr.scratch = buf[:0]
	} else {
		mr.scratch = nil
	}
	if mr.inflate && mr.limit > 0 && int64(len(buf)) > mr.limit {
		// Tell the peer why, as gorilla does for a frame over the limit.
		_ = ws.WriteControl(websocket.CloseMessage,
			websocket.FormatCloseMessage(websocket.CloseMessageTooBig, ""), time.Now().Add(closeWait))
		return mt, nil, websocket.ErrReadLimit
	}
	n := len(buf)
	if n > slabSize/4 {
		return mt, append([]byte(nil), buf...), nil
	}
	if len(mr.slab)+n > cap(mr.slab) {
		mr.slab = make([]byte, 0, slabSize)
	}
	start := len(mr.slab)
	mr.slab = append(mr.slab, buf...)
	return mt, mr.slab[start:len(mr.slab):len(mr.slab)], nil
}

// readError turns the error that ended a read into the typed error the
// connection's observers see. Errors it does not know pass unchanged (and
// classify makes them an abnormal closure).
func readError(url string, limit int64, err error) error {
	var wce *websocket.CloseError
	switch {
	case errors.Is(err, websocket.ErrReadLimit):
		return &CloseError{URL: url, Code: websocket.CloseMessageTooBig, Err: &MessageTooBigError{Limit: limit}}
	case errors.As(err, &wce):
		if wce.Code == websocket.CloseAbnormalClosure {
			// 1006 never travels on the wire (gorilla rejects it): this is
			// gorilla's own report of a peer that vanished mid-frame.
			return &CloseError{URL: url, Code: websocket.CloseAbnormalClosure, Err: io.ErrUnexpectedEOF}
		}
	case isProtocolError(err):
		return &CloseError{URL: url, Code: websocket.CloseProtocolError, Err: &ProtocolError{Err: err}}
	}
	return err
}

// isProtocolError recognises gorilla's protocol violations. gorilla v1.5.3
// reports them as plain errors.New("websocket: " + what) after it has sent
// close 1002 (Conn.handleProtocolError), so they are known by exclusion: not
// a network error, not a close, not one of gorilla's exported errors, and
// prefixed "websocket: ". TestReservedCloseCodes pins this on upgrades.
func isProtocolError(err error) bool {
	var ne net.Error
	var wce *websocket.CloseError
	switch {
	case errors.As(err, &ne), errors.As(err, &wce),
		errors.Is(err, websocket.ErrCloseSent), errors.Is(err, websocket.ErrBadHandshake),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, net.ErrClosed), errors.Is(err, context.Canceled):
		return false
	}
	return strings.HasPrefix(err.Error(), "websocket: ")
}

// writeError types a failed frame write. gorilla replaces a net timeout
// with its own error value (hideTempErr), which loses
// os.ErrDeadlineExceeded, so the timeout is recognised by its Timeout method.
func writeError(timeout time.Duration, err error) error {
	var ne interface{ Timeout() bool }
	if errors.As(err, &ne) && ne.Timeout() {
		return &TimeoutError{Op: "write", After: timeout, Err: err}
	}
	return err
}

// notContextError is err without its identity as a context error. The
// caller's ctx has been checked before: a deadline error here is gorilla's
// handshake timeout (crypto/tls reports gorilla's own dial context's error,
// and net's dial timeout matches context.DeadlineExceeded too), and
// errors.Is(err, context.DeadlineExceeded) must not make it pass for the
// caller's. errors.As still finds what err holds (a *net.OpError).
func notContextError(err error) error {
	switch {
	case err == context.DeadlineExceeded:
		return nil // TimeoutError's own text says it all
	case errors.Is(err, context.DeadlineExceeded):
		return hiddenDeadline{err}
	}
	return err
}

// hiddenDeadline has err's text and errors.As targets, but no Unwrap, so
// errors.Is does not reach the context.DeadlineExceeded inside it.
type hiddenDeadline struct{ err error }

func (h hiddenDeadline) Error() string      { return h.err.Error() }
func (h hiddenDeadline) As(target any) bool { return errors.As(h.err, target) }

// dialError types a failed dial that the caller's context did not cause.
// via is the proxy's host, if the dial went through one: its refusal reads
// as a bare status text ("Forbidden"), which would otherwise be taken for
// the server's.
func dialError(shown, host, via string, timeout time.Duration, err error) error {
	var ne interface{ Timeout() bool }
	switch {
	case errors.As(err, &ne) && ne.Timeout(), errors.Is(err, context.DeadlineExceeded):
		return &TimeoutError{Op: "handshake", URL: shown, After: timeout, Err: notContextError(err)}
	case isCertificateError(err):
		return &CertificateError{URL: shown, Host: host, Err: err}
	case via != "":
		return fmt.Errorf("rxws: dial %s via proxy %s: %w", shown, via, err)
	}
	return fmt.Errorf("rxws: dial %s: %w", shown, err)
}
