package main

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/reactivex/rxgo/v2"
	"github.com/rxpype/rxpype/rxws"
	"github.com/rxpype/rxpype/source"
)

// codec is the JSON codec both clients decode with: rxpype's default, which
// the raw client calls directly (-std-json switches both to encoding/json).
var codec = rxws.FastJSON

// observeOpts are given to every Observe of rxpype's Messages() besides
// the context: none by default (rxpype's defaults); -observe-buffer adds
// rxgo.WithBufferedChannel, to measure what a buffered hand-off would gain.
var observeOpts []rxgo.Option

func observe(ctx context.Context, o rxgo.Observable) <-chan rxgo.Item {
	return o.Observe(append([]rxgo.Option{rxgo.WithContext(ctx)}, observeOpts...)...)
}

// streamResult is one client's run of a stream workload.
type streamResult struct {
	msgs    int
	bytes   int64
	elapsed time.Duration
	mallocs uint64
}

func (r streamResult) rate() float64 { return float64(r.msgs) / r.elapsed.Seconds() }

func (r streamResult) allocsPerMsg() float64 {
	if r.msgs == 0 {
		return 0
	}
	return float64(r.mallocs) / float64(r.msgs)
}

func mallocs() uint64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.Mallocs
}

// seqChecker verifies the embedded server's sequence numbers, so that a
// client that loses or reorders a message cannot look fast.
type seqChecker struct {
	on   bool
	next int64
}

func (c *seqChecker) check(t *Trade) error {
	if !c.on {
		return nil
	}
	want := seqBase + c.next
	c.next++
	if t.Seq != want {
		return fmt.Errorf("sequence %d, want %d", t.Seq, want)
	}
	return nil
}

// rawStream reads url's stream with gorilla/websocket until the server's
// close: ReadMessage, then codec.Unmarshal into a Trade when typed, or only
// the byte count.
func rawStream(ctx context.Context, url string, typed, checkSeq bool) (streamResult, error) {
	runtime.GC()
	m0 := mallocs()
	t0 := time.Now()
	c, closeConn, err := rawDial(ctx, url)
	if err != nil {
		return streamResult{}, err
	}
	defer closeConn()
	var r streamResult
	var t Trade
	seq := seqChecker{on: checkSeq}
	for {
		_, data, err := c.ReadMessage()
		if err != nil {
			if !websocket.IsCloseError(err, websocket.CloseNormalClosure) {
				return r, fmt.Errorf("raw: after %d messages: %w", r.msgs, err)
			}
			break
		}
		if typed {
			if err := codec.Unmarshal(data, &t); err != nil {
				return r, fmt.Errorf("raw: decode: %w", err)
			}
			if err := seq.check(&t); err != nil {
				return r, fmt.Errorf("raw: %w", err)
			}
		}
		r.bytes += int64(len(data))
		r.msgs++
	}
	r.elapsed = time.Since(t0)
	r.mallocs = mallocs() - m0
	return r, nil
}

// rawDial dials url with gorilla's default dialer. The connection closes
// when ctx ends, so that an interrupt ends a ReadMessage blocked without a
// deadline; closeConn closes it and stops watching ctx.
func rawDial(ctx context.Context, url string) (c *websocket.Conn, closeConn func(), err error) {
	c, _, err = websocket.DefaultDialer.DialContext(ctx, url, nil)
	if err != nil {
		return nil, nil, err
	}
	stop := context.AfterFunc(ctx, func() { _ = c.Close() })
	return c, func() { stop(); _ = c.Close() }, nil
}

// fanDecode says who decodes in a raw fan-out.
type fanDecode int

const (
	decodeEach     fanDecode = iota // every subscriber decodes every message
	decodeInReader                  // the reader decodes once; subscribers read its Trade
	decodeShared                    // the first subscriber to reach a message decodes it for all, as rxpype's resp.Decode does
)

// fanMsg is one message in a raw fan-out.
type fanMsg struct {
	data []byte
	t    *Trade        // decodeInReader: the reader's
	once *sharedDecode // decodeShared
}

type sharedDecode struct {
	state atomic.Int32 // 0 new, 1 decoding, 2 decoded into t
	t     Trade
}

// decode puts m's Trade in own, or returns the reader's or the shared one.
func (m fanMsg) decode(how fanDecode, own *Trade) (*Trade, error) {
	switch how {
	case decodeInReader:
		return m.t, nil
	case decodeShared:
		switch {
		case m.once.state.CompareAndSwap(0, 1):
			err := codec.Unmarshal(m.data, &m.once.t)
			m.once.state.Store(2)
			*own = m.once.t
			return own, err
		case m.once.state.Load() == 2:
			*own = m.once.t
			return own, nil
		}
		// Another is decoding: rather than wait, decode too (as rxpype).
		*own = Trade{}
	}
	return own, codec.Unmarshal(m.data, own)
}

// rawFanout is fan-out written by hand on raw gorilla, what the same work
// costs without rxpype: one goroutine reads with ReadMessage and hands each
// message to subs goroutines over buffered channels, each holding
// source.DefaultBuffer messages as rxpype's observers do; how says who
// decodes.
//
// With burst > 1 the reader hands over burst messages per channel send,
// which rxgo observers cannot do (an Observable delivers one item per
// message): it shows what batching the hand-off would give.
//
// Its time, like every client's here, starts before the dial: rxFanout's
// includes rxpype's Connect.
func rawFanout(ctx context.Context, url string, subs int, checkSeq bool, how fanDecode, burst int) (fanoutResult, error) {
	runtime.GC()
	t0 := time.Now()
	c, closeConn, err := rawDial(ctx, url)
	if err != nil {
		return fanoutResult{}, err
	}
	defer closeConn()
	res := fanoutResult{rates: make([]float64, subs)}
	chans := make([]chan []fanMsg, subs)
	counts := make([]int, subs)
	errs := make([]error, subs)
	var wg sync.WaitGroup
	for i := range chans {
		chans[i] = make(chan []fanMsg, max(1, source.DefaultBuffer/burst))
		wg.Add(1)
		go func() {
			defer wg.Done()
			var own Trade
			seq := seqChecker{on: checkSeq}
			for ms := range chans[i] {
				for _, m := range ms {
					if errs[i] != nil {
						break // drain until the reader closes the channel
					}
					var t *Trade
					if t, errs[i] = m.decode(how, &own); errs[i] == nil {
						if errs[i] = seq.check(t); errs[i] == nil {
							counts[i]++
						}
					}
				}
			}
			res.rates[i] = float64(counts[i]) / time.Since(t0).Seconds()
		}()
	}
	// Bursts are cut from a shared array that is never written twice, so
	// that handing one over allocates nothing.
	var slots []fanMsg
	start := 0
	send := func() {
		for _, ch := range chans {
			ch <- slots[start:len(slots):len(slots)]
		}
		start = len(slots)
	}
	for {
		_, data, rerr := c.ReadMessage()
		if rerr != nil {
			if !websocket.IsCloseError(rerr, websocket.CloseNormalClosure) {
				err = fmt.Errorf("raw fanout: %w", rerr)
			}
			break
		}
		m := fanMsg{data: data}
		switch how {
		case decodeInReader:
			m.t = new(Trade)
			if err = codec.Unmarshal(data, m.t); err != nil {
				err = fmt.Errorf("raw fanout: %w", err)
			}
		case decodeShared:
			m.once = new(sharedDecode)
		}
		if err != nil {
			break
		}
		if len(slots) == cap(slots) {
			slots, start = make([]fanMsg, 0, 64*burst), 0
		}
		slots = append(slots, m)
		if len(slots)-start == burst {
			send()
		}
	}
	if len(slots) > start {
		send()
	}
	for _, ch := range chans {
		close(ch)
	}
	wg.Wait()
	for i, e := range errs {
		if err == nil && e != nil {
			err = fmt.Errorf("raw fanout subscriber %d: %w", i, e)
		}
	}
	res.msgs = counts[0]
	return res, err
}

// newManager is the rxpype client of every workload: default settings and
// two post-processors, a map (it counts, and hands the response on) and a
// filter that keeps everything.
func newManager() (*rxws.Manager, *atomic.Int64) {
	var mapped atomic.Int64
	return rxws.NewManager(nil, rxws.WithCodec(codec), rxws.WithPostProcessors(rxws.PostProcessorFunc(
		func(_ context.Context, r *rxws.Response) (*rxws.Response, error) {
			mapped.Add(1)
			return r, nil
		}), keepAll)), &mapped
}

// keepAll is the filter: it keeps every message, empty frames included, so
// that rxpype delivers what raw's ReadMessage returns (an outside server's
// empty keep-alive frames too) and both count the same messages.
var keepAll = rxws.PostProcessorFunc(func(_ context.Context, r *rxws.Response) (*rxws.Response, error) {
	return r, nil
})

// newDecodingManager's map post-processor decodes each message once, in the
// read loop, and hands the *Trade on as the response's Data: what a user
// does to share one decode among several observers.
func newDecodingManager() *rxws.Manager {
	return rxws.NewManager(nil, rxws.WithCodec(codec), rxws.WithPostProcessors(rxws.PostProcessorFunc(
		func(_ context.Context, r *rxws.Response) (*rxws.Response, error) {
			t := new(Trade)
			if err := r.Decode(t); err != nil {
				return nil, err
			}
			return r.WithData(t), nil
		}), keepAll))
}

// disconnect ends m, bounded in time; the bench fails if it cannot.
func disconnect(m *rxws.Manager) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return m.Disconnect(ctx)
}

// rxStream reads url's stream through rxpype's Messages() until it
// completes, decoding each *Response with resp.Decode when typed.
func rxStream(ctx context.Context, url string, typed, checkSeq bool) (streamResult, error) {
	runtime.GC()
	m0 := mallocs()
	t0 := time.Now()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	m, mapped := newManager()
	items := observe(ctx, m.Messages())
	if err := m.Connect(ctx, url); err != nil {
		cancel()
		for range items {
		}
		return streamResult{}, err
	}
	var r streamResult
	var t Trade
	seq := seqChecker{on: checkSeq}
	var err error
	for it := range items {
		if it.E != nil {
			err = fmt.Errorf("rxpype: after %d messages: %w", r.msgs, it.E)
			break
		}
		resp := it.V.(*rxws.Response)
		if typed {
			if err = resp.Decode(&t); err != nil {
				break
			}
			if err = seq.check(&t); err != nil {
				err = fmt.Errorf("rxpype: %w", err)
				break
			}
		}
		r.bytes += int64(len(resp.Bytes()))
		r.msgs++
	}
	r.elapsed = time.Since(t0)
	r.mallocs = mallocs() - m0
	cancel()
	for range items { // the observer ends once its context does
	}
	if derr := disconnect(m); err == nil {
		err = derr
	}
	if err == nil && mapped.Load() != int64(r.msgs) {
		err = fmt.Errorf("rxpype: the map post-processor saw %d messages, the observer %d", mapped.Load(), r.msgs)
	}
	return r, err
}

// fanoutResult is the per-subscriber rate of each of the subscribers.
type fanoutResult struct {
	rates []float64
	msgs  int
}

// rxFanout reads the stream through subs observers of one manager's
// Messages(), each in its own goroutine: each decodes every message, or,
// when shared, takes the *Trade a post-processor decoded once.
//
// Its time starts before the manager is made, as rxStream's does, and so
// includes Connect's handshake as rawFanout's includes the dial.
func rxFanout(ctx context.Context, url string, subs int, checkSeq, shared bool) (fanoutResult, error) {
	runtime.GC()
	t0 := time.Now()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	m, _ := newManager()
	if shared {
		m = newDecodingManager()
	}
	obs := m.Messages()
	chans := make([]<-chan rxgo.Item, subs)
	for i := range chans {
		chans[i] = observe(ctx, obs)
	}
	res := fanoutResult{rates: make([]float64, subs)}
	counts := make([]int, subs)
	errs := make([]error, subs)
	var wg sync.WaitGroup
	for i, ch := range chans {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var t Trade
			seq := seqChecker{on: checkSeq}
			for it := range ch {
				if errs[i] != nil {
					continue // drain until the context ends
				}
				if it.E != nil {
					errs[i] = it.E
					cancel()
					continue
				}
				resp := it.V.(*rxws.Response)
				tp := &t
				if shared {
					tp, _ = resp.Data().(*Trade)
					if tp == nil {
						errs[i] = fmt.Errorf("data is %T, want *Trade", resp.Data())
						cancel()
						continue
					}
				} else if err := resp.Decode(&t); err != nil {
					errs[i] = err
					cancel()
					continue
				}
				if err := seq.check(tp); err != nil {
					errs[i] = err
					cancel()
					continue
				}
				counts[i]++
			}
			res.rates[i] = float64(counts[i]) / time.Since(t0).Seconds()
		}()
	}
	err := m.Connect(ctx, url)
	if err != nil {
		cancel()
	}
	wg.Wait()
	cancel()
	if derr := disconnect(m); err == nil {
		err = derr
	}
	for i, e := range errs {
		if err == nil && e != nil {
			err = fmt.Errorf("rxpype fanout subscriber %d: %w", i, e)
		}
	}
	res.msgs = counts[0]
	for i, c := range counts {
		if err == nil && c != res.msgs {
			err = fmt.Errorf("rxpype fanout: subscriber %d got %d messages, subscriber 0 %d", i, c, res.msgs)
		}
	}
	return res, err
}

// latencies are the round-trip times of an echo run.
type latencies []time.Duration

func (l latencies) percentile(p float64) time.Duration {
	s := append(latencies(nil), l...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	if len(s) == 0 {
		return 0
	}
	i := int(p * float64(len(s)-1))
	return s[i]
}

// echoWarmup round trips are made, untimed, before the timed ones.
const echoWarmup = 200

func rawEcho(ctx context.Context, url string, n int, msg []byte) (latencies, error) {
	runtime.GC()
	c, closeConn, err := rawDial(ctx, url)
	if err != nil {
		return nil, err
	}
	defer closeConn()
	lat := make(latencies, 0, n)
	for i := 0; i < echoWarmup+n; i++ {
		t0 := time.Now()
		if err := c.WriteMessage(websocket.TextMessage, msg); err != nil {
			return nil, err
		}
		if _, _, err := c.ReadMessage(); err != nil {
			return nil, err
		}
		if i >= echoWarmup {
			lat = append(lat, time.Since(t0))
		}
	}
	_ = c.WriteControl(websocket.CloseMessage,
		websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	return lat, nil
}

// rxEcho makes n round trips through rxpype: Send, then the reply from the
// Messages() observer (or, with receive, from Receive).
func rxEcho(ctx context.Context, url string, n int, msg []byte, receive bool) (latencies, error) {
	runtime.GC()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	m, _ := newManager()
	var items <-chan rxgo.Item
	if !receive {
		items = observe(ctx, m.Messages())
	}
	if err := m.Connect(ctx, url); err != nil {
		return nil, err
	}
	req := rxws.TextRequest(string(msg))
	lat := make(latencies, 0, n)
	var err error
	for i := 0; i < echoWarmup+n && err == nil; i++ {
		t0 := time.Now()
		if err = m.Send(ctx, req); err != nil {
			break
		}
		if receive {
			// A context that never ends lets Receive read the reply in this
			// goroutine, as raw ReadMessage does (see Manager.Receive).
			_, err = m.Receive(context.Background())
		} else {
			it, ok := <-items
			switch {
			case !ok:
				err = errors.New("rxpype: stream ended")
			case it.E != nil:
				err = it.E
			}
		}
		if i >= echoWarmup {
			lat = append(lat, time.Since(t0))
		}
	}
	cancel()
	if items != nil {
		for range items {
		}
	}
	if derr := disconnect(m); err == nil {
		err = derr
	}
	return lat, err
}
