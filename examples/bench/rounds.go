package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
)

// warmN caps the messages of a stream or fanout warm-up run, and
// warmEcho the round trips of an echo one.
const (
	warmN    = 20_000
	warmEcho = 1_000
)

// errInterrupted ends a run that Ctrl-C or SIGTERM cut short: it reports no
// figures, since the last one measured less than it should have.
var errInterrupted = errors.New("interrupted: no results reported")

// A step is one client's run of one workload. run measures once and adds
// the figures to the rows; in the warm-up (round < 0) it runs a shorter
// pass and records nothing.
type step struct {
	workload, label string
	run             func(round int) error
}

// bench holds what the steps share.
type bench struct {
	ctx      context.Context
	o        options
	srv      *server // nil with -url
	checkSeq bool
	rows     *rowSet
	rep      *report
	progress func(string)
}

// streamURL is the embedded server's stream of n messages, or -url's
// stream (as many as that server sends).
func (b *bench) streamURL(n int) string {
	if b.srv == nil {
		return b.o.url
	}
	return fmt.Sprintf("%s/stream?n=%d&size=%d", b.srv.URL, n, b.o.size)
}

// rounds warms every step up once, untimed, so that no client is measured
// cold (the process's first connections, heap growth, code paths), then
// runs the A/B rounds: each group is a workload's steps, and the order of
// its clients alternates from round to round.
func (b *bench) rounds(groups [][]step) error {
	run := func(s step, round int) error {
		err := s.run(round)
		if b.ctx.Err() != nil {
			// The run's error, or its figure, is the interrupt's doing.
			err = errInterrupted
		}
		switch {
		case err == nil:
			return nil
		case round < 0:
			return fmt.Errorf("%s %s, warm-up: %w", s.workload, s.label, err)
		}
		return fmt.Errorf("%s %s, round %d: %w", s.workload, s.label, round+1, err)
	}
	b.progress("warm-up: one untimed run of each client of each workload")
	for _, g := range groups {
		for _, s := range g {
			if err := run(s, -1); err != nil {
				return err
			}
		}
	}
	for round := 0; round < b.o.rounds; round++ {
		for _, g := range groups {
			if round%2 == 1 {
				g = slices.Clone(g)
				slices.Reverse(g)
			}
			for _, s := range g {
				if err := run(s, round); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// plan returns the steps of the workloads and clients asked for, grouped
// by workload.
func (b *bench) plan() [][]step {
	var groups [][]step
	add := func(g []step) {
		if len(g) > 0 {
			groups = append(groups, g)
		}
	}
	clients := func(w string, mk func(client string) []step) {
		if !b.o.workloads[w] {
			return
		}
		var g []step
		for _, c := range []string{"raw", "rxpype"} {
			if b.o.clients[c] {
				g = append(g, mk(c)...)
			}
		}
		add(g)
	}
	for _, typed := range []bool{true, false} {
		w := map[bool]string{true: "stream-typed", false: "stream-raw"}[typed]
		clients(w, func(c string) []step { return []step{b.streamStep(w, c, typed)} })
	}
	if b.srv == nil {
		return groups // -url: the stream workloads only
	}
	for _, w := range []string{"echo", "echo-observe"} {
		clients(w, func(c string) []step {
			if w == "echo-observe" && c == "raw" {
				return nil // echo-observe is compared with echo's raw figures
			}
			return []step{b.echoStep(w, c)}
		})
	}
	for _, w := range []string{"fanout", "fanout-shared"} {
		rawFan := func(label, metric string, how fanDecode, burst int) step {
			return b.fanoutStep(w, label, metric, func(url string) (fanoutResult, error) {
				return rawFanout(b.ctx, url, b.o.fanout, b.checkSeq, how, burst)
			})
		}
		clients(w, func(c string) []step {
			switch {
			case c == "rxpype":
				return []step{b.fanoutStep(w, c, "msgs/s/sub", func(url string) (fanoutResult, error) {
					return rxFanout(b.ctx, url, b.o.fanout, b.checkSeq, w == "fanout-shared")
				})}
			case w == "fanout-shared":
				// The same work as rxpype's post-processor: one decode, in the reader.
				return []step{rawFan(c, "msgs/s/sub", decodeInReader, 1)}
			}
			// The same work as rxpype's resp.Decode (each message decoded
			// once among the subscribers), one message per send as an
			// Observable delivers; then, in rows of their own, every
			// subscriber decoding every message, and bursts.
			return []step{
				rawFan(c, "msgs/s/sub", decodeShared, 1),
				rawFan("raw-each", eachMetric, decodeEach, 1),
				rawFan("raw-burst", burstMetric, decodeShared, fanoutBurst),
			}
		})
	}
	return groups
}

func (b *bench) streamStep(w, client string, typed bool) step {
	return step{w, client, func(round int) error {
		n := b.o.n
		if round < 0 {
			n = min(n, warmN)
		}
		f := rawStream
		if client == "rxpype" {
			f = rxStream
		}
		r, err := f(b.ctx, b.streamURL(n), typed, b.checkSeq)
		switch {
		case err != nil:
			return err
		case b.checkSeq && r.msgs != n:
			return fmt.Errorf("%d messages, want %d", r.msgs, n)
		case round < 0:
			return nil
		}
		if r.msgs > 0 {
			b.rep.FrameBytes = int(r.bytes / int64(r.msgs))
		}
		b.rows.add(w, "msgs/s", client, r.rate())
		b.rows.add(w, "allocs/msg", client, r.allocsPerMsg())
		b.progress(fmt.Sprintf("round %d %-12s %-6s %10.0f msgs/s %6.2f allocs/msg (%d msgs, %d bytes, %v)",
			round+1, w, client, r.rate(), r.allocsPerMsg(), r.msgs, r.bytes, r.elapsed.Round(time.Millisecond)))
		return nil
	}}
}

func (b *bench) echoStep(w, client string) step {
	msg, _ := tradePayload(0, b.o.size)
	url := b.srv.URL + "/echo"
	return step{w, client, func(round int) error {
		n := b.o.echoN
		if round < 0 {
			n = min(n, warmEcho)
		}
		var lat latencies
		var err error
		if client == "raw" {
			lat, err = rawEcho(b.ctx, url, n, msg)
		} else {
			lat, err = rxEcho(b.ctx, url, n, msg, w == "echo")
		}
		if err != nil || round < 0 {
			return err
		}
		p50, p99 := us(lat.percentile(0.50)), us(lat.percentile(0.99))
		b.rows.add(w, "p50 µs", client, p50)
		b.rows.add(w, "p99 µs", client, p99)
		b.progress(fmt.Sprintf("round %d %-12s %-6s p50 %6.1f µs  p99 %6.1f µs", round+1, w, client, p50, p99))
		return nil
	}}
}

// fanoutStep runs fan, a fan-out of the stream, and records its rate per
// subscriber under metric (and label, in the progress lines).
func (b *bench) fanoutStep(w, label, metric string, fan func(url string) (fanoutResult, error)) step {
	client := "rxpype"
	if label != client {
		client = "raw"
	}
	return step{w, label, func(round int) error {
		n := b.o.fanoutN
		if round < 0 {
			n = min(n, warmN)
		}
		r, err := fan(b.streamURL(n))
		switch {
		case err != nil:
			return err
		case r.msgs != n:
			return fmt.Errorf("%d messages, want %d", r.msgs, n)
		case round < 0:
			return nil
		}
		b.rows.add(w, metric, client, median(r.rates))
		if metric == "msgs/s/sub" {
			b.rows.add(w, "min msgs/s/sub", client, slices.Min(r.rates))
		}
		b.progress(fmt.Sprintf("round %d %-13s %-9s %9.0f msgs/s per subscriber (median; min %.0f)",
			round+1, w, label, median(r.rates), slices.Min(r.rates)))
		return nil
	}}
}
