package rxws_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/reactivex/rxgo/v2"
	"github.com/rxpype/rxpype/rxws"
)

// The read benchmarks measure the inbound hot path: one op is one message,
// so ns/op and allocs/op are per message (the server allocates nothing per
// message). Compare the clients with
//
//	go test -run '^$' -bench 'ManagerRead' -count 5 ./rxws/ > read.txt
//	benchstat -col /client read.txt

// benchTrade is a ~100-byte trade-like JSON message, as in examples/bench.
type benchTrade struct {
	Event  string  `json:"e"`
	Seq    int64   `json:"seq"`
	Symbol string  `json:"sym"`
	Price  float64 `json:"px"`
	Qty    float64 `json:"qty"`
	Side   string  `json:"side"`
	ID     string  `json:"id"`
}

var readBenchPayload = []byte(`{"e":"trade","seq":100000042,"sym":"BTC-USD","px":43010.50,"qty":0.0043,"side":"buy","id":"xxxxxx"}`)

// benchFrames is benchChunk copies of readBenchPayload, pre-framed as a server
// sends them.
const benchChunk = 1000

var benchFrames = func() []byte {
	var b []byte
	for i := 0; i < benchChunk; i++ {
		b = append(b, 0x81, byte(len(readBenchPayload)))
		b = append(b, readBenchPayload...)
	}
	return b
}()

// newBenchServer starts a loopback server. On /stream each text message
// "N" from the client makes it write N pre-framed trades straight to the
// socket; on /echo it writes back each message; on /sink it reads and
// discards every frame without allocating.
// Both answer the client's close frame.
func newBenchServer(b *testing.B) string {
	up := websocket.Upgrader{}
	var wg sync.WaitGroup
	mux := http.NewServeMux()
	handle := func(path string, serve func(c *websocket.Conn)) {
		mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			wg.Add(1)
			defer wg.Done()
			c, err := up.Upgrade(w, r, nil)
			if err != nil {
				return
			}
			defer c.Close()
			serve(c)
		})
	}
	handle("/stream", func(c *websocket.Conn) {
		for {
			_, msg, err := c.ReadMessage() // answers the close frame
			if err != nil {
				return
			}
			n, _ := strconv.Atoi(string(msg))
			if err := writeFrames(c.NetConn(), n); err != nil {
				return
			}
		}
	})
	handle("/echo", func(c *websocket.Conn) {
		for {
			mt, msg, err := c.ReadMessage() // answers the close frame
			if err != nil || c.WriteMessage(mt, msg) != nil {
				return
			}
		}
	})
	handle("/sink", func(c *websocket.Conn) { discardFrames(c.NetConn()) })
	hs := httptest.NewServer(mux)
	b.Cleanup(func() {
		hs.Close()
		wg.Wait()
	})
	return "ws" + hs.URL[len("http"):]
}

func writeFrames(w io.Writer, n int) error {
	for n > 0 {
		k := min(n, benchChunk)
		if _, err := w.Write(benchFrames[:k*(2+len(readBenchPayload))]); err != nil {
			return err
		}
		n -= k
	}
	return nil
}

// discardFrames reads client frames (masked) and drops them; it answers a
// close frame with a normal close and returns.
func discardFrames(nc net.Conn) {
	br := bufio.NewReaderSize(nc, 64<<10)
	var hdr [2]byte
	var ext [8]byte
	for {
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			return
		}
		op, masked, n := hdr[0]&0x0f, hdr[1]&0x80 != 0, int(hdr[1]&0x7f)
		switch n {
		case 126:
			if _, err := io.ReadFull(br, ext[:2]); err != nil {
				return
			}
			n = int(ext[0])<<8 | int(ext[1])
		case 127:
			if _, err := io.ReadFull(br, ext[:]); err != nil {
				return
			}
			n = 0
			for _, x := range ext {
				n = n<<8 | int(x)
			}
		}
		if masked { // a client's frames always are
			n += 4
		}
		if _, err := br.Discard(n); err != nil {
			return
		}
		if op == websocket.CloseMessage {
			_, _ = nc.Write([]byte{0x88, 0x02, 0x03, 0xe8})
			return
		}
	}
}

// benchPost is the post-processors of examples/bench: a map and a filter
// that keeps all.
func benchPost() rxws.Option {
	return rxws.WithPostProcessors(
		rxws.PostProcessorFunc(func(_ context.Context, r *rxws.Response) (*rxws.Response, error) { return r, nil }),
		rxws.PostProcessorFunc(func(_ context.Context, r *rxws.Response) (*rxws.Response, error) {
			if len(r.Bytes()) == 0 {
				return nil, nil
			}
			return r, nil
		}))
}

func BenchmarkManagerRead(b *testing.B) {
	url := newBenchServer(b) + "/stream"
	for _, decode := range []string{"none", "json"} {
		b.Run("decode="+decode+"/client=raw", func(b *testing.B) { benchRawRead(b, url, decode == "json") })
		b.Run("decode="+decode+"/client=rxpype", func(b *testing.B) { benchManagerRead(b, url, decode == "json", 1) })
	}
}

// BenchmarkManagerFanout hands every message to 1, 2 or 4 observers of one
// manager, each counting it or decoding it (resp.Decode, which decodes a
// message once for all its observers); one op is one message delivered to
// all of them.
func BenchmarkManagerFanout(b *testing.B) {
	url := newBenchServer(b) + "/stream"
	for _, decode := range []bool{false, true} {
		for _, subs := range []int{1, 2, 4} {
			b.Run(fmt.Sprintf("decode=%v/subs=%d", decode, subs), func(b *testing.B) { benchManagerRead(b, url, decode, subs) })
		}
	}
}

func benchRawRead(b *testing.B, url string, decode bool) {
	c, _, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	var t benchTrade
	var sum int
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	if err := c.WriteMessage(websocket.TextMessage, []byte(strconv.Itoa(b.N))); err != nil {
		b.Fatal(err)
	}
	for i := 0; i < b.N; i++ {
		_, data, err := c.ReadMessage()
		if err != nil {
			b.Fatal(err)
		}
		if decode {
			if err := rxws.FastJSON.Unmarshal(data, &t); err != nil { // the codec rxpype decodes with
				b.Fatal(err)
			}
		}
		sum += len(data)
	}
	el := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/el.Seconds(), "msgs/s")
	if sum != b.N*len(readBenchPayload) {
		b.Fatalf("read %d bytes, want %d", sum, b.N*len(readBenchPayload))
	}
	_ = c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	for {
		if _, _, err := c.ReadMessage(); err != nil {
			break
		}
	}
}

func benchManagerRead(b *testing.B, url string, decode bool, subs int, opts ...rxgo.Option) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	m := rxws.NewManager(nil, benchPost())
	obs := m.Messages()
	chans := make([]<-chan rxgo.Item, subs)
	for i := range chans {
		chans[i] = obs.Observe(append([]rxgo.Option{rxgo.WithContext(ctx)}, opts...)...)
	}
	defer func() {
		cancel()
		for _, ch := range chans {
			for range ch {
			}
		}
		dctx, dcancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer dcancel()
		if err := m.Disconnect(dctx); err != nil {
			b.Error(err)
		}
	}()
	if err := m.Connect(ctx, url); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	if err := m.Send(ctx, rxws.TextRequest(strconv.Itoa(b.N))); err != nil {
		b.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, subs)
	for i, ch := range chans {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var t benchTrade
			sum := 0
			for n := 0; n < b.N; n++ {
				it, ok := <-ch
				if !ok {
					errs[i] = fmt.Errorf("stream ended after %d of %d", n, b.N)
					return
				}
				if it.E != nil {
					errs[i] = it.E
					return
				}
				resp := it.V.(*rxws.Response)
				if decode {
					if err := resp.Decode(&t); err != nil {
						errs[i] = err
						return
					}
				}
				sum += len(resp.Bytes())
			}
			if sum != b.N*len(readBenchPayload) {
				errs[i] = fmt.Errorf("read %d bytes, want %d", sum, b.N*len(readBenchPayload))
			}
		}()
	}
	wg.Wait()
	el := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/el.Seconds(), "msgs/s")
	for _, err := range errs {
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkResponseDecode is the typed decode alone, without the network:
// rxpype's resp.Decode against its codec's Unmarshal of the same bytes.
func BenchmarkResponseDecode(b *testing.B) {
	b.Run("client=raw", func(b *testing.B) {
		var t benchTrade
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if err := rxws.FastJSON.Unmarshal(readBenchPayload, &t); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("client=rxpype", func(b *testing.B) {
		var t benchTrade
		resp := rxws.NewResponse(rxws.KindText, readBenchPayload)
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if err := resp.Decode(&t); err != nil {
				b.Fatal(err)
			}
		}
	})
}
