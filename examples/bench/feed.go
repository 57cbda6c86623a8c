package main

import (
	"encoding/binary"
	"fmt"
	"strings"
)

// Trade is the message of the stream workloads, decoded by both clients.
type Trade struct {
	Event  string  `json:"e"`
	Seq    int64   `json:"seq"`
	Symbol string  `json:"sym"`
	Price  float64 `json:"px"`
	Qty    float64 `json:"qty"`
	Side   string  `json:"side"`
	ID     string  `json:"id"`
}

// seqBase is the first sequence number. Every sequence number has
// seqDigits digits, so that the server patches them in place in
// pre-encoded frames without re-encoding anything.
const (
	seqBase   = 100_000_000
	seqDigits = 9
	maxN      = 899_999_999
)

// chunkFrames is how many frames the server patches and writes at once
// (about 100 KiB of 100-byte frames).
const chunkFrames = 1000

// tradePayload is the i-th trade, padded (through its id) to size bytes
// when size allows: {"e":"trade","seq":100000000,"sym":"BTC-USD",
// "px":43000.25,"qty":0.0123,"side":"buy","id":"…"}. It returns the
// offset of the sequence number's digits.
func tradePayload(i, size int) ([]byte, int) {
	side := "buy"
	if i%2 == 1 {
		side = "sell"
	}
	head := `{"e":"trade","seq":`
	body := fmt.Sprintf(`%d,"sym":"BTC-USD","px":%.2f,"qty":%.4f,"side":"%s","id":"`,
		seqBase+i, 43000+float64(i%4000)/4, float64(1+i%9999)/10000, side)
	tail := `"}`
	pad := size - len(head) - len(body) - len(tail)
	if pad < 1 {
		pad = 1
	}
	id := strings.Repeat("x", pad)
	// An id that varies a little, like a real trade id.
	idb := []byte(id)
	for j, v := 0, i; j < len(idb) && j < 6; j, v = j+1, v/26 {
		idb[len(idb)-1-j] = byte('a' + v%26)
	}
	return []byte(head + body + string(idb) + tail), len(head)
}

// frameHeader returns the header of an unmasked final text frame (what a
// server sends) carrying n bytes.
func frameHeader(n int) []byte {
	switch {
	case n <= 125:
		return []byte{0x81, byte(n)}
	case n <= 0xffff:
		h := []byte{0x81, 126, 0, 0}
		binary.BigEndian.PutUint16(h[2:], uint16(n))
		return h
	default:
		h := make([]byte, 10)
		h[0], h[1] = 0x81, 127
		binary.BigEndian.PutUint64(h[2:], uint64(n))
		return h
	}
}

// chunk is chunkFrames pre-framed trades in one buffer, ready to be written
// to the socket as they are once their sequence numbers are patched.
type chunk struct {
	buf   []byte
	ends  []int // end of each frame in buf
	seqAt []int // offset of each frame's sequence digits in buf
	size  int   // payload bytes per frame
}

func newChunk(size int) *chunk {
	c := &chunk{}
	for i := 0; i < chunkFrames; i++ {
		p, at := tradePayload(i, size)
		h := frameHeader(len(p))
		c.seqAt = append(c.seqAt, len(c.buf)+len(h)+at)
		c.buf = append(c.buf, h...)
		c.buf = append(c.buf, p...)
		c.ends = append(c.ends, len(c.buf))
		c.size = len(p)
	}
	return c
}

// clone returns a copy whose buffer may be patched.
func (c *chunk) clone() *chunk {
	d := *c
	d.buf = append([]byte(nil), c.buf...)
	return &d
}

// patch numbers the first k frames first, first+1, …; it returns the bytes
// of those k frames.
func (c *chunk) patch(first, k int) []byte {
	for j := 0; j < k; j++ {
		putDigits(c.buf[c.seqAt[j]:c.seqAt[j]+seqDigits], seqBase+first+j)
	}
	return c.buf[:c.ends[k-1]]
}

func putDigits(b []byte, v int) {
	for i := len(b) - 1; i >= 0; i-- {
		b[i] = byte('0' + v%10)
		v /= 10
	}
}
