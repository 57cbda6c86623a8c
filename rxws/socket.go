package rxws

import (
	"context"
	"net"
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
}

func (s *socket) Read(p []byte) (int, error) {
	n, err := s.Conn.Read(p)
	if n > 0 {
		s.readAt = s.clock.Now()
	}
	return n, err
}

// socketDialer dials TCP as gorilla's default dialer does and keeps the
// socket it made, so that the session can read its readAt.
type socketDialer struct {
	clock clock.Clock
	sock  *socket
}

func (d *socketDialer) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	var nd net.Dialer
	c, err := nd.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	d.sock = &socket{Conn: c, clock: d.clock}
	return d.sock, nil
}
