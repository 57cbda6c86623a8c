package testutil

import (
	"context"

	"github.com/gorilla/websocket"
)

// Echo writes back every data frame it receives, with the same message type,
// until the client goes away or a write fails.
func Echo(c *Conn) {
	for {
		f, err := c.Recv(context.Background())
		if err != nil {
			return
		}
		if err := c.Send(f.Type, f.Data); err != nil {
			return
		}
	}
}

// Hold keeps the connection open, doing nothing, until its read loop ends
// (the client closed, the connection broke, or the server closed). Tests drive
// such connections from outside through Server.Conn.
func Hold(c *Conn) {
	<-c.Done()
}

// Stream returns a Handler that writes each message as a text frame, in order,
// and then returns, so the server closes normally (code 1000). It stops early
// if a write fails.
func Stream(msgs [][]byte) Handler {
	return func(c *Conn) {
		for _, m := range msgs {
			if err := c.Send(websocket.TextMessage, m); err != nil {
				return
			}
		}
	}
}

// Script returns a Handler that runs steps in order and stops at the first one
// that fails, logging its error on the server's test. When it returns, the
// server closes the connection as for any Handler.
func Script(steps ...func(c *Conn) error) Handler {
	return func(c *Conn) {
		for i, step := range steps {
			if err := step(c); err != nil {
				c.srv.t.Logf("testutil: conn %d: script step %d: %v", c.index, i, err)
				return
			}
		}
	}
}
