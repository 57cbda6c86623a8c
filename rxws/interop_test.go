package rxws_test

// Interoperability: the manager against WebSocket servers that others wrote,
// started on loopback as child processes. The peers live in testdata/interop:
// server.js on the npm package ws (install with `npm ci` there) and server.py
// on Python's websockets (Debian's python3-websockets). A test whose peer is
// not installed is skipped; .ci/run installs both when it can.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rxpype/rxpype/rxws"
)

const interopDir = "testdata/interop"

// interopTimeout bounds every wait on a peer: starting it, a round trip, a close.
const interopTimeout = 20 * time.Second

// nodePeer returns the command that starts the ws server, or skips t.
func nodePeer(t *testing.T) []string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("interop: node is not installed")
	}
	if _, err := os.Stat(filepath.Join(interopDir, "node_modules", "ws", "package.json")); err != nil {
		t.Skipf("interop: npm package ws is not installed (run `npm ci` in rxws/%s)", interopDir)
	}
	return []string{node, "server.js"}
}

// pythonPeer returns the command that starts the websockets server with the
// first Python that can import websockets ($RXPYPE_PYTHON, python3 on PATH,
// then /usr/bin/python3, where Debian's python3-websockets goes), or skips t.
func pythonPeer(t *testing.T) []string {
	t.Helper()
	var tried []string
	for _, py := range []string{os.Getenv("RXPYPE_PYTHON"), "python3", "/usr/bin/python3"} {
		if py == "" {
			continue
		}
		path, err := exec.LookPath(py)
		if err != nil {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), interopTimeout)
		err = exec.CommandContext(ctx, path, "-c", "import websockets").Run()
		cancel()
		if err == nil {
			return []string{path, "server.py"}
		}
		tried = append(tried, path)
	}
	t.Skipf("interop: no Python with the websockets package (tried %v; apt-get install python3-websockets)", tried)
	return nil
}

// lockedBuffer collects a child's stderr; os/exec writes it from its own goroutine.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startPeer runs argv in testdata/interop, reads the port the server prints
// as its first line and returns the server's ws:// URL. At cleanup it kills
// the process by its PID and waits for it. The peer also exits when its stdin
// closes, so it cannot outlive a test binary that dies.
func startPeer(t *testing.T, argv []string) string {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = interopDir
	stderr := &lockedBuffer{}
	cmd.Stderr = stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("interop: start %v: %v", argv, err)
	}

	first := make(chan string, 1)
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		r := bufio.NewReader(stdout)
		line, err := r.ReadString('\n')
		if err == nil {
			first <- strings.TrimSpace(line)
		}
		close(first)
		_, _ = io.Copy(io.Discard, r) // until the process ends
	}()
	t.Cleanup(func() {
		_ = stdin.Close()
		_ = cmd.Process.Kill()
		<-drained // Wait must not run before the reads from stdout are done
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("interop: %s stderr:\n%s", argv[1], stderr.String())
		}
	})

	timer := time.NewTimer(interopTimeout)
	defer timer.Stop()
	select {
	case line, ok := <-first:
		port, err := strconv.Atoi(line)
		if !ok || err != nil || port <= 0 {
			t.Fatalf("interop: %s printed %q instead of its port; stderr:\n%s", argv[1], line, stderr.String())
		}
		return fmt.Sprintf("ws://127.0.0.1:%d/", port)
	case <-timer.C:
		t.Fatalf("interop: %s did not print its port within %v; stderr:\n%s", argv[1], interopTimeout, stderr.String())
	}
	return ""
}

// interopConnect connects a new manager to url and disconnects it at cleanup.
func interopConnect(t *testing.T, url string, opts ...rxws.ConnectOption) (context.Context, *rxws.Manager) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), interopTimeout)
	m := rxws.NewManager(nil)
	t.Cleanup(func() {
		dctx, dcancel := context.WithTimeout(context.Background(), interopTimeout)
		defer dcancel()
		if err := m.Disconnect(dctx); err != nil {
			t.Errorf("Disconnect: %v", err)
		}
		cancel()
	})
	if err := m.Connect(ctx, url, opts...); err != nil {
		t.Fatalf("Connect %s: %v", url, err)
	}
	return ctx, m
}

// roundTrip sends req and returns the next message.
func roundTrip(t *testing.T, ctx context.Context, m *rxws.Manager, req rxws.Request) *rxws.Response {
	t.Helper()
	if err := m.Send(ctx, req); err != nil {
		t.Fatalf("Send: %v", err)
	}
	resp, err := m.Receive(ctx)
	if err != nil {
		t.Fatalf("Receive: %v", err)
	}
	return resp
}

func randomBytes(n int) []byte {
	r := rand.New(rand.NewPCG(1, 2))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// interopSuite runs the checks every peer must pass.
func interopSuite(t *testing.T, url string, opts ...rxws.ConnectOption) {
	t.Run("EchoText", func(t *testing.T) {
		ctx, m := interopConnect(t, url, opts...)
		for _, s := range []string{"hello", `{"op":"subscribe","id":12345678901234567890}`, "héllo, 世界"} {
			resp := roundTrip(t, ctx, m, rxws.TextRequest(s))
			if resp.Kind() != rxws.KindText || string(resp.Bytes()) != s {
				t.Fatalf("echo of %q: got %v", s, resp)
			}
		}
		// JSON goes out as a text frame and comes back decoded.
		resp := roundTrip(t, ctx, m, rxws.JSONRequest(map[string]any{"op": "ping", "n": 1}))
		if d, ok := resp.Data().(map[string]any); !ok || d["op"] != "ping" || d["n"] != json.Number("1") {
			t.Fatalf("echo of a JSON request: Data() = %#v", resp.Data())
		}
	})

	t.Run("EchoBinary", func(t *testing.T) {
		ctx, m := interopConnect(t, url, opts...)
		for _, b := range [][]byte{{0, 1, 2, 0xfe, 0xff}, randomBytes(4096)} {
			resp := roundTrip(t, ctx, m, rxws.BinaryRequest(b))
			if resp.Kind() != rxws.KindBinary || !bytes.Equal(resp.Bytes(), b) {
				t.Fatalf("echo of %d binary bytes: got %v", len(b), resp)
			}
		}
	})

	t.Run("Echo1MiB", func(t *testing.T) {
		ctx, m := interopConnect(t, url, opts...)
		bin := randomBytes(1 << 20)
		resp := roundTrip(t, ctx, m, rxws.BinaryRequest(bin))
		if resp.Kind() != rxws.KindBinary || !bytes.Equal(resp.Bytes(), bin) {
			t.Fatalf("1 MiB binary echo: kind %v, %d bytes, equal %v", resp.Kind(), len(resp.Bytes()), bytes.Equal(resp.Bytes(), bin))
		}
		text := strings.Repeat("0123456789abcdef", 1<<16)
		resp = roundTrip(t, ctx, m, rxws.TextRequest(text))
		if resp.Kind() != rxws.KindText || string(resp.Bytes()) != text {
			t.Fatalf("1 MiB text echo: kind %v, %d bytes", resp.Kind(), len(resp.Bytes()))
		}
	})

	t.Run("ServerPingAnswered", func(t *testing.T) {
		ctx, m := interopConnect(t, url, opts...)
		resp := roundTrip(t, ctx, m, rxws.TextRequest("ping-me"))
		if got := string(resp.Bytes()); got != "pong-received:rxpype" {
			t.Fatalf("after the server's ping: got %q, want pong-received:rxpype", got)
		}
		// The connection is still fine afterwards.
		if resp := roundTrip(t, ctx, m, rxws.TextRequest("after")); string(resp.Bytes()) != "after" {
			t.Fatalf("echo after the ping: %v", resp)
		}
	})

	t.Run("ServerCloseCode", func(t *testing.T) {
		ctx, m := interopConnect(t, url, opts...)
		if err := m.Send(ctx, rxws.TextRequest("close-4001")); err != nil {
			t.Fatalf("Send: %v", err)
		}
		// Receive sees the close whether or not the connection has ended
		// already: the close error itself, or ErrNotConnected wrapping it.
		_, end := m.Receive(ctx)
		var ce *rxws.CloseError
		if !errors.As(end, &ce) || ce.Code != 4001 || ce.Reason != "interop close" {
			t.Fatalf("after close-4001: %v (%T), want *rxws.CloseError 4001 \"interop close\"", end, end)
		}
		if !errors.Is(end, rxws.ErrClosed) {
			t.Errorf("errors.Is(%v, ErrClosed) = false", end)
		}
		if err := m.Send(ctx, rxws.TextRequest("x")); !errors.Is(err, rxws.ErrNotConnected) || !errors.As(err, &ce) {
			t.Errorf("Send after the close: %v, want ErrNotConnected wrapping the close error", err)
		}
	})

	t.Run("ServerNormalClose", func(t *testing.T) {
		ctx, m := interopConnect(t, url, opts...)
		if err := m.Send(ctx, rxws.TextRequest("close-1000")); err != nil {
			t.Fatalf("Send: %v", err)
		}
		resp, err := m.Receive(ctx)
		var ce *rxws.CloseError
		if errors.As(err, &ce) || (!errors.Is(err, io.EOF) && !errors.Is(err, rxws.ErrNotConnected)) {
			t.Fatalf("Receive after a normal close: %v, %v; want io.EOF or a bare ErrNotConnected", resp, err)
		}
	})
}

// negotiation is what a peer reports for the text command "extensions".
type negotiation struct {
	Extensions string `json:"extensions"` // ws only
	Header     string `json:"header"`
	Offered    string `json:"offered"`
}

func askExtensions(t *testing.T, ctx context.Context, m *rxws.Manager) negotiation {
	t.Helper()
	var n negotiation
	if err := roundTrip(t, ctx, m, rxws.TextRequest("extensions")).Decode(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestInteropNodeWS(t *testing.T) {
	url := startPeer(t, nodePeer(t))
	interopSuite(t, url)

	t.Run("Compression", func(t *testing.T) {
		ctx, m := interopConnect(t, url, rxws.WithCompression())
		n := askExtensions(t, ctx, m)
		if n.Extensions != "permessage-deflate" || !strings.HasPrefix(n.Header, "permessage-deflate") {
			t.Fatalf("with WithCompression: the server negotiated %+v, want permessage-deflate", n)
		}
		// Compressed frames both ways, large and repetitive, then small.
		text := strings.Repeat(`{"e":"trade","p":"27123.45","q":"0.012"}`, 1<<14)
		if resp := roundTrip(t, ctx, m, rxws.TextRequest(text)); string(resp.Bytes()) != text {
			t.Fatalf("compressed echo: %d bytes back, want %d", len(resp.Bytes()), len(text))
		}
		bin := randomBytes(1 << 20)
		if resp := roundTrip(t, ctx, m, rxws.BinaryRequest(bin)); !bytes.Equal(resp.Bytes(), bin) {
			t.Fatalf("compressed 1 MiB binary echo differs (%d bytes back)", len(resp.Bytes()))
		}
		if resp := roundTrip(t, ctx, m, rxws.TextRequest("small")); string(resp.Bytes()) != "small" {
			t.Fatalf("compressed small echo: %v", resp)
		}
	})

	t.Run("NoCompressionByDefault", func(t *testing.T) {
		ctx, m := interopConnect(t, url)
		if n := askExtensions(t, ctx, m); n.Extensions != "" || n.Header != "" || n.Offered != "" {
			t.Fatalf("without WithCompression: %+v, want no extension offered or negotiated", n)
		}
	})

	t.Run("CompressedSuite", func(t *testing.T) {
		interopSuite(t, url, rxws.WithCompression())
	})
}

func TestInteropPythonWebsockets(t *testing.T) {
	url := startPeer(t, pythonPeer(t))
	interopSuite(t, url)

	t.Run("Compression", func(t *testing.T) {
		ctx, m := interopConnect(t, url, rxws.WithCompression())
		if n := askExtensions(t, ctx, m); !strings.HasPrefix(n.Header, "permessage-deflate") {
			t.Fatalf("with WithCompression: the server negotiated %+v, want permessage-deflate", n)
		}
		bin := randomBytes(1 << 20)
		if resp := roundTrip(t, ctx, m, rxws.BinaryRequest(bin)); !bytes.Equal(resp.Bytes(), bin) {
			t.Fatalf("compressed 1 MiB binary echo differs (%d bytes back)", len(resp.Bytes()))
		}
	})
}
