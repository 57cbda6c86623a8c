package rxws

import (
	"context"
	"errors"
	"net"
	"sync"
	"time"

	"github.com/rxpype/rxpype/clock"
)

// socket is the TCP connection under a WebSocket (under TLS too, for wss),
// which notes the clock's time whenever a read brings in bytes.
//
// A message's Received time is taken from it rather than from the clock
// once per message: gorilla reads the socket through a buffer, so one read
// brings in many small messages, and on a fast feed reading the clock for
// each cost 5-10 % of the whole read path. The time is also the truer one:
// when the bytes came off the socket, not when the reader got round to
// them. Wrapping the connection costs writes nothing: gorilla writes a
// client's frames with plain Write calls (it uses writev only as a server).
type socket struct {
	net.Conn
	clock clock.Clock
	// readAt is the clock's time of the last read that returned bytes.
	// Only the holder of the session's read token reads the socket, and
	// reads readAt after it, so it needs no lock.
	readAt time.Time
	// limit, while above 0, is how many more bytes the opening handshake
	// may read (TLS's included): a server sending headers without end would
	// otherwise have the client buffer them until the handshake timeout.
	// The dial sets it to 0 once the handshake is over.
	limit int
}

// maxHandshake bounds what the opening handshake reads: TLS with a long
// certificate chain, the response and its headers.
const maxHandshake = 1 << 20

// errHandshakeTooLong fails a handshake that read more than maxHandshake.
var errHandshakeTooLong = errors.New("the server's handshake is over 1 MiB")

func (s *socket) Read(p []byte) (int, error) {
	if s.limit > 0 && len(p) > s.limit {
		p = p[:s.limit]
	} else if s.limit < 0 {
		return 0, errHandshakeTooLong
	}
	n, err := s.Conn.Read(p)
	if n > 0 {
		s.readAt = s.clock.Now()
		if s.limit > 0 {
			if s.limit -= n; s.limit == 0 {
				s.limit = -1 // spent: the next read fails
			}
		}
	}
	return n, err
}

// socketDialer dials TCP as gorilla's default dialer does and keeps the
// socket it made, so that the session can read its readAt.
type socketDialer struct {
	clock clock.Clock

	mu      sync.Mutex
	sock    *socket
	aborted bool
}

func (d *socketDialer) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	var nd net.Dialer
	c, err := nd.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.aborted { // a deadline set now would be replaced by gorilla's
		_ = c.Close()
		return nil, context.Canceled
	}
	d.sock = &socket{Conn: c, clock: d.clock, limit: maxHandshake}
	return d.sock, nil
}

// abort makes the handshake's reads and writes on the socket fail at once.
// gorilla's dial ends at its context's deadline but not when the context is
// cancelled, so Connect calls abort then.
func (d *socketDialer) abort() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.aborted = true
	if d.sock != nil {
		_ = d.sock.SetDeadline(longAgo)
	}
}

// longAgo is a deadline in the past: I/O with it fails at once.
var longAgo = time.Unix(1, 0)
