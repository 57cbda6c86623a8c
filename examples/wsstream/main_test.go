package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/rxpype/rxpype/internal/testutil"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	if os.Getenv(runMainEnv) == "1" {
		main() // the test binary re-run as the program itself: see runProgram
		return
	}
	goleak.VerifyTestMain(m)
}

// runMainEnv makes the test binary run main, so that a test can check what
// only the real process does, such as its handling of signals.
const runMainEnv = "WSSTREAM_TEST_RUN_MAIN"

// runProgram starts wsstream as a process of its own (this test binary,
// running main) with args.
func runProgram(t *testing.T, ctx context.Context, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.CommandContext(ctx, os.Args[0], args...)
	cmd.Env = append(os.Environ(), runMainEnv+"=1")
	return cmd
}

// testTimeout bounds a whole run of the program; a correct run takes milliseconds.
const testTimeout = 20 * time.Second

// wsstream runs the program in-process with args and returns its exit status,
// stdout and stderr.
func wsstream(t *testing.T, ctx context.Context, args ...string) (int, string, string) {
	t.Helper()
	if ctx == nil {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(context.Background(), testTimeout)
		defer cancel()
	}
	var stdout, stderr bytes.Buffer
	code := run(ctx, args, &stdout, &stderr)
	t.Logf("exit %d\nstdout:\n%sstderr:\n%s", code, stdout.String(), stderr.String())
	return code, stdout.String(), stderr.String()
}

func lines(s string) []string {
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}

func send(t *testing.T, c *testutil.Conn, msgs ...string) {
	t.Helper()
	for _, m := range msgs {
		if err := c.SendText(m); err != nil {
			t.Errorf("server send: %v", err)
			return
		}
	}
}

func TestCountStopsAfterNMessages(t *testing.T) {
	srv := testutil.NewServer(t, func(c *testutil.Conn) {
		for i := 0; ; i++ {
			if c.SendJSON(map[string]int{"seq": i}) != nil {
				return // the client has gone
			}
		}
	})
	code, out, errs := wsstream(t, nil, "-url", srv.URL, "-count", "3")
	if code != 0 {
		t.Fatalf("exit %d, want 0", code)
	}
	want := []string{`{"seq":0}`, `{"seq":1}`, `{"seq":2}`}
	if got := lines(out); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("stdout %q, want %q", got, want)
	}
	if !strings.Contains(errs, "wsstream: connected") {
		t.Errorf("stderr has no state change to connected: %q", errs)
	}
	// wsstream closed the connection itself, normally.
	c := srv.Conn(0)
	<-c.Done()
	if !websocket.IsCloseError(c.Err(), websocket.CloseNormalClosure) {
		t.Errorf("server saw %v, want a close 1000 from wsstream", c.Err())
	}
}

func TestOutputFormats(t *testing.T) {
	bin := []byte{0, 1, 0xfe, 0xff}
	srv := testutil.NewServer(t, func(c *testutil.Conn) {
		send(t, c,
			"{\n  \"id\": 12345678901234567890,\n  \"p\": \"27123.45\", \"z\": [1, 2]\n}",
			"plain text, kept as is",
			"two\nlines",
		)
		if err := c.SendBinary(bin); err != nil {
			t.Errorf("server send: %v", err)
		}
	})
	tests := []struct {
		flag, binary string
	}{
		{"base64", "AAH+/w=="},
		{"hex", "0001feff"},
	}
	for _, tt := range tests {
		t.Run(tt.flag, func(t *testing.T) {
			code, out, _ := wsstream(t, nil, "-url", srv.URL, "-binary", tt.flag)
			if code != 0 {
				t.Fatalf("exit %d, want 0", code)
			}
			want := []string{
				`{"id":12345678901234567890,"p":"27123.45","z":[1,2]}`,
				"plain text, kept as is",
				`"two\nlines"`,
				tt.binary,
			}
			if got := lines(out); strings.Join(got, "|") != strings.Join(want, "|") {
				t.Fatalf("stdout\n%q\nwant\n%q", got, want)
			}
		})
	}
}

func TestNormalCloseExitsZero(t *testing.T) {
	srv := testutil.NewServer(t, testutil.Stream([][]byte{[]byte("a"), []byte("b")}))
	code, out, errs := wsstream(t, nil, "-url", srv.URL, "-count", "10")
	if code != 0 {
		t.Fatalf("exit %d, want 0", code)
	}
	if out != "a\nb\n" {
		t.Errorf("stdout %q, want the two messages", out)
	}
	if !strings.Contains(errs, "closed the connection normally after 2 messages") {
		t.Errorf("stderr does not say the server closed normally: %q", errs)
	}
}

func TestErrorCloseExitsNonZero(t *testing.T) {
	srv := testutil.NewServer(t, func(c *testutil.Conn) {
		send(t, c, "last words")
		_ = c.CloseWith(4001, "subscription rejected")
	})
	code, out, errs := wsstream(t, nil, "-url", srv.URL)
	if code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	if out != "last words\n" {
		t.Errorf("stdout %q, want the message sent before the close", out)
	}
	for _, want := range []string{"error after 1 messages", "4001", "subscription rejected"} {
		if !strings.Contains(errs, want) {
			t.Errorf("stderr does not contain %q: %q", want, errs)
		}
	}
}

func TestCloseRightAfterHandshake(t *testing.T) {
	// No message before the close: the stream's end must still be seen.
	srv := testutil.NewServer(t, func(c *testutil.Conn) { _ = c.CloseWith(4001, "go away") })
	code, out, errs := wsstream(t, nil, "-url", srv.URL)
	if code != 1 || out != "" || !strings.Contains(errs, "go away") {
		t.Fatalf("exit %d, stdout %q, stderr %q; want 1, nothing, the close reason", code, out, errs)
	}
}

func TestBadURL(t *testing.T) {
	// A bad URL is refused before any state, so the run must not wait for a
	// StateDisconnected that never comes: with this wait, a run that waited
	// would outlast the test's bound below.
	defer func(d time.Duration) { stateDrainTimeout = d }(stateDrainTimeout)
	stateDrainTimeout = time.Hour

	for _, url := range []string{"http://127.0.0.1/", "ws://", "::not a url"} {
		done := make(chan struct{})
		var code int
		var errs string
		go func() {
			defer close(done)
			code, _, errs = wsstream(t, nil, "-url", url)
		}()
		select {
		case <-done:
		case <-time.After(testTimeout):
			t.Fatalf("-url %q: still running after %v, waiting for a state a bad URL never emits", url, testTimeout)
		}
		if code != 2 || !strings.Contains(errs, "bad -url") {
			t.Errorf("-url %q: exit %d, stderr %q; want 2 and bad -url", url, code, errs)
		}
	}
}

func TestHandshakeRefused(t *testing.T) {
	srv := testutil.NewServer(t, nil)
	srv.RefuseNext(1, 401, "invalid api key")
	code, _, errs := wsstream(t, nil, "-url", srv.URL)
	if code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	for _, want := range []string{"cannot connect", "401", "invalid api key"} {
		if !strings.Contains(errs, want) {
			t.Errorf("stderr does not contain %q: %q", want, errs)
		}
	}
}

func TestConnectionRefused(t *testing.T) {
	code, _, errs := wsstream(t, nil, "-url", testutil.RefusedURL(t))
	if code != 1 || !strings.Contains(errs, "cannot connect") {
		t.Fatalf("exit %d, stderr %q; want 1 and cannot connect", code, errs)
	}
}

func TestHeadersPassed(t *testing.T) {
	srv := testutil.NewServer(t, func(c *testutil.Conn) {
		h := c.Request().Header
		send(t, c, h.Get("X-Api-Key"), strings.Join(h.Values("X-Tag"), ","))
	})
	code, out, _ := wsstream(t, nil, "-url", srv.URL, "-header", "X-Api-Key: k1:v2", "-header", "X-Tag:a", "-header", "X-Tag: b", "-count", "2")
	if code != 0 {
		t.Fatalf("exit %d, want 0", code)
	}
	if out != "k1:v2\na,b\n" {
		t.Fatalf("the server saw headers %q, want X-Api-Key k1:v2 and X-Tag a,b", out)
	}
}

func TestSubscriptionsSentInOrder(t *testing.T) {
	srv := testutil.NewServer(t, func(c *testutil.Conn) {
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		defer cancel()
		for range 2 {
			f, err := c.Recv(ctx)
			if err != nil {
				return
			}
			send(t, c, "ack "+string(f.Data))
		}
	})
	code, out, _ := wsstream(t, nil, "-url", srv.URL,
		"-subscribe", `{"op": "subscribe", "channel": "trades"}`,
		"-subscribe", `["book", 10]`,
		"-count", "2")
	if code != 0 {
		t.Fatalf("exit %d, want 0", code)
	}
	if want := "ack {\"op\":\"subscribe\",\"channel\":\"trades\"}\nack [\"book\",10]\n"; out != want {
		t.Fatalf("stdout %q, want %q", out, want)
	}
	if f := srv.Received()[0][0]; f.Type != websocket.TextMessage {
		t.Errorf("subscription sent as frame type %d, want text", f.Type)
	}
}

func TestReconnectReplaysSubscriptions(t *testing.T) {
	srv := testutil.NewServer(t, func(c *testutil.Conn) {
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		defer cancel()
		f, err := c.Recv(ctx)
		if err != nil {
			return
		}
		send(t, c, "conn "+string(rune('0'+c.Index()))+" "+string(f.Data))
		if c.Index() == 0 {
			c.Drop() // no close frame: a broken connection
			return
		}
		<-c.Done()
	})
	code, out, errs := wsstream(t, nil, "-url", srv.URL, "-reconnect", "-subscribe", `{"sub":1}`, "-count", "2")
	if code != 0 {
		t.Fatalf("exit %d, want 0", code)
	}
	if want := "conn 0 {\"sub\":1}\nconn 1 {\"sub\":1}\n"; out != want {
		t.Fatalf("stdout %q, want %q", out, want)
	}
	if !strings.Contains(errs, "wsstream: reconnecting (attempt 1") {
		t.Errorf("stderr does not show the reconnect: %q", errs)
	}
}

func TestPingFlagSendsPings(t *testing.T) {
	srv := testutil.NewServer(t, func(c *testutil.Conn) {
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		defer cancel()
		if _, err := c.WaitCount(ctx, websocket.PingMessage, 2); err != nil {
			return
		}
		send(t, c, "pinged twice")
	})
	code, out, _ := wsstream(t, nil, "-url", srv.URL, "-ping", "5ms", "-count", "1")
	if code != 0 || out != "pinged twice\n" {
		t.Fatalf("exit %d, stdout %q; want 0 and the server's message after two pings", code, out)
	}
}

// interruptOnWrite cancels the run once what it was written contains
// after (at the first write, if after is empty).
type interruptOnWrite struct {
	bytes.Buffer
	interrupt context.CancelFunc
	after     string
}

func (w *interruptOnWrite) Write(p []byte) (int, error) {
	n, err := w.Buffer.Write(p)
	if strings.Contains(w.String(), w.after) {
		w.interrupt()
	}
	return n, err
}

func TestInterrupted(t *testing.T) {
	srv := testutil.NewServer(t, func(c *testutil.Conn) {
		send(t, c, "one")
		<-c.Done()
	})
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	sigint, interrupt := context.WithCancel(ctx)
	stdout := &interruptOnWrite{interrupt: interrupt}
	var stderr bytes.Buffer
	code := run(sigint, []string{"-url", srv.URL}, stdout, &stderr)
	if code != 130 || stdout.String() != "one\n" || !strings.Contains(stderr.String(), "interrupted after 1 messages") {
		t.Fatalf("exit %d, stdout %q, stderr %q; want 130, the message, interrupted", code, stdout.String(), stderr.String())
	}
	// The connection was closed normally on the way out.
	c := srv.Conn(0)
	<-c.Done()
	if !websocket.IsCloseError(c.Err(), websocket.CloseNormalClosure) {
		t.Errorf("server saw %v, want a close 1000 from wsstream", c.Err())
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"-url", "ws://x", "extra"},
		{"-url", "ws://x", "-count", "-1"},
		{"-url", "ws://x", "-ping", "-1s"},
		{"-url", "ws://x", "-subscribe", "{not json"},
		{"-url", "ws://x", "-header", "no colon"},
		{"-url", "ws://x", "-header", ":v"},
		{"-url", "ws://x", "-binary", "octal"},
		{"-nosuchflag"},
	} {
		code, out, errs := wsstream(t, nil, args...)
		if code != 2 || out != "" || errs == "" {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want 2 and a message", args, code, out, errs)
		}
	}
	if code, _, errs := wsstream(t, nil, "-h"); code != 0 || !strings.Contains(errs, "usage: wsstream") {
		t.Errorf("-h: exit %d, stderr %q; want 0 and the usage", code, errs)
	}
}

// closedPipe is a stdout whose reader has gone, as after wsstream | head -1.
type closedPipe struct{ writes int }

func (p *closedPipe) Write(b []byte) (int, error) {
	if p.writes++; p.writes > 1 {
		return 0, &os.PathError{Op: "write", Path: "/dev/stdout", Err: syscall.EPIPE}
	}
	return len(b), nil
}

// TestHeadEndsWithANormalClose checks the process, not run: wsstream | head
// must end with status 0 and a normal close, not be killed by SIGPIPE.
func TestHeadEndsWithANormalClose(t *testing.T) {
	srv := testutil.NewServer(t, func(c *testutil.Conn) {
		for {
			if c.SendText("tick") != nil {
				return // wsstream has closed
			}
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	cmd := runProgram(t, ctx, "-url", srv.URL)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// As head -2 does: read two lines, then close the pipe.
	r := bufio.NewReader(stdout)
	for range 2 {
		if _, err := r.ReadString('\n'); err != nil {
			t.Errorf("reading wsstream's stdout: %v", err)
			break
		}
	}
	_ = stdout.Close()
	err = cmd.Wait()
	t.Logf("stderr:\n%s", stderr.String())
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		t.Fatalf("wsstream | head: %v (%v); want exit status 0", err, exit.ProcessState)
	} else if err != nil {
		t.Fatal(err)
	}
	c := srv.Conn(0)
	<-c.Done()
	if ce, ok := c.Err().(*websocket.CloseError); !ok || ce.Code != websocket.CloseNormalClosure {
		t.Fatalf("the server saw %v, want a normal close", c.Err())
	}
}

func TestStdoutClosedEndsWithANormalClose(t *testing.T) {
	srv := testutil.NewServer(t, func(c *testutil.Conn) {
		for _, m := range []string{"1", "2", "3"} {
			if c.SendText(m) != nil {
				return // wsstream has already closed: fine
			}
		}
		<-c.Done()
	})
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	var stderr bytes.Buffer
	code := run(ctx, []string{"-url", srv.URL}, &closedPipe{}, &stderr)
	if code != 0 || !strings.Contains(stderr.String(), "stdout closed after 1 messages") {
		t.Fatalf("exit %d, stderr %q; want 0 and stdout closed", code, stderr.String())
	}
	c := srv.Conn(0)
	<-c.Done()
	if ce, ok := c.Err().(*websocket.CloseError); !ok || ce.Code != websocket.CloseNormalClosure {
		t.Fatalf("the server saw %v, want a normal close", c.Err())
	}
}

func TestCompressFlagOffersDeflate(t *testing.T) {
	srv := testutil.NewServer(t, func(c *testutil.Conn) {
		send(t, c, c.Request().Header.Get("Sec-WebSocket-Extensions"))
	})
	code, out, _ := wsstream(t, nil, "-url", srv.URL, "-compress", "-count", "1")
	if code != 0 || !strings.Contains(out, "permessage-deflate") {
		t.Fatalf("exit %d, stdout %q; want 0 and the offer of permessage-deflate", code, out)
	}
}

func TestReconnectNeedsTheFirstConnection(t *testing.T) {
	srv := testutil.NewServer(t, nil)
	srv.RefuseNext(1, 503, "busy")
	code, _, errs := wsstream(t, nil, "-url", srv.URL, "-reconnect")
	if code != 1 || !strings.Contains(errs, "cannot connect") {
		t.Fatalf("exit %d, stderr %q; want 1 and cannot connect", code, errs)
	}
}

func TestInterruptedWhileConnecting(t *testing.T) {
	arrived := make(chan struct{})
	var once sync.Once
	srv := testutil.NewRawServer(t, func(c *testutil.RawConn) {
		once.Do(func() { close(arrived) })
		<-c.Done() // never answers the handshake
	})
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	sigint, interrupt := context.WithCancel(ctx)
	go func() {
		<-arrived
		interrupt()
	}()
	var stdout, stderr bytes.Buffer
	code := run(sigint, []string{"-url", srv.URL}, &stdout, &stderr)
	if code != 130 || !strings.Contains(stderr.String(), "interrupted while connecting") {
		t.Fatalf("exit %d, stderr %q; want 130 and interrupted while connecting", code, stderr.String())
	}
}

func TestInterruptedDuringAnOutage(t *testing.T) {
	var srv *testutil.Server
	srv = testutil.NewServer(t, func(c *testutil.Conn) {
		srv.RefuseNext(1000, 503, "down") // every redial fails: the outage lasts
		send(t, c, "one")
		c.Drop()
	})
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	sigint, interrupt := context.WithCancel(ctx)
	var stdout bytes.Buffer
	stderr := &interruptOnWrite{interrupt: interrupt, after: "reconnecting (attempt 1"}
	code := run(sigint, []string{"-url", srv.URL, "-reconnect"}, &stdout, stderr)
	if code != 130 || stdout.String() != "one\n" || !strings.Contains(stderr.String(), "interrupted after 1 messages") {
		t.Fatalf("exit %d, stdout %q, stderr %q; want 130 after one message", code, stdout.String(), stderr.String())
	}
}
