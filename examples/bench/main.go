// Command bench measures rxpype against raw gorilla/websocket, side by
// side, in one process, on the same embedded loopback server (issue 7).
//
//	go run ./examples/bench              # every workload, 5 A/B rounds, n=1,000,000
//	go run ./examples/bench -quick       # a smaller, faster run
//	go run ./examples/bench -json        # machine-readable results on stdout
//	go run ./examples/bench -url ws://HOST:PORT/PATH   # workloads 1 and 2 against that server
//	go run ./examples/bench -serve 127.0.0.1:9000      # only the server, for another process's -url
//	go run ./examples/bench -workloads stream-typed -clients rxpype -cpuprofile cpu.out
//	go run ./examples/bench -observe-buffer 256        # rxpype observers with a buffered rxgo channel
//
// Workloads:
//
//  1. stream-typed: the server writes n pre-encoded ~100-byte trade frames in
//     bulk; raw does ReadMessage + codec.Unmarshal into a struct (rxpype's
//     default codec called directly, goccy/go-json; encoding/json with
//     -std-json), rxpype reads Messages() through two post-processors (a map
//     and a filter keeping all) and decodes each *Response with resp.Decode
//     into the same struct.
//  2. stream-raw: the same stream, counting bytes only.
//  3. echo: sequential round trips of a 100-byte message (p50, p99 in µs):
//     raw WriteMessage/ReadMessage vs rxpype Send + the reply from Receive
//     (echo) or from a Messages() observer (echo-observe).
//  4. fanout: stream-typed (-fanout-n messages) to 4 observers of one
//     manager, each calling resp.Decode on every message (which decodes a
//     message once among them and copies it to the others); messages/s per
//     subscriber, against rxpype's stream-typed. fanout-shared: a map
//     post-processor decodes once (resp.WithData) and the observers read
//     resp.Data(). Both are also compared with the same work written by
//     hand on raw gorilla: one reader goroutine, a buffered channel per
//     subscriber, one message per send, each message decoded once among
//     the subscribers (for fanout-shared, once in the reader). Two more raw
//     fan-outs have rows of their own: every subscriber decoding every
//     message (more work than rxpype's), and 16 messages per channel send,
//     which rxgo observers cannot do: what batching the hand-off would give.
//  5. idle: many connected, subscribed clients against a server in a child
//     process: resident memory and goroutines per client.
//  6. allocations per message of 1 and 2 (runtime.MemStats.Mallocs / n,
//     the embedded server included: it allocates nothing per message, a
//     fixed amount per connection, and builds its frames before any run).
//
// Each client runs each workload once, untimed and shorter, before the
// rounds; rounds alternate which client goes first; the table shows medians.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/reactivex/rxgo/v2"
	"github.com/rxpype/rxpype/rxws"
)

type options struct {
	n, size, echoN, rounds, fanout, idle int
	fanoutN, observeBuffer               int
	url, serveAddr, cpuprofile, rxjsDir  string
	jsonOut, quick                       bool
	workloads, clients                   map[string]bool
	rxjs                                 bool // the RxJS peer runs (choose)
}

// fanoutBurst is how many messages the batching raw fan-out of fanout
// hands over per channel send; burstMetric names its row, and eachMetric
// the row of the raw fan-out whose subscribers each decode every message.
const (
	fanoutBurst = 16
	burstMetric = "raw, bursts/sub"
	eachMetric  = "raw, decode-each"
)

var (
	allWorkloads = []string{"stream-typed", "stream-raw", "echo", "echo-observe", "fanout", "fanout-shared", "idle"}
	allClients   = []string{"raw", "rxpype", "rxjs"}
)

func main() {
	var o options
	var workloads, clients string
	var idleServer bool
	flag.IntVar(&o.n, "n", 1_000_000, "messages per stream run")
	flag.IntVar(&o.size, "size", 100, "payload bytes per stream and echo message (at least ~95)")
	flag.IntVar(&o.echoN, "echo", 20_000, "timed round trips per echo run")
	flag.IntVar(&o.rounds, "rounds", 5, "A/B rounds")
	flag.IntVar(&o.fanout, "fanout", 4, "subscribers in the fanout workloads")
	flag.IntVar(&o.fanoutN, "fanout-n", 100_000, "messages per fanout run")
	flag.IntVar(&o.idle, "idle", 10_000, "clients in the idle workload (capped by RLIMIT_NOFILE)")
	flag.IntVar(&o.observeBuffer, "observe-buffer", 0, "pass rxgo.WithBufferedChannel(N) to rxpype's Observe calls (0: rxpype's defaults)")
	flag.StringVar(&o.url, "url", "", "ws://HOST:PORT/PATH: run stream-typed and stream-raw against this server, which streams on connect and then closes normally")
	flag.StringVar(&o.serveAddr, "serve", "", "HOST:PORT: only run the embedded server (its stream is /stream?n=N&size=S) until interrupted")
	flag.StringVar(&o.cpuprofile, "cpuprofile", "", "write a CPU profile of the run to this file")
	flag.BoolVar(&o.jsonOut, "json", false, "print the results as JSON on stdout (progress goes to stderr)")
	flag.BoolVar(&o.quick, "quick", false, "a short run: n=200,000, echo=5,000, rounds=3, idle=1,000 (explicit flags still win)")
	flag.StringVar(&workloads, "workloads", strings.Join(allWorkloads, ","), "workloads to run, comma-separated")
	flag.StringVar(&clients, "clients", strings.Join(allClients, ","), "clients to run, comma-separated (raw, rxpype, and rxjs: the optional RxJS peer on stream-typed, run when node and examples/bench/rxjs/node_modules are present)")
	flag.StringVar(&o.rxjsDir, "rxjs-dir", "", "the RxJS peer's directory (client.js, node_modules); default: examples/bench/rxjs under the working directory, else beside this program's source")
	stdCodec := flag.Bool("std-json", false, "decode with encoding/json on both sides instead of rxpype's default codec")
	flag.BoolVar(&idleServer, "idle-server", false, "internal: serve the idle workload for a parent bench process")
	flag.Parse()
	if *stdCodec {
		codec = rxws.StdJSON
	}

	if idleServer {
		if err := idleServerMain(); err != nil {
			fmt.Fprintln(os.Stderr, "bench idle server:", err)
			os.Exit(1)
		}
		return
	}
	if o.quick {
		set := map[string]bool{}
		flag.Visit(func(f *flag.Flag) { set[f.Name] = true })
		for _, q := range []struct {
			name string
			v    *int
			def  int
		}{{"n", &o.n, 200_000}, {"fanout-n", &o.fanoutN, 30_000}, {"echo", &o.echoN, 5_000}, {"rounds", &o.rounds, 3}, {"idle", &o.idle, 1_000}} {
			if !set[q.name] {
				*q.v = q.def
			}
		}
	}
	o.workloads = splitSet(workloads)
	o.clients = splitSet(clients)
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		if errors.As(err, new(usageError)) {
			os.Exit(2) // as flag does
		}
		os.Exit(1)
	}
}

// usageError is a flag that asks for something the bench cannot do.
type usageError string

func (e usageError) Error() string { return string(e) }

// choose checks the flags and settles what runs: it adds the workload a
// figure is compared with when only that figure was asked for, and drops
// what cannot run. Its notes say what it changed and why.
func choose(o *options) (notes []string, err error) {
	for _, k := range []struct {
		what  string
		sel   map[string]bool
		known []string
	}{{"-workloads", o.workloads, allWorkloads}, {"-clients", o.clients, allClients}} {
		for _, x := range slices.Sorted(maps.Keys(k.sel)) {
			if !slices.Contains(k.known, x) {
				return nil, usageError(fmt.Sprintf("%s: unknown %q (known: %s)", k.what, x, strings.Join(k.known, ", ")))
			}
		}
	}
	switch {
	case o.n < 1 || o.n > maxN || o.fanoutN < 1 || o.fanoutN > maxN:
		return nil, usageError(fmt.Sprintf("-n and -fanout-n must be between 1 and %d", maxN))
	case o.rounds < 1 || o.echoN < 1 || o.fanout < 1 || o.idle < 1:
		return nil, usageError("-rounds, -echo, -fanout and -idle must be positive")
	}
	w, c := o.workloads, o.clients
	drop := func(why string, names ...string) {
		var dropped []string
		for _, x := range names {
			if w[x] {
				dropped = append(dropped, x)
				delete(w, x)
			}
		}
		if len(dropped) > 0 {
			notes = append(notes, fmt.Sprintf("%s not run: %s", strings.Join(dropped, ", "), why))
		}
	}
	if o.url != "" {
		drop("they need the embedded server, and -url runs the stream workloads only",
			"echo", "echo-observe", "fanout", "fanout-shared", "idle")
	}
	if !c["raw"] || !c["rxpype"] {
		drop("it measures raw and rxpype together (-clients raw,rxpype)", "idle")
	}
	o.rxjs = w["stream-typed"] && c["rxjs"]
	if o.rxjs && o.url != "" {
		o.rxjs = false
		notes = append(notes, "no RxJS peer: it runs against the embedded server only")
	}
	if w["echo-observe"] && !w["echo"] && c["raw"] {
		w["echo"] = true
		notes = append(notes, "echo added: echo-observe is compared with echo's raw figures")
	}
	if (w["fanout"] || w["fanout-shared"]) && !w["stream-typed"] && c["rxpype"] {
		w["stream-typed"] = true
		notes = append(notes, "stream-typed added: fanout's figures are per subscriber against rxpype's stream-typed")
	}
	if (w["fanout"] || w["fanout-shared"]) && !c["rxpype"] {
		notes = append(notes, "fanout: no ratios and no verdict: they compare with rxpype's figures, and -clients has no rxpype")
	}
	runs := o.rxjs || w["idle"] || (w["echo-observe"] && c["rxpype"])
	for _, x := range []string{"stream-typed", "stream-raw", "echo", "fanout", "fanout-shared"} {
		runs = runs || w[x] && (c["raw"] || c["rxpype"])
	}
	if !runs {
		return notes, usageError(strings.Join(append(notes, "nothing to run: no workload asked for has a client asked for "+
			"(echo-observe needs rxpype, idle raw and rxpype, and the RxJS peer stream-typed)"), "; "))
	}
	return notes, nil
}

func splitSet(s string) map[string]bool {
	m := map[string]bool{}
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			m[f] = true
		}
	}
	return m
}

func run(o options) error {
	notes, err := choose(&o)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	context.AfterFunc(ctx, stop) // a second Ctrl-C kills at once
	if o.serveAddr != "" {
		return serve(ctx, o.serveAddr, o.n, o.size, func(url string) {
			fmt.Printf("serving %s/stream?n=%d&size=%d (and /echo, /idle); interrupt to stop\n", url, o.n, o.size)
		})
	}
	progress := func(s string) { fmt.Fprintln(os.Stderr, s) }
	if !o.jsonOut {
		progress = func(s string) { fmt.Fprintln(os.Stderr, "  "+s) }
	}
	for _, n := range notes {
		progress("note: " + n)
	}
	if o.cpuprofile != "" {
		f, err := os.Create(o.cpuprofile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}

	if o.observeBuffer > 0 {
		observeOpts = []rxgo.Option{rxgo.WithBufferedChannel(o.observeBuffer)}
	}
	rep := report{ObserveBuffer: o.observeBuffer,
		Go: runtime.Version(), OS: runtime.GOOS + "/" + runtime.GOARCH, CPUs: runtime.NumCPU(),
		GOMAXPROCS: runtime.GOMAXPROCS(0), CPU: cpuModel(), LoadStart: loadAvg(),
		Codec: codec.Name(), Size: o.size, Rounds: o.rounds, notes: notes,
	}
	// The sizes of what runs; 0 for what does not.
	if o.workloads["stream-typed"] || o.workloads["stream-raw"] {
		rep.N = o.n
	}
	if o.workloads["echo"] || o.workloads["echo-observe"] {
		rep.Echo = o.echoN
	}
	if o.workloads["fanout"] || o.workloads["fanout-shared"] {
		rep.Fanout, rep.FanoutN = o.fanout, o.fanoutN
	}
	var srv *server
	if o.url == "" {
		if srv, err = startServer("127.0.0.1:0", o.n, o.size); err != nil {
			return err
		}
		defer srv.Close()
		rep.Server = "embedded loopback gorilla/websocket, pre-framed frames written straight to the socket"
	} else {
		rep.N = 0 // as many as the server sends
		rep.Server = "outside: " + o.url
	}
	progress(fmt.Sprintf("server %s; load %s", rep.Server, rep.LoadStart))

	rows := newRows()
	t0 := time.Now()
	b := &bench{ctx: ctx, o: o, srv: srv, checkSeq: srv != nil, rows: rows, rep: &rep, progress: progress}
	if err := b.rounds(b.plan()); err != nil {
		return err
	}
	if o.rxjs {
		dir := findRxjsDir(o.rxjsDir)
		if node, err := rxjsAvailable(dir); err != nil {
			progress("note: no RxJS peer: " + err.Error())
			rep.notes = append(rep.notes, "no RxJS peer: "+err.Error())
		} else {
			res := &rxjsResult{Node: node}
			for round := 0; round < o.rounds; round++ {
				rate, err := rxjsStream(ctx, dir, b.streamURL(o.n), o.n)
				if ctx.Err() != nil {
					err = errInterrupted
				}
				if err != nil {
					return fmt.Errorf("stream-typed rxjs, round %d: %w", round+1, err)
				}
				res.Rounds = append(res.Rounds, rate)
				progress(fmt.Sprintf("round %d stream-typed rxjs   %10.0f msgs/s", round+1, rate))
			}
			res.Rate = median(res.Rounds)
			rep.RxJS = res
		}
	}
	rep.Elapsed = time.Since(t0).Round(time.Second).String()
	if o.workloads["idle"] {
		idle, err := runIdle(ctx, o.idle, progress)
		if ctx.Err() != nil {
			err = errInterrupted
		}
		if err != nil {
			return err
		}
		rep.Idle = &idle
		rep.Elapsed = time.Since(t0).Round(time.Second).String()
	}
	rep.LoadEnd = loadAvg()
	rep.Rows = rows.finish(o)
	if rep.RxJS != nil {
		for _, row := range rep.Rows {
			if row.Workload == "stream-typed" && row.Metric == "msgs/s" && row.Rxpype != nil {
				rep.RxJS.VsRxpype = *row.Rxpype / rep.RxJS.Rate
			}
		}
	}
	if o.jsonOut {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	rep.print(os.Stdout)
	return nil
}

func us(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1000 }

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// rows collects every round's figure of every (workload, metric, client).
type rowKey struct{ workload, metric string }

type rowSet struct {
	order []rowKey
	vals  map[rowKey]map[string][]float64
}

func newRows() *rowSet { return &rowSet{vals: map[rowKey]map[string][]float64{}} }

func (r *rowSet) add(workload, metric, client string, v float64) {
	k := rowKey{workload, metric}
	if r.vals[k] == nil {
		r.vals[k] = map[string][]float64{}
		r.order = append(r.order, k)
	}
	r.vals[k][client] = append(r.vals[k][client], v)
}

// Row is one line of the table: medians over the rounds, and each round.
type Row struct {
	Workload     string    `json:"workload"`
	Metric       string    `json:"metric"`
	Raw          *float64  `json:"raw,omitempty"`
	Rxpype       *float64  `json:"rxpype,omitempty"`
	RawRounds    []float64 `json:"raw_rounds,omitempty"`
	RxpypeRounds []float64 `json:"rxpype_rounds,omitempty"`
	Compare      string    `json:"compare,omitempty"` // what Ratio is
	Ratio        *float64  `json:"ratio,omitempty"`
	// Paired is the median of the rounds' own ratios (differences for
	// allocs): less swayed by load that changes between rounds.
	Paired *float64 `json:"paired,omitempty"`
	Target string   `json:"target,omitempty"`
	Met    *bool    `json:"met,omitempty"`
}

func ptr[T any](v T) *T { return &v }

func (r *rowSet) finish(o options) []Row {
	var rows []Row
	med := func(w, m, c string) *float64 {
		if v := r.vals[rowKey{w, m}][c]; len(v) > 0 {
			return ptr(median(v))
		}
		return nil
	}
	for _, k := range r.order {
		row := Row{Workload: k.workload, Metric: k.metric,
			RawRounds: r.vals[k]["raw"], RxpypeRounds: r.vals[k]["rxpype"],
			Raw: med(k.workload, k.metric, "raw"), Rxpype: med(k.workload, k.metric, "rxpype")}
		rawRef := row.Raw
		if k.workload == "echo-observe" {
			rawRef = med("echo", k.metric, "raw")
			row.Raw = rawRef
		}
		if row.Rxpype != nil && rawRef != nil && *rawRef != 0 {
			diff := k.metric == "allocs/msg"
			if diff {
				row.Compare = "rxpype - raw"
				row.Ratio = ptr(*row.Rxpype - *rawRef)
			} else {
				row.Compare = "rxpype / raw"
				row.Ratio = ptr(*row.Rxpype / *rawRef)
			}
			raws := r.vals[k]["raw"]
			if k.workload == "echo-observe" {
				raws = r.vals[rowKey{"echo", k.metric}]["raw"]
			}
			if rx := row.RxpypeRounds; len(rx) == len(raws) {
				per := make([]float64, len(rx))
				for i := range rx {
					if diff {
						per[i] = rx[i] - raws[i]
					} else {
						per[i] = rx[i] / raws[i]
					}
				}
				row.Paired = ptr(median(per))
			}
		}
		switch {
		case k.workload == "stream-typed" && k.metric == "msgs/s":
			row.Target = ">= 0.90"
			if row.Ratio != nil {
				row.Met = ptr(*row.Ratio >= 0.90)
			}
		case k.workload == "stream-raw" && k.metric == "msgs/s":
			row.Target = ">= 0.70"
			if row.Ratio != nil {
				row.Met = ptr(*row.Ratio >= 0.70)
			}
		case k.metric == "allocs/msg":
			row.Target = "<= +2"
			if row.Ratio != nil {
				row.Met = ptr(*row.Ratio <= 2)
			}
		case k.workload == "echo" && k.metric == "p50 µs", k.workload == "echo-observe" && k.metric == "p50 µs":
			row.Target = "<= raw + 15 µs"
			if row.Rxpype != nil && rawRef != nil {
				row.Met = ptr(*row.Rxpype <= *rawRef+15)
			}
		case k.workload == "echo" && k.metric == "p99 µs", k.workload == "echo-observe" && k.metric == "p99 µs":
			row.Target = "<= 2.00"
			if row.Ratio != nil {
				row.Met = ptr(*row.Ratio <= 2)
			}
		case k.workload == "fanout" || k.workload == "fanout-shared":
			if k.metric == burstMetric || k.metric == eachMetric {
				// Raw only: against rxpype's stream-typed.
				if st := med("stream-typed", "msgs/s", "rxpype"); st != nil && row.Raw != nil {
					row.Compare = "raw per subscriber / rxpype stream-typed"
					row.Ratio = ptr(*row.Raw / *st)
				}
				row.Paired = nil
				rows = append(rows, row)
				continue
			}
			// The target compares with rxpype's own stream-typed; the
			// hand-written raw fan-out doing the same work gets a row of
			// its own below.
			vsRaw := Row{Workload: k.workload, Metric: "vs raw fan-out", Raw: row.Raw, Rxpype: row.Rxpype, Compare: "rxpype / raw"}
			row.Paired = nil
			if row.Raw != nil && row.Rxpype != nil && *row.Raw != 0 {
				vsRaw.Ratio = ptr(*row.Rxpype / *row.Raw)
			}
			row.Ratio = nil
			if st := med("stream-typed", "msgs/s", "rxpype"); st != nil && row.Rxpype != nil {
				row.Compare = "per subscriber / rxpype stream-typed"
				row.Ratio = ptr(*row.Rxpype / *st)
				if k.metric == "msgs/s/sub" && k.workload == "fanout" {
					row.Target = ">= 0.80"
					row.Met = ptr(*row.Ratio >= 0.80)
				}
			}
			rows = append(rows, row)
			if k.metric == "msgs/s/sub" && vsRaw.Ratio != nil {
				rows = append(rows, vsRaw)
			}
			continue
		}
		rows = append(rows, row)
	}
	return rows
}

type report struct {
	Go         string `json:"go"`
	OS         string `json:"os"`
	CPU        string `json:"cpu"`
	CPUs       int    `json:"cpus"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	LoadStart  string `json:"load_start"`
	LoadEnd    string `json:"load_end"`
	Server     string `json:"server"`
	Codec      string `json:"codec"`
	// ObserveBuffer is -observe-buffer: 0 means rxpype's defaults.
	ObserveBuffer int         `json:"observe_buffer,omitempty"`
	N             int         `json:"n"`
	Size          int         `json:"size"`
	FrameBytes    int         `json:"payload_bytes,omitempty"`
	Echo          int         `json:"echo"`
	Rounds        int         `json:"rounds"`
	Fanout        int         `json:"fanout_subscribers"`
	FanoutN       int         `json:"fanout_n"`
	Elapsed       string      `json:"elapsed"`
	Rows          []Row       `json:"rows"`
	Idle          *idleResult `json:"idle,omitempty"`
	RxJS          *rxjsResult `json:"rxjs,omitempty"`
	notes         []string    // what choose changed, and other runs that did not happen
}

// ran says whether any row's workload begins with prefix.
func (r *report) ran(prefix string) bool {
	return slices.ContainsFunc(r.Rows, func(x Row) bool { return strings.HasPrefix(x.Workload, prefix) })
}

func (r *report) print(w io.Writer) {
	fmt.Fprintf(w, "rxpype bench: %s %s, %s, %d CPUs (GOMAXPROCS %d)\n", r.Go, r.OS, r.CPU, r.CPUs, r.GOMAXPROCS)
	fmt.Fprintf(w, "load average %s at start, %s at end; %s in all\n", r.LoadStart, r.LoadEnd, r.Elapsed)
	fmt.Fprintf(w, "server: %s\n", r.Server)
	fmt.Fprintf(w, "codec: %s (raw: codec.Unmarshal; rxpype: resp.Decode, its default)\n", r.Codec)
	if r.ObserveBuffer > 0 {
		fmt.Fprintf(w, "rxpype observers: rxgo.WithBufferedChannel(%d) (not rxpype's default)\n", r.ObserveBuffer)
	}
	var sizes []string // of what ran
	switch {
	case r.ran("stream") && r.N == 0:
		sizes = append(sizes, fmt.Sprintf("stream: as the outside server sends it (mean payload %d bytes)", r.FrameBytes))
	case r.ran("stream"):
		sizes = append(sizes, fmt.Sprintf("n=%d payload=%d bytes", r.N, r.FrameBytes))
	case r.RxJS != nil:
		sizes = append(sizes, fmt.Sprintf("n=%d", r.N))
	}
	if r.ran("echo") {
		sizes = append(sizes, fmt.Sprintf("echo=%d round trips", r.Echo))
	}
	sizes = append(sizes, fmt.Sprintf("%d A/B rounds (medians)", r.Rounds))
	if r.ran("fanout") {
		sizes = append(sizes, fmt.Sprintf("fanout: %d messages to %d subscribers", r.FanoutN, r.Fanout))
	}
	fmt.Fprintln(w, strings.Join(sizes, ", "))
	for _, n := range r.notes {
		fmt.Fprintln(w, "note: "+n)
	}
	if len(r.Rows) > 0 {
		fmt.Fprintf(w, "\n%-14s %-16s %11s %11s %8s %8s  %-14s %s\n", "workload", "metric", "raw", "rxpype", "ratio", "paired", "target", "")
	}
	num := func(p *float64, metric string) string {
		switch {
		case p == nil:
			return "-"
		case strings.HasPrefix(metric, "allocs") || strings.Contains(metric, "µs"):
			return fmt.Sprintf("%.2f", *p)
		default:
			return fmt.Sprintf("%.0f", *p)
		}
	}
	for _, row := range r.Rows {
		show := func(p *float64) string {
			switch {
			case p == nil:
				return "-"
			case row.Compare == "rxpype - raw":
				return fmt.Sprintf("%+.3f", *p)
			}
			return fmt.Sprintf("%.2f", *p)
		}
		ratio, paired := show(row.Ratio), show(row.Paired)
		met := ""
		if row.Met != nil {
			met = map[bool]string{true: "met", false: "MISSED"}[*row.Met]
		}
		name := row.Workload
		fmt.Fprintf(w, "%-14s %-16s %11s %11s %8s %8s  %-14s %s\n", name, row.Metric,
			num(row.Raw, row.Metric), num(row.Rxpype, row.Metric), ratio, paired, row.Target, met)
	}
	if r.Idle != nil {
		i := r.Idle
		fmt.Fprintf(w, "\nidle: %d clients against a server in a child process (RSS from /proc/self/status VmRSS)\n", i.Managers)
		if i.Note != "" {
			fmt.Fprintf(w, "  note: %s\n", i.Note)
		}
		fmt.Fprintf(w, "%-36s %12s %18s %12s\n", "per client", "RSS KiB", "heap+stacks KiB", "goroutines")
		for _, x := range []struct {
			name string
			c    perConn
		}{{"raw (conn + a reader goroutine)", i.Raw}, {"rxpype (connected, subscribed)", i.Rxpype}, {"rxpype (+ one Messages() observer)", i.Observed}} {
			fmt.Fprintf(w, "%-36s %12.1f %18.1f %12.2f\n", x.name, x.c.RSSKiB, x.c.HeapKiB, x.c.Goroutines)
		}
		ok := i.Observed.RSSKiB <= 64 && i.Observed.Goroutines <= 6
		fmt.Fprintf(w, "target: <= 64 KiB and <= 6 goroutines per manager (with its observer): %s\n",
			map[bool]string{true: "met", false: "MISSED"}[ok])
	}
	if x := r.RxJS; x != nil {
		vs := "no rxpype stream-typed figure was measured to compare with it (-clients has no rxpype)"
		if x.VsRxpype != 0 {
			vs = fmt.Sprintf("rxpype stream-typed / RxJS = %.2f (target >= 1.20)", x.VsRxpype)
		}
		fmt.Fprintf(w, "\npeer: RxJS webSocket() + map + filter on Node %s (ws, JSON.parse): %.0f msgs/s (median of %d); %s\n",
			x.Node, x.Rate, len(x.Rounds), vs)
	}
	if len(r.Rows) > 0 {
		fmt.Fprintln(w, "\nratio: rxpype/raw of the medians (allocs/msg: rxpype - raw, whole process, per message);")
		fmt.Fprintln(w, "paired: the median of each round's own ratio; targets are judged on ratio")
	}
	if r.ran("fanout") {
		fmt.Fprintln(w, "fanout: each subscriber calls resp.Decode, which decodes a message once among them; fanout-shared: a")
		fmt.Fprintln(w, "post-processor decodes once (resp.WithData) and subscribers read resp.Data(); both per subscriber against")
		fmt.Fprintln(w, "rxpype's stream-typed, and (vs raw fan-out) against the same work written by hand on raw gorilla: one reader")
		fmt.Fprintln(w, "goroutine, a buffered channel per subscriber, one message per send, each message decoded once (fanout: among")
		fmt.Fprintln(w, "the subscribers; fanout-shared: in the reader). Raw-only rows, against rxpype's stream-typed: raw, decode-each:")
		fmt.Fprintf(w, "every subscriber decodes every message (more work); raw, bursts/sub: decoded once, %d messages per channel\n", fanoutBurst)
		fmt.Fprintln(w, "send, which an rxgo Observable cannot (one item per message)")
	}
}
