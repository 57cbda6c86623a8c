package rxws

import (
	"context"
	"errors"
	"log/slog"
)

// WithLogger sets the structured logger for connection events: dialling,
// connected, connect failures, the connection's end, and the one-time
// warning when TLS verification is off. The default is silent (a nil
// logger discards everything), since a library must not write to the
// caller's stderr uninvited.
//
// Log records name the server by its redacted URL (no query, no
// credentials) and never carry header values or payloads.
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

// discard is the logger used when none was set. (slog.DiscardHandler
// needs Go 1.24; go.mod says 1.23.)
var discard = slog.New(discardHandler{})

type discardHandler struct{}

func (discardHandler) Enabled(context.Context, slog.Level) bool  { return false }
func (discardHandler) Handle(context.Context, slog.Record) error { return nil }
func (d discardHandler) WithAttrs([]slog.Attr) slog.Handler      { return d }
func (d discardHandler) WithGroup(string) slog.Handler           { return d }

// logger returns the Connection's logger, or one that discards.
func (c *Connection) logger() *slog.Logger {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.log == nil {
		return discard
	}
	return c.log
}

// useLogger gives c the manager's logger unless c was made with its own.
func (c *Connection) useLogger(l *slog.Logger) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.log == nil {
		c.log = l
	}
}

// logEnd records how a connection ended and returns err unchanged, so that
// it can wrap the value handed to observers.
func (c *Connection) logEnd(shown string, err error) error {
	switch {
	case err == nil:
		c.logger().Info("rxws: disconnected", "url", shown)
	default:
		c.logger().Warn("rxws: connection lost", "url", shown, "err", err.Error(), "code", closeCode(err))
	}
	return err
}

// closeCode is the close code of err, or 0.
func closeCode(err error) int {
	var ce *CloseError
	if errors.As(err, &ce) {
		return ce.Code
	}
	return 0
}
