// Command wsstream connects to a WebSocket feed with an rxws.Manager and
// prints every message it receives, one per line, for reading or piping
// into jq, grep or a file.
//
//	go run ./examples/wsstream -url URL [-subscribe JSON]... [-header K:V]...
//	    [-count N] [-ping D] [-reconnect] [-compress] [-binary base64|hex]
//
// For example:
//
//	go run ./examples/wsstream -url wss://stream.binance.com:9443/ws \
//	    -subscribe '{"method":"SUBSCRIBE","params":["btcusdt@trade"],"id":1}' -count 5
//
// Flags:
//
//	-url URL         the server, ws:// or wss:// (required)
//	-subscribe JSON  a subscription request, sent as a text frame after
//	                 connecting; repeat for more, sent in order. They go
//	                 through Manager.Subscribe, so -reconnect sends them again
//	                 on every new connection.
//	-header K:V      a header of the handshake request; repeat for more
//	-count N         exit after N messages (0, the default: no limit)
//	-ping D          send a ping every D (such as 15s); a peer silent for 10 s
//	                 after a ping is declared dead (0, the default: no pings)
//	-reconnect       after a lost connection, dial again with exponential
//	                 backoff (500 ms up to 30 s, jittered) for ever; the first
//	                 connection must succeed
//	-compress        offer permessage-deflate compression
//	-binary FORMAT   how binary messages are printed: base64 (the default) or hex
//
// Output: stdout has the messages only, one line each. A text message that
// holds JSON is printed as compact JSON (whitespace removed; keys, their order
// and every digit of numbers kept). Other text is printed as is, unless it
// holds a line break: then it is printed as a JSON string, so that one line is
// always one message. A binary message is printed as standard padded base64,
// or lowercase hex with -binary hex. Connection state changes and errors go
// to stderr, prefixed with "wsstream: ".
//
// Exit status: 0 after -count messages, when the reader of stdout goes away
// (wsstream ... | head), or when the server closes the connection normally
// (code 1000; with -reconnect it dials again instead); 1 when connecting
// fails (refused handshake, network error), the server closes with any
// other code, the connection breaks, a subscription cannot be sent, or
// stdout cannot be written; 2 for bad flags or a bad URL; 130 when
// interrupted (SIGINT or SIGTERM). Every exit after connecting closes the
// connection with a normal close frame first.
package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/reactivex/rxgo/v2"
	"github.com/rxpype/rxpype/rxws"
)

// Exit statuses.
const (
	exitOK          = 0
	exitFailure     = 1
	exitUsage       = 2
	exitInterrupted = 130
)

// disconnectTimeout bounds the close handshake when wsstream ends the connection.
const disconnectTimeout = 5 * time.Second

// stateDrainTimeout bounds the wait for the last state change to be printed.
// A variable so that a test can make it too long to be the reason a run ends.
var stateDrainTimeout = 2 * time.Second

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// Asked for, SIGPIPE no longer kills the process when the reader of
	// stdout goes away (wsstream | head): the write fails with EPIPE, and
	// run closes the connection properly.
	signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// options are the parsed flags.
type options struct {
	url       string
	subscribe []json.RawMessage
	header    http.Header
	count     int
	ping      time.Duration
	reconnect bool
	compress  bool
	formatBin func([]byte) string
}

// listFlag collects a repeated flag's values.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ", ") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// parse reads args into options. It returns flag.ErrHelp for -h.
func parse(args []string, stderr io.Writer) (options, error) {
	var (
		o             options
		subs, headers listFlag
		binary        string
		fs            = flag.NewFlagSet("wsstream", flag.ContinueOnError)
	)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: wsstream -url URL [-subscribe JSON]... [-header K:V]... [-count N] [-ping D] [-reconnect] [-compress] [-binary base64|hex]")
		fmt.Fprintln(fs.Output(), "Prints each message received as one line on stdout; states and errors go to stderr.")
		fs.PrintDefaults()
	}
	fs.StringVar(&o.url, "url", "", "the server's `URL`, ws:// or wss:// (required)")
	fs.Var(&subs, "subscribe", "a subscription request as `JSON`, sent after connecting (and after each reconnect); repeatable")
	fs.Var(&headers, "header", "a handshake header as `K:V`; repeatable")
	fs.IntVar(&o.count, "count", 0, "exit after `N` messages; 0 means no limit")
	fs.DurationVar(&o.ping, "ping", 0, "send a ping every `D`; 0 means none")
	fs.BoolVar(&o.reconnect, "reconnect", false, "reconnect with backoff after a lost connection")
	fs.BoolVar(&o.compress, "compress", false, "offer permessage-deflate compression")
	fs.StringVar(&binary, "binary", "base64", "print binary messages in `format` base64 or hex")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return o, err
		}
		return o, errFlags // fs has printed the error and the usage
	}
	switch {
	case fs.NArg() > 0:
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	case o.url == "":
		return o, fmt.Errorf("-url is required")
	case o.count < 0:
		return o, fmt.Errorf("-count must be 0 or more, not %d", o.count)
	case o.ping < 0:
		return o, fmt.Errorf("-ping must be 0 or more, not %v", o.ping)
	}
	switch binary {
	case "base64":
		o.formatBin = base64.StdEncoding.EncodeToString
	case "hex":
		o.formatBin = hex.EncodeToString
	default:
		return o, fmt.Errorf("-binary must be base64 or hex, not %q", binary)
	}
	for _, s := range subs {
		if !json.Valid([]byte(s)) {
			return o, fmt.Errorf("-subscribe %q is not valid JSON", s)
		}
		var buf bytes.Buffer
		_ = json.Compact(&buf, []byte(s))
		o.subscribe = append(o.subscribe, json.RawMessage(buf.Bytes()))
	}
	o.header = http.Header{}
	for _, h := range headers {
		k, v, ok := strings.Cut(h, ":")
		if k = strings.TrimSpace(k); !ok || k == "" {
			return o, fmt.Errorf("-header %q is not K:V", h)
		}
		o.header.Add(k, strings.TrimSpace(v))
	}
	return o, nil
}

// lockedWriter serializes writes from the message loop and the state printer.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// errFlags is a flag the flag package rejected; it has printed why.
var errFlags = errors.New("bad flags")

// run is the program: it parses args, streams until done and returns the
// exit status. Cancelling ctx interrupts it.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	stderr = &lockedWriter{w: stderr}
	logf := func(format string, a ...any) { fmt.Fprintf(stderr, "wsstream: "+format+"\n", a...) }

	o, err := parse(args, stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.Is(err, errFlags):
		return exitUsage
	case err != nil:
		logf("%v (see -h)", err)
		return exitUsage
	}

	m := rxws.NewManager(nil)

	// State changes go to stderr until the stream is over. The summary
	// comes last, once the printer has caught up.
	stateCtx, stopStates := context.WithCancel(context.Background())
	defer stopStates()
	statesDone := make(chan struct{})
	states := m.States(rxgo.WithContext(stateCtx)).Observe()
	go func() {
		defer close(statesDone)
		for item := range states {
			st, ok := item.V.(rxws.State)
			if !ok {
				continue
			}
			if st.Kind == rxws.StateDisconnected {
				logf("disconnected") // why is in the summary
				return               // the last change: nothing reconnects after it
			}
			logf("%v", st)
		}
	}()

	code, summary, dialled := stream(ctx, m, o, stdout, logf)

	// A Connect that dialled ends in StateDisconnected; one refused before
	// dialling (a bad URL) emits no state at all, so there is none to wait for.
	if dialled {
		t := time.NewTimer(stateDrainTimeout)
		defer t.Stop()
		select {
		case <-statesDone:
		case <-t.C:
		}
	}
	stopStates()
	<-statesDone
	logf("%s", summary)
	return code
}

// stream connects m, subscribes and prints messages until the run is over.
// It returns the exit status, a one-line summary and whether Connect got as
// far as dialling.
func stream(ctx context.Context, m *rxws.Manager, o options, stdout io.Writer, logf func(string, ...any)) (code int, summary string, dialled bool) {
	// Observe before connecting: every message and the end of the stream
	// are seen, even from a server that closes at once.
	msgCtx, stopMsgs := context.WithCancel(ctx)
	defer stopMsgs()
	msgs := m.Messages().Observe(rxgo.WithContext(msgCtx))

	// disconnect closes normally (a no-op if the server has closed) and
	// waits until the observer has left.
	disconnect := func() {
		stopMsgs()
		dctx, cancel := context.WithTimeout(context.Background(), disconnectTimeout)
		defer cancel()
		if err := m.Disconnect(dctx); err != nil {
			logf("disconnect: %v", err)
		}
		for range msgs {
		}
	}

	copts := []rxws.ConnectOption{rxws.WithHeaders(o.header)}
	if o.ping > 0 {
		copts = append(copts, rxws.WithAutoPing(), rxws.WithPingInterval(o.ping))
	}
	if o.reconnect {
		copts = append(copts, rxws.WithReconnect(rxws.Backoff{}))
	}
	if o.compress {
		copts = append(copts, rxws.WithCompression())
	}
	if err := m.Connect(ctx, o.url, copts...); err != nil {
		disconnect()
		switch {
		case errors.Is(err, rxws.ErrBadURL):
			return exitUsage, fmt.Sprintf("bad -url: %v", err), false
		case ctx.Err() != nil:
			return exitInterrupted, "interrupted while connecting", true
		}
		return exitFailure, fmt.Sprintf("cannot connect: %v", err), true
	}

	for i, sub := range o.subscribe {
		if err := m.Subscribe(ctx, rxws.JSONRequest(sub)); err != nil {
			disconnect()
			if ctx.Err() != nil {
				return exitInterrupted, "interrupted while subscribing", true
			}
			return exitFailure, fmt.Sprintf("cannot send -subscribe #%d: %v", i+1, err), true
		}
	}

	n := 0
	var end error
	for item := range msgs {
		if item.E != nil {
			end = item.E // the error that ended the stream (there are no post-processors)
			continue
		}
		resp, ok := item.V.(*rxws.Response)
		if !ok {
			continue
		}
		if _, err := fmt.Fprintln(stdout, format(resp, o.formatBin)); err != nil {
			disconnect()
			if errors.Is(err, syscall.EPIPE) { // its reader has had enough, as with -count
				return exitOK, fmt.Sprintf("stdout closed after %d messages", n), true
			}
			return exitFailure, fmt.Sprintf("cannot write to stdout: %v", err), true
		}
		if n++; o.count > 0 && n == o.count {
			break
		}
	}
	interrupted := ctx.Err() != nil
	disconnect()

	switch {
	case o.count > 0 && n == o.count:
		return exitOK, fmt.Sprintf("done: %d messages", n), true
	case end != nil:
		return exitFailure, fmt.Sprintf("error after %d messages: %v", n, end), true
	case interrupted:
		return exitInterrupted, fmt.Sprintf("interrupted after %d messages", n), true
	}
	return exitOK, fmt.Sprintf("the server closed the connection normally after %d messages", n), true
}

// format renders one message as one line (without the newline).
func format(resp *rxws.Response, binary func([]byte) string) string {
	raw := resp.Bytes()
	if resp.Kind() == rxws.KindBinary {
		return binary(raw)
	}
	if json.Valid(raw) {
		var buf bytes.Buffer
		if json.Compact(&buf, raw) == nil {
			return buf.String()
		}
	}
	if bytes.ContainsAny(raw, "\r\n") {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		_ = enc.Encode(string(raw))
		return strings.TrimSuffix(buf.String(), "\n")
	}
	return string(raw)
}
