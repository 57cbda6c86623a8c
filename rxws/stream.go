package rxws

import (
	"context"
	"fmt"
	"io"
	"iter"

	"github.com/reactivex/rxgo/v2"
	"github.com/rxpype/rxpype/operators"
	"github.com/rxpype/rxpype/source"
)

// Policy says what a subscriber's full buffer does with a new message.
type Policy = source.Policy

const (
	// Block (the default) is lossless: when a subscriber's buffer is full
	// the reader waits for it, stops reading the socket, and TCP flow
	// control slows the server. One blocked subscriber holds back every
	// other subscriber of the connection. A message its full buffer held
	// back when the connection failed comes from the next connection's
	// reader, before anything newer; if the stream ends instead, it counts
	// as dropped.
	Block = source.Block
	// DropOldest discards the oldest buffered message to make room: the
	// subscriber always has the newest messages. It never slows the reader
	// or the other subscribers.
	DropOldest = source.DropOldest
	// DropNewest discards the new message: the subscriber keeps what it
	// has. It never slows the reader or the other subscribers.
	DropNewest = source.DropNewest
)

// StreamStats is one subscriber's counters: what it was delivered, what its
// policy dropped, what waits in its buffer.
type StreamStats = source.Stats

// Meter collects a subscriber's delivered and dropped counts and keeps them
// after the subscriber has left; see WithMeter.
type Meter = source.Meter

// StreamOption configures one subscriber of the incoming messages: its
// buffer, its overflow policy, its name and meter. The zero configuration is
// Block with a buffer of source.DefaultBuffer (256) messages. A nil
// StreamOption is ignored.
type StreamOption func(*source.Config)

// WithBuffer sets how many messages may wait for the subscriber; n == 0
// means source.DefaultBuffer. A negative n means no buffer: a message is
// handed over only when the subscriber is waiting for it (with a dropping
// policy, a message it is not waiting for is dropped).
func WithBuffer(n int) StreamOption { return func(c *source.Config) { c.Buffer = n } }

// WithOverflow sets what a full buffer does with a new message.
func WithOverflow(p Policy) StreamOption { return func(c *source.Config) { c.Policy = p } }

// WithName labels the subscriber in Manager.Stats.
func WithName(name string) StreamOption { return func(c *source.Config) { c.Name = name } }

// WithMeter adds the subscriber's delivered and dropped counts to m, which
// keeps them after the subscriber has left (Stats lists only subscribers
// attached now). A Meter given to several subscribers, or to an Observable
// observed more than once, sums their counts.
func WithMeter(m *Meter) StreamOption { return func(c *source.Config) { c.Meter = m } }

func streamConfig(opts []StreamOption) source.Config {
	var c source.Config
	for _, o := range opts {
		if o != nil {
			o(&c)
		}
	}
	c.Once = false
	return c
}

// MessagesWith is Messages with a configured subscriber: every Observe
// attaches a new subscriber with opts's buffer size and overflow policy.
// MessagesWith(nil) is Messages(); rxopts apply to every Observe, as if
// given to it.
//
// An observer costs no goroutine: the channel it reads is its subscriber's
// buffer, which the reader fills (rxgo.WithBufferedChannel does not apply
// to it; WithBuffer sets its size). Every rxgo operator chained after it
// adds its own goroutine and channel.
//
// To leave, cancel a context: the subscriber's buffer is released and its
// channel closed at once. Give rxgo.WithContext to the last operator or to
// Observe, from where rxgo passes it upstream into every operator and the
// subscriber; a context given only here stops the subscriber but not the
// operators after it. An observer that stops reading without cancelling
// (Take, or an error with rxgo's default StopOnError, stop reading their
// upstream) keeps its subscription, and with Block it holds the reader.
// So does every observer that rxgo's Retry, OnErrorResumeNext or Repeat
// replaces: they observe their upstream again and leave the old observer
// attached and unread. A post-processor's error item does not end the
// stream, so there is nothing to retry: to go on past it, give the
// operators rxgo.WithErrorStrategy(rxgo.ContinueOnError) instead.
//
// With N subscribers of buffer B the connection holds at most about N×B
// messages, plus what rxgo channels buffered with rxgo.WithBufferedChannel
// after it hold, whatever the server sends.
func (m *Manager) MessagesWith(opts []StreamOption, rxopts ...rxgo.Option) rxgo.Observable {
	return source.Items(m.stream(), streamConfig(opts), rxopts...)
}

// IterMessagesWith is IterMessages with a configured subscriber (buffer
// size, overflow policy, name, meter). It starts no goroutine: messages are
// taken from the buffer in the caller's goroutine. Stopping the iteration
// or ending ctx releases the subscriber at once, with the messages still in
// its buffer: they were handed to it, so a Receive after the loop gets the
// message after them.
//
// Do not call Receive from inside the loop (nor from a Messages observer's
// goroutine): Receive does not take from this subscriber, so it skips what
// the loop has buffered, and once that buffer is full (Block) the reader
// waits for the loop while the loop waits in Receive for the reader, until
// Receive's ctx ends.
func (m *Manager) IterMessagesWith(ctx context.Context, opts ...StreamOption) iter.Seq2[*Response, error] {
	cfg := streamConfig(opts)
	return func(yield func(*Response, error) bool) {
		sub := m.stream().Subscribe(cfg)
		defer sub.Close()
		for {
			if err := ctx.Err(); err != nil {
				// Next hands out what is buffered before it looks at ctx:
				// a feed that keeps the buffer full would never end the loop.
				yield(nil, err)
				return
			}
			it, err := sub.Next(ctx)
			switch {
			case err == io.EOF:
				return
			case err != nil:
				yield(nil, err)
				return
			case it.E != nil:
				if !yield(nil, it.E) {
					return
				}
			default:
				if !yield(it.V.(*Response), nil) {
					return
				}
			}
		}
	}
}

// Stats returns a snapshot of the counters of every subscriber attached now
// to the stream of the current (or next) connection, in the order they
// joined: observers of Messages and MessagesWith, iterations of IterMessages
// and IterMessagesWith, and Receive calls waiting for the reader to hand
// them a message (not one reading the frame itself, in pull mode). A
// subscriber that has left is not listed; use WithMeter to keep its counts.
func (m *Manager) Stats() []StreamStats {
	return m.stream().Stats()
}

// DecodeJSON decodes the *Response items of in (Messages, MessagesWith, or
// an operator after them) as JSON into a new T each, and emits *T: a
// pointer, so that handing it through further rxgo operators does not copy
// the struct. A message that fails to decode becomes an error item, a
// *operators.DecodeError wrapping Response.Decode's error, and the stream
// goes on; error items from upstream pass through. For a decoder that stops
// at the first failure, set StopOnError on JSONDecoder[T]().
//
// opts apply to the decode stage and flow upstream like rxgo operators'
// options: give rxgo.WithContext here or to Observe, and cancel it.
func DecodeJSON[T any](in rxgo.Observable, opts ...rxgo.Option) rxgo.Observable {
	return JSONDecoder[T]().Observable(in, opts...)
}

// JSONDecoder returns the decoder DecodeJSON uses: Response.Decode into a
// new T. An item that is not a *Response is a decode error.
func JSONDecoder[T any]() operators.Decoder[*T] {
	return operators.Decoder[*T]{Decode: decodeJSON[T]}
}

func decodeJSON[T any](v any) (*T, error) {
	r, ok := v.(*Response)
	if !ok {
		return nil, fmt.Errorf("rxws: DecodeJSON got %T, want *rxws.Response", v)
	}
	out := new(T)
	if err := r.Decode(out); err != nil {
		return nil, err
	}
	return out, nil
}
