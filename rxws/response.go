package rxws

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sync"
	"time"
	"unicode/utf8"
)

// Response is one message received. Post-processors may return a different
// *Response (see NewResponse and WithData) or nil to drop the message.
type Response struct {
	kind  Kind // KindText or KindBinary: the frame it came from
	raw   []byte
	at    time.Time
	codec Codec // nil: FastJSON

	once sync.Once
	data any
}

// NewResponse returns a response carrying payload as if received in a frame
// of the given kind (KindJSON and KindText both mean a text frame).
func NewResponse(kind Kind, payload []byte) *Response {
	if kind == KindJSON {
		kind = KindText
	}
	return &Response{kind: kind, raw: payload}
}

// WithData returns a copy of r whose Data is v; Bytes, Kind and Received are
// kept. Post-processors use it to hand on what they decoded or changed.
func (r *Response) WithData(v any) *Response {
	c := &Response{kind: r.kind, raw: r.raw, at: r.at, codec: r.codec, data: v}
	c.once.Do(func() {})
	return c
}

// Kind is KindText for a text frame, KindBinary for a binary frame.
func (r *Response) Kind() Kind { return r.kind }

// Received is the clock's time when the frame was read.
func (r *Response) Received() time.Time { return r.at }

// Bytes returns the frame's payload as received. Do not modify it.
func (r *Response) Bytes() []byte { return r.raw }

// Data returns the payload decoded by networkpype's rules: a text frame that
// holds valid JSON is decoded (objects as map[string]any, arrays as []any,
// numbers as json.Number so that large ids keep every digit), any other
// text frame is a string, and a binary frame stays []byte. Invalid JSON is
// not an error. It decodes on first use and only once.
func (r *Response) Data() any {
	r.once.Do(func() { r.data = decodeData(r.kind, r.raw) })
	return r.data
}

func decodeData(kind Kind, raw []byte) any {
	if kind == KindBinary {
		return raw
	}
	if json.Valid(raw) {
		d := json.NewDecoder(bytes.NewReader(raw))
		d.UseNumber()
		var v any
		if d.Decode(&v) == nil {
			return v
		}
	}
	return string(raw)
}

// Decode unmarshals the payload as JSON into v with the manager's Codec.
func (r *Response) Decode(v any) error {
	if err := orDefault(r.codec).Unmarshal(r.raw, v); err != nil {
		return fmt.Errorf("rxws: decode %d-byte %s message into %T: %w", len(r.raw), r.kind, v, err)
	}
	return nil
}

// String shows the payload, cut short, for logs and test failures.
func (r *Response) String() string {
	const max = 120
	s := string(r.raw)
	if r.kind == KindBinary {
		s = fmt.Sprintf("% x", r.raw)
	}
	if len(s) > max {
		// Cut at a rune boundary so that a log line stays valid UTF-8.
		cut := max
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return fmt.Sprintf("%s(%s)", r.kind, s)
}
