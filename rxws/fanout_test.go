package rxws_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"iter"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/reactivex/rxgo/v2"
	"github.com/rxpype/rxpype/internal/testutil"
	"github.com/rxpype/rxpype/operators"
	"github.com/rxpype/rxpype/rxws"
	"go.uber.org/goleak"
)

// The fan-out tests synchronise on messages, never on time. Where the order
// in which subscribers joined matters, a preamble message "hello" is sent
// before the stream: the subscriber that must join first takes it through
// iter.Pull2 (so it is attached when that returns), the others attach
// synchronously with Observe, and only then does the server stream.

const hello = "hello"

// seqMsg is a ~100-byte JSON message carrying its position in the stream.
func seqMsg(i int) []byte {
	return fmt.Appendf(nil, `{"seq":%d,"sym":"BTCUSDT","px":"27123.45000000","qty":"0.01200000","pad":"xxxxxxxxxxxxxxxxxxxx"}`, i)
}

// seqOf reads the position back without a full JSON decode.
func seqOf(t testing.TB, r *rxws.Response) int {
	b := r.Bytes()
	const key = `{"seq":`
	if !bytes.HasPrefix(b, []byte(key)) {
		t.Errorf("unexpected message %v", r)
		return -1
	}
	b = b[len(key):]
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			break
		}
		n = n*10 + int(c-'0')
	}
	return n
}

// streamer is a server handler: "hello" at once (if withHello), then
// total sequence messages once start is closed, then a normal close once
// finish is closed. It returns early if the client goes away.
type streamer struct {
	total         int
	withHello     bool
	start, finish chan struct{}
}

func newStreamer(total int, withHello bool) *streamer {
	return &streamer{total: total, withHello: withHello, start: make(chan struct{}), finish: make(chan struct{})}
}

func (s *streamer) serve(c *testutil.Conn) {
	if s.withHello && c.SendText(hello) != nil {
		return
	}
	select {
	case <-s.start:
	case <-c.Done():
		return
	}
	for i := 0; i < s.total; i++ {
		if c.SendText(string(seqMsg(i))) != nil {
			return
		}
	}
	select {
	case <-s.finish:
	case <-c.Done():
	}
}

// inOrder consumes an observer channel, checking that values are the
// sequence 0, 1, 2, ... It sends on reached once it has n of them, and
// returns how many it saw and the first error item.
func inOrder(t testing.TB, ch <-chan rxgo.Item, n int, reached chan<- struct{}) (int, error) {
	count := 0
	var firstErr error
	for item := range ch {
		if item.E != nil {
			if firstErr == nil {
				firstErr = item.E
			}
			continue
		}
		if got := seqOf(t, item.V.(*rxws.Response)); got != count {
			// Report, and keep reading: an observer that stops reading
			// would hold the reader and hang the other subscribers.
			t.Errorf("message %d has seq %d", count, got)
			count = got
		}
		count++
		if count == n && reached != nil {
			reached <- struct{}{}
		}
	}
	return count, firstErr
}

// await receives from ch, or fails the test when ctx ends first, so that a
// bug makes the test fail with the subscribers' stats instead of hanging.
func await[T any](t *testing.T, ctx context.Context, m *rxws.Manager, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-ctx.Done():
		t.Fatalf("waiting for %s: %v; subscribers %+v", what, ctx.Err(), m.Stats())
		panic("unreachable")
	}
}

// settle waits until every goroutine of the connection has started, on both
// sides: Connect returns before the send pipeline has started all of its,
// and the server's read loop may start after WaitConn returns. A message
// sent through the pipeline and recorded by the server proves both.
func settle(t *testing.T, m *rxws.Manager, c *testutil.Conn) {
	t.Helper()
	if err := m.Send(testCtx(t), rxws.TextRequest("settle")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.WaitFrames(testCtx(t), 1); err != nil {
		t.Fatal(err)
	}
}

type fanResult struct {
	n   int
	err error
}

// pullHello attaches an IterMessagesWith subscriber and takes the preamble,
// so that it is attached, first, when pullHello returns.
func pullHello(t *testing.T, m *rxws.Manager, ctx context.Context, opts ...rxws.StreamOption) (func() (*rxws.Response, error, bool), func()) {
	t.Helper()
	next, stop := iter.Pull2(m.IterMessagesWith(ctx, opts...))
	r, err, ok := next()
	if !ok || err != nil || r.Data() != hello {
		stop()
		t.Fatalf("preamble: %v %v %v", r, err, ok)
	}
	return next, stop
}

// TestFanoutDropOldestSubscriberNeverSlowsTheOthers: four subscribers, one
// blocked on purpose with DropOldest and a 64-message buffer. The three
// others receive all 100,000 messages in order while it is blocked.
//
// The arithmetic is exact because the blocked subscriber is an iteration
// that took the preamble (Delivered 1) and then stops calling Next, and it
// joined first, so each stream message has been offered to it before the
// others see it. Once the others have all 100,000: every one of the 100,000
// was either dropped or is in its buffer, and DropOldest keeps the newest,
// so Buffered = 64 (messages 99,936..99,999) and Dropped = 99,936. Released,
// it drains those 64: they are delivered when taken, so at the end
// Dropped + (Delivered - 1 for the preamble) = 99,936 + 64 = 100,000.
func TestFanoutDropOldestSubscriberNeverSlowsTheOthers(t *testing.T) {
	const total, buf = 100_000, 64
	st := newStreamer(total, true)
	_, m := connect(t, st.serve)
	ctx := testCtx(t)

	var slowMeter rxws.Meter
	slowNext, slowStop := pullHello(t, m, ctx,
		rxws.WithName("slow"), rxws.WithBuffer(buf), rxws.WithOverflow(rxws.DropOldest), rxws.WithMeter(&slowMeter))
	defer slowStop()

	observers := []<-chan rxgo.Item{
		m.Messages().Observe(rxgo.WithContext(ctx)),
		m.MessagesWith([]rxws.StreamOption{rxws.WithName("big"), rxws.WithBuffer(4096)}, rxgo.WithContext(ctx)).Observe(),
		m.MessagesWith([]rxws.StreamOption{rxws.WithName("chan")}, rxgo.WithContext(ctx), rxgo.WithBufferedChannel(512)).Observe(),
	}
	if n := len(m.Stats()); n != 4 {
		t.Fatalf("%d subscribers, want 4", n)
	}
	reached := make(chan struct{}, len(observers))
	results := make(chan fanResult, len(observers))
	for _, ch := range observers {
		go func() {
			n, err := inOrder(t, ch, total, reached)
			results <- fanResult{n, err}
		}()
	}
	close(st.start)
	for range observers {
		await(t, ctx, m, reached, "an observer to have every message")
	}

	// The stream is still open (the server waits on finish) and nothing
	// moves: a snapshot is exact.
	stats := m.Stats()
	want := rxws.StreamStats{Name: "slow", Policy: rxws.DropOldest, Delivered: 1, Dropped: total - buf, Buffered: buf, Capacity: buf}
	if len(stats) != 4 || stats[0] != want {
		t.Fatalf("slow subscriber's stats %+v, want %+v", stats, want)
	}
	for _, s := range stats[1:] {
		if s.Delivered != total || s.Dropped != 0 || s.Policy != rxws.Block {
			t.Fatalf("a lossless subscriber's stats: %+v", s)
		}
	}

	close(st.finish) // normal close: every stream completes without an error
	for range observers {
		if r := <-results; r.n != total || r.err != nil {
			t.Fatalf("observer saw %d messages, error %v; want %d, none", r.n, r.err, total)
		}
	}
	var tail []int
	for {
		r, err, ok := slowNext()
		if !ok {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		tail = append(tail, seqOf(t, r))
	}
	for i, s := range tail {
		if s != total-buf+i {
			t.Fatalf("slow subscriber's messages %v..., want the newest %d", tail[:i+1], buf)
		}
	}
	if len(tail) != buf {
		t.Fatalf("slow subscriber drained %d messages, want %d", len(tail), buf)
	}
	if d, dr := slowMeter.Delivered(), slowMeter.Dropped(); d != buf+1 || dr != total-buf || dr+d-1 != total {
		t.Fatalf("slow meter: delivered %d (with the preamble), dropped %d; want %d, %d", d, dr, buf+1, total-buf)
	}
}

// TestFanoutBlockHoldsTheReaderUntilReleased: a blocked Block subscriber
// stops the reader, so the server's writes stall in TCP flow control well
// short of the total; released, everyone gets every message in order.
//
// The blocked subscriber joined first, took the preamble and stopped: its
// buffer of 16 fills with messages 0..15 and the offer of message 16 waits,
// so the two other subscribers have exactly 16 messages and can get no more.
func TestFanoutBlockHoldsTheReaderUntilReleased(t *testing.T) {
	const total, buf = 100_000, 16
	st := newStreamer(total, true)
	close(st.finish)
	srv, m := connect(t, st.serve)
	ctx := testCtx(t)

	blockedNext, blockedStop := pullHello(t, m, ctx, rxws.WithName("blocked"), rxws.WithBuffer(buf))
	defer blockedStop()
	var counts [2]struct {
		sync.Mutex
		n int
	}
	reached := make(chan struct{}, 2)
	results := make(chan fanResult, 2)
	for i := range counts {
		ch := m.Messages().Observe(rxgo.WithContext(ctx))
		go func() {
			n := 0
			var err error
			for item := range ch {
				if item.E != nil {
					err = item.E
					continue
				}
				if got := seqOf(t, item.V.(*rxws.Response)); got != n {
					t.Errorf("observer %d: message %d has seq %d", i, n, got)
				}
				n++
				counts[i].Lock()
				counts[i].n = n
				counts[i].Unlock()
				if n == buf {
					reached <- struct{}{}
				}
			}
			results <- fanResult{n, err}
		}()
	}
	close(st.start)
	await(t, ctx, m, reached, "observer to fill")
	await(t, ctx, m, reached, "observer to fill")

	sent := srv.Sent()
	t.Logf("while blocked: the server had written %d of %d messages (TCP buffers hold the difference)", sent, total)
	if sent > total/4 {
		t.Fatalf("server wrote %d of %d messages while the reader was held", sent, total)
	}
	stats := m.Stats()
	if want := (rxws.StreamStats{Name: "blocked", Policy: rxws.Block, Delivered: 1, Buffered: buf, Capacity: buf}); stats[0] != want {
		t.Fatalf("blocked stats %+v, want %+v", stats[0], want)
	}
	for i := range counts {
		counts[i].Lock()
		n := counts[i].n
		counts[i].Unlock()
		if n != buf {
			t.Fatalf("observer %d has %d messages while the reader is held, want %d", i, n, buf)
		}
	}

	// Release: the blocked subscriber reads everything, the reader resumes.
	got := 0
	for {
		r, err, ok := blockedNext()
		if !ok {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if s := seqOf(t, r); s != got {
			t.Fatalf("blocked subscriber: message %d has seq %d", got, s)
		}
		got++
	}
	if got != total {
		t.Fatalf("blocked subscriber got %d, want %d", got, total)
	}
	for range counts {
		if r := <-results; r.n != total || r.err != nil {
			t.Fatalf("observer got %d, %v; want %d, none", r.n, r.err, total)
		}
	}
	if srv.Sent() != total+1 {
		t.Fatalf("server sent %d, want %d", srv.Sent(), total+1)
	}
}

// TestFanoutLateJoinSeesMessagesFromWhenItJoined: a subscriber that joins
// while the stream runs gets exactly the messages read after it joined.
func TestFanoutLateJoinSeesMessagesFromWhenItJoined(t *testing.T) {
	const half = 1000
	more := make(chan struct{})
	srv := testutil.NewServer(t, func(c *testutil.Conn) {
		for i := 0; i < 2*half; i++ {
			if i == half {
				select {
				case <-more:
				case <-c.Done():
					return
				}
			}
			if c.SendText(string(seqMsg(i))) != nil {
				return
			}
		}
	})
	m := rxws.NewManager(nil)
	ctx := testCtx(t)
	early := m.Messages().Observe(rxgo.WithContext(ctx)) // before Connect: the next connection's stream
	if err := m.Connect(ctx, srv.URL); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Disconnect(context.Background()) })
	reached := make(chan struct{}, 1)
	earlyDone := make(chan fanResult, 1)
	go func() {
		n, err := inOrder(t, early, half, reached)
		earlyDone <- fanResult{n, err}
	}()
	// With one subscriber, its having message half-1 means the reader has
	// published it and now waits for the server's next frame.
	await(t, ctx, m, reached, "the first half")
	late := m.Messages().Observe(rxgo.WithContext(ctx))
	close(more)
	var seqs []int
	for item := range late {
		if item.E != nil {
			t.Fatal(item.E)
		}
		seqs = append(seqs, seqOf(t, item.V.(*rxws.Response)))
	}
	if len(seqs) != half || seqs[0] != half || seqs[half-1] != 2*half-1 {
		t.Fatalf("late subscriber got %d messages, first %v", len(seqs), seqs[:min(3, len(seqs))])
	}
	for i, s := range seqs {
		if s != half+i {
			t.Fatalf("late message %d has seq %d", i, s)
		}
	}
	if r := <-earlyDone; r.n != 2*half || r.err != nil {
		t.Fatalf("early subscriber got %d, %v", r.n, r.err)
	}
}

// TestFanoutCancelReleasesSubscribersAndGoroutines: a subscriber that
// cancels its context, stops its iteration or ends its operator chain's
// context leaves at once: a blocked Block subscriber that leaves frees the
// reader, and no goroutine of theirs survives.
func TestFanoutCancelReleasesSubscribersAndGoroutines(t *testing.T) {
	srv, m := connect(t, testutil.Hold)
	ctx := testCtx(t)
	c, err := srv.WaitConn(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	send := func(from, to int) {
		for i := from; i < to; i++ {
			if err := c.SendText(string(seqMsg(i))); err != nil {
				t.Fatal(err)
			}
		}
	}
	settle(t, m, c)
	before := goleak.IgnoreCurrent()
	names := func() (out []string) {
		for _, s := range m.Stats() {
			out = append(out, s.Name)
		}
		return out
	}

	// iterating: attached first, it will stop after one stream message.
	if err := c.SendText(hello); err != nil {
		t.Fatal(err)
	}
	iterNext, iterStop := pullHello(t, m, ctx, rxws.WithName("iterating"))
	defer iterStop()

	// stuck is lossless, holds 1 message in its buffer and 1 in its
	// goroutine, and nobody reads it: the reader stops at message 2.
	stuckCtx, cancelStuck := context.WithCancel(ctx)
	defer cancelStuck()
	_ = m.MessagesWith([]rxws.StreamOption{rxws.WithName("stuck"), rxws.WithBuffer(1)}, rxgo.WithContext(stuckCtx), rxgo.WithBufferedChannel(0)).Observe()

	// keeper reads everything, counting.
	keepCtx, cancelKeep := context.WithCancel(ctx)
	defer cancelKeep()
	keeper := m.MessagesWith([]rxws.StreamOption{rxws.WithName("keeper")}, rxgo.WithContext(keepCtx)).Observe()
	all := make(chan struct{}, 1)
	keeperDone := make(chan fanResult, 1)
	go func() {
		n, err := inOrder(t, keeper, 10, all)
		keeperDone <- fanResult{n, err}
	}()

	// chained: an operator chain whose context is cancelled mid-stream.
	chainCtx, cancelChain := context.WithCancel(ctx)
	defer cancelChain()
	chained := m.MessagesWith([]rxws.StreamOption{rxws.WithName("chained")}).
		Map(func(_ context.Context, v any) (any, error) { return v, nil }, rxgo.WithContext(chainCtx)).Observe()

	if got, want := names(), []string{"iterating", "stuck", "keeper", "chained"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("subscribers %v, want %v", got, want)
	}
	send(0, 10)

	if r, err, ok := iterNext(); !ok || err != nil || seqOf(t, r) != 0 {
		t.Fatalf("iteration: %v %v %v", r, err, ok)
	}
	iterStop() // the iteration returns and its subscriber leaves before iterStop does
	if got, want := names(), []string{"stuck", "keeper", "chained"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("after the iteration stopped: %v, want %v", got, want)
	}

	<-chained // it had message 0
	cancelChain()
	for range chained { // the chain closes its channel once its context ends
	}
	if s := m.Stats()[0]; s.Name != "stuck" || s.Delivered+uint64(s.Buffered) > 2 {
		t.Fatalf("stuck subscriber %+v", s)
	}
	cancelStuck() // the reader moves on: keeper gets all 10
	await(t, ctx, m, all, "keeper to have all 10")
	cancelKeep()
	if r := <-keeperDone; r.n != 10 {
		t.Fatalf("keeper got %d, want 10", r.n)
	}
	goleak.VerifyNone(t, before)
	if s := m.Stats(); len(s) != 0 {
		t.Fatalf("subscribers left behind: %+v", s)
	}
}

// An observer without a context stays attached while its stream lasts, and
// not after: once Disconnect has ended the stream, Stats list it no more.
func TestStatsListNoObserverOfAnEndedStream(t *testing.T) {
	_, m := connect(t, testutil.Echo)
	ctx := testCtx(t)
	ch := m.MessagesWith([]rxws.StreamOption{rxws.WithName("until the end")}).Observe()
	if s := m.Stats(); len(s) != 1 {
		t.Fatalf("Stats %+v; want the observer", s)
	}
	if err := m.Disconnect(ctx); err != nil {
		t.Fatal(err)
	}
	for range ch {
	}
	if s := m.Stats(); len(s) != 0 {
		t.Fatalf("the stream has ended, yet Stats list %+v", s)
	}
}

type trade struct {
	Seq int    `json:"seq"`
	Sym string `json:"sym"`
	Px  string `json:"px"`
}

// TestDecodeJSONIntoAStructWithAMalformedMessage: the malformed message is
// an error item in its place and the stream goes on; a StopOnError decoder
// ends at it.
func TestDecodeJSONIntoAStructWithAMalformedMessage(t *testing.T) {
	msgs := [][]byte{seqMsg(0), seqMsg(1), []byte(`{"seq":2,"sym":`), seqMsg(3), []byte(`{"seq":"four"}`), seqMsg(5)}
	srv := testutil.NewServer(t, testutil.Stream(msgs))
	m := rxws.NewManager(nil)
	ctx := testCtx(t)
	lenient := rxws.DecodeJSON[trade](m.Messages(), rxgo.WithContext(ctx)).Observe()
	strict := rxws.JSONDecoder[trade]()
	strict.StopOnError = true
	stopping := strict.Observable(m.Messages(), rxgo.WithContext(ctx)).Observe()
	if err := m.Connect(ctx, srv.URL); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Disconnect(context.Background()) })

	collect := func(ch <-chan rxgo.Item) (got []any) {
		for item := range ch {
			if item.E != nil {
				var de *operators.DecodeError
				if !errors.As(item.E, &de) || de.Value.(*rxws.Response) == nil {
					t.Fatalf("error item %v is not a decode error", item.E)
				}
				got = append(got, "error")
				continue
			}
			tr := item.V.(*trade)
			if tr.Sym != "BTCUSDT" || tr.Px != "27123.45000000" {
				t.Fatalf("decoded %+v", tr)
			}
			got = append(got, tr.Seq)
		}
		return got
	}
	if got, want := collect(lenient), []any{0, 1, "error", 3, "error", 5}; !reflect.DeepEqual(got, want) {
		t.Fatalf("lenient decode: %v, want %v", got, want)
	}
	if got, want := collect(stopping), []any{0, 1, "error"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("stop-on-error decode: %v, want %v", got, want)
	}
}

// TestMessagesComposeWithRxgoOperators: Map, Filter, Take and
// BufferWithCount on Messages, each observer with its own context. Take
// stops reading after 10: cancelling its context releases its lossless
// subscriber, which would otherwise hold the reader once its buffer filled.
func TestMessagesComposeWithRxgoOperators(t *testing.T) {
	const total = 1000
	st := newStreamer(total, false)
	close(st.finish)
	_, m := connect(t, st.serve)
	seq := func(_ context.Context, v any) (any, error) { return seqOf(t, v.(*rxws.Response)), nil }

	takeCtx, cancelTake := context.WithCancel(testCtx(t))
	defer cancelTake()
	// The context goes to Observe: options flow upstream into every
	// operator and the subscriber. Given only to Messages it would stop the
	// subscriber but not Map and Filter, which Take leaves blocked.
	evens := m.Messages().
		Map(seq).
		Filter(func(v any) bool { return v.(int)%2 == 0 }).
		Take(10).
		Observe(rxgo.WithContext(takeCtx))

	batchCtx, cancelBatch := context.WithCancel(testCtx(t))
	defer cancelBatch()
	batches := m.Messages().Map(seq).BufferWithCount(100).Observe(rxgo.WithContext(batchCtx))
	close(st.start)

	var got []any
	for item := range evens {
		if item.E != nil {
			t.Fatal(item.E)
		}
		got = append(got, item.V)
	}
	if want := []any{0, 2, 4, 6, 8, 10, 12, 14, 16, 18}; !reflect.DeepEqual(got, want) {
		t.Fatalf("Take(10) of the evens: %v", got)
	}
	cancelTake()

	next := 0
	for item := range batches {
		if item.E != nil {
			t.Fatal(item.E)
		}
		b := item.V.([]any)
		if len(b) != 100 {
			t.Fatalf("batch of %d", len(b))
		}
		for _, v := range b {
			if v != next {
				t.Fatalf("batched %v, want %d", v, next)
			}
			next++
		}
	}
	if next != total {
		t.Fatalf("batches held %d messages, want %d", next, total)
	}
}

// clientGoroutines counts the goroutines running rxpype or rxgo code outside
// the test server and the test itself.
func clientGoroutines() int {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	n := 0
	for _, g := range strings.Split(string(buf), "\n\n") {
		if (strings.Contains(g, "github.com/rxpype/rxpype/") || strings.Contains(g, "github.com/reactivex/rxgo")) &&
			!strings.Contains(g, "internal/testutil") && !strings.Contains(g, "rxws_test.") {
			n++
		}
	}
	return n
}

// TestGoroutinesPerConnectionAndSubscriber documents what a manager costs
// in goroutines: a fixed set per connection, one per Messages observer and
// one per operator after it, none for IterMessages (it runs in its caller's
// goroutine) or Receive.
func TestGoroutinesPerConnectionAndSubscriber(t *testing.T) {
	srv := testutil.NewServer(t, testutil.Hold)
	m := rxws.NewManager(nil)
	ctx := testCtx(t)
	idle, idleAll := clientGoroutines(), runtime.NumGoroutine()
	if err := m.Connect(ctx, srv.URL); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Disconnect(context.Background()) })
	c, err := srv.WaitConn(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	settle(t, m, c)
	perConn := clientGoroutines() - idle
	t.Logf("per connection: %d client goroutines (%d in all with the test server's)", perConn, runtime.NumGoroutine()-idleAll)
	// 5 without a throttler or timers: reader, writer, supervisor, and the
	// writer's Subject pump and fused pre-processor chain. Logged, not
	// pinned: liveness timers and throttling belong to other work.
	if perConn < 3 {
		t.Errorf("per connection: %d goroutines, want at least reader, writer and supervisor", perConn)
	}

	base, before := runtime.NumGoroutine(), goleak.IgnoreCurrent()
	obsCtx, cancel := context.WithCancel(ctx)
	_ = m.Messages().Observe(rxgo.WithContext(obsCtx))
	yieldAll() // Observe asks rxgo for its context with a goroutine that ends at once
	oneObserver := runtime.NumGoroutine() - base
	_ = m.Messages().Map(func(_ context.Context, v any) (any, error) { return v, nil }).Observe(rxgo.WithContext(obsCtx))
	yieldAll()
	mapped := runtime.NumGoroutine() - base - oneObserver
	_ = rxws.DecodeJSON[trade](m.Messages(), rxgo.WithContext(obsCtx)).Observe()
	yieldAll()
	decoded := runtime.NumGoroutine() - base - oneObserver - mapped
	t.Logf("per subscriber: Messages().Observe %d, with one Map %d, DecodeJSON %d", oneObserver, mapped, decoded)
	if oneObserver != 0 || mapped != 1 || decoded != 1 || len(m.Stats()) != 3 {
		t.Errorf("per subscriber: %d, %d, %d goroutines, %d subscribers; want 0, 1, 1 and 3", oneObserver, mapped, decoded, len(m.Stats()))
	}
	cancel()
	goleak.VerifyNone(t, before) // leaving frees them all
	if n := runtime.NumGoroutine(); n != base {
		t.Fatalf("%d goroutines after the observers left, want %d", n, base)
	}

	// With nobody listening the reader holds "x" for the iteration.
	if err := c.SendText("x"); err != nil {
		t.Fatal(err)
	}
	got, done, finished := make(chan *rxws.Response), make(chan struct{}), make(chan struct{})
	go func() { // the caller's goroutine: the iteration starts none of its own
		defer close(finished)
		for r := range m.IterMessagesWith(ctx) {
			got <- r
			<-done
			break
		}
	}()
	if r := await(t, ctx, m, got, "the iteration"); r.Data() != "x" {
		t.Fatalf("iteration got %v", r)
	}
	if n := runtime.NumGoroutine() - base; n != 1 || len(m.Stats()) != 1 {
		t.Errorf("iterating: %d goroutines beyond the caller's own, %d subscribers; want 0 and 1", n-1, len(m.Stats()))
	}
	close(done)
	<-finished
}

// yieldAll gives goroutines that are about to exit the chance to.
func yieldAll() {
	for range 100 {
		runtime.Gosched()
	}
}
