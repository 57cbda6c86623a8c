package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gorilla/websocket"
	"github.com/reactivex/rxgo/v2"
	"github.com/rxpype/rxpype/rxws"
)

// The idle workload connects many clients to a server that runs in a child
// process (this program, with -idle-server): every socket then costs this
// process one file descriptor instead of two, and its resident memory and
// goroutines are the clients' alone.

// raiseFileLimit lifts the soft RLIMIT_NOFILE to the hard limit and returns
// the limit in force.
func raiseFileLimit() uint64 {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 1024
	}
	if rl.Cur < rl.Max {
		want := rl
		want.Cur = want.Max
		if syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want) == nil {
			rl = want
		}
	}
	return rl.Cur
}

// fdReserve is how many descriptors the rest of the program may need.
const fdReserve = 256

// idleServerMain is the child's main: serve /idle until stdin closes.
func idleServerMain() error {
	raiseFileLimit()
	s, err := startServer("127.0.0.1:0", 0, 0)
	if err != nil {
		return err
	}
	fmt.Println(s.URL + "/idle")
	_, _ = io.Copy(io.Discard, os.Stdin) // the parent ended, or is done
	_ = s.hs.Close()
	return nil
}

// idleChild is a running child server.
type idleChild struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	URL   string
}

func startIdleChild() (*idleChild, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe, "-idle-server")
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		_ = stdin.Close()
		_ = cmd.Wait()
		return nil, fmt.Errorf("idle server: %w", err)
	}
	return &idleChild{cmd: cmd, stdin: stdin, URL: strings.TrimSpace(line)}, nil
}

func (c *idleChild) stop() error {
	_ = c.stdin.Close()
	return c.cmd.Wait()
}

// footprint is the process's resident memory and goroutines at a moment.
type footprint struct {
	rssKiB     int64
	heapKiB    int64 // heap in use + goroutine stacks, from runtime.MemStats
	goroutines int
}

func measure() footprint {
	// Settle: let goroutines park, then return freed memory to the OS.
	time.Sleep(200 * time.Millisecond)
	runtime.GC()
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return footprint{
		rssKiB:     vmRSS(),
		heapKiB:    int64(ms.HeapInuse+ms.StackInuse) / 1024,
		goroutines: runtime.NumGoroutine(),
	}
}

func vmRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range bytes.Split(b, []byte("\n")) {
		if f := strings.Fields(string(line)); len(f) >= 2 && f[0] == "VmRSS:" {
			v, _ := strconv.ParseInt(f[1], 10, 64)
			return v
		}
	}
	return 0
}

// perConn is the cost of one idle client.
type perConn struct {
	RSSKiB     float64 `json:"rss_kib"`
	HeapKiB    float64 `json:"heap_and_stacks_kib"`
	Goroutines float64 `json:"goroutines"`
}

func costOf(before, after footprint, n int) perConn {
	return perConn{
		RSSKiB:     float64(after.rssKiB-before.rssKiB) / float64(n),
		HeapKiB:    float64(after.heapKiB-before.heapKiB) / float64(n),
		Goroutines: float64(after.goroutines-before.goroutines) / float64(n),
	}
}

type idleResult struct {
	Managers int     `json:"managers"`
	Asked    int     `json:"asked"`
	Note     string  `json:"note,omitempty"`
	Raw      perConn `json:"raw"`             // gorilla conn + a goroutine in ReadMessage
	Rxpype   perConn `json:"rxpype"`          // connected and subscribed
	Observed perConn `json:"rxpype_observed"` // and one Messages() observer each
}

// parallel runs f(0..n-1) on a few workers and returns the first error.
func parallel(n, workers int, f func(i int) error) error {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
		next  = make(chan int)
	)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := f(i); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
				}
			}
		}()
	}
	for i := 0; i < n; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
	return first
}

var subscribeMsg = []byte(`{"op":"subscribe","channel":"trades","symbol":"BTC-USD"}`)

func runIdle(ctx context.Context, asked int, progress func(string)) (idleResult, error) {
	res := idleResult{Asked: asked, Managers: asked}
	limit := raiseFileLimit()
	if need := uint64(asked) + fdReserve; limit < need {
		res.Managers = int(limit) - fdReserve
		res.Note = fmt.Sprintf("RLIMIT_NOFILE is %d here (hard limit): ran %d clients of the %d asked", limit, res.Managers, asked)
	}
	n := res.Managers
	if n <= 0 {
		return res, fmt.Errorf("idle: RLIMIT_NOFILE %d leaves no room for clients", limit)
	}
	child, err := startIdleChild()
	if err != nil {
		return res, err
	}
	defer child.stop()
	url := child.URL
	const workers = 32

	// A: raw gorilla clients, each with one goroutine blocked in ReadMessage.
	base := measure()
	conns := make([]*websocket.Conn, n)
	var readers sync.WaitGroup
	err = parallel(n, workers, func(i int) error {
		c, _, err := websocket.DefaultDialer.DialContext(ctx, url, nil)
		if err != nil {
			return err
		}
		conns[i] = c
		if err := c.WriteMessage(websocket.TextMessage, subscribeMsg); err != nil {
			return err
		}
		readers.Add(1)
		go func() {
			defer readers.Done()
			for {
				if _, _, err := c.ReadMessage(); err != nil {
					return
				}
			}
		}()
		return nil
	})
	if err == nil {
		res.Raw = costOf(base, measure(), n)
		progress(fmt.Sprintf("idle raw: %d conns, %.1f KiB RSS and %.2f goroutines each", n, res.Raw.RSSKiB, res.Raw.Goroutines))
	}
	for _, c := range conns {
		if c != nil {
			_ = c.WriteControl(websocket.CloseMessage,
				websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
		}
	}
	readers.Wait() // each reader sees the server's close reply
	for _, c := range conns {
		if c != nil {
			_ = c.Close()
		}
	}
	conns = nil
	if err != nil {
		return res, fmt.Errorf("idle raw: %w", err)
	}

	// B: rxpype managers, connected and subscribed; then one observer each.
	base = measure()
	ms := make([]*rxws.Manager, n)
	octx, cancel := context.WithCancel(ctx)
	defer cancel()
	err = parallel(n, workers, func(i int) error {
		m, _ := newManager()
		if err := m.Connect(ctx, url); err != nil {
			return err
		}
		ms[i] = m
		return m.Subscribe(ctx, rxws.JSONRequest(map[string]any{"op": "subscribe", "channel": "trades", "symbol": "BTC-USD"}))
	})
	var chans []<-chan rxgo.Item
	if err == nil {
		res.Rxpype = costOf(base, measure(), n)
		progress(fmt.Sprintf("idle rxpype: %d managers, %.1f KiB RSS and %.2f goroutines each", n, res.Rxpype.RSSKiB, res.Rxpype.Goroutines))
		chans = make([]<-chan rxgo.Item, n)
		for i, m := range ms {
			chans[i] = m.Messages().Observe(rxgo.WithContext(octx))
		}
		res.Observed = costOf(base, measure(), n)
		progress(fmt.Sprintf("idle rxpype observed: %.1f KiB RSS and %.2f goroutines each", res.Observed.RSSKiB, res.Observed.Goroutines))
	}
	cancel()
	for _, ch := range chans {
		for range ch {
		}
	}
	derr := parallel(n, 256, func(i int) error {
		if ms[i] == nil {
			return nil
		}
		return disconnect(ms[i])
	})
	if err == nil {
		err = derr
	}
	if err != nil {
		return res, fmt.Errorf("idle rxpype: %w", err)
	}
	return res, nil
}
