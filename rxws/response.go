package rxws

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"
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

	// shared: the response went to more than one subscriber, so Decode
	// decodes it once for all of them (see Decode); set before delivery.
	shared atomic.Bool
	memo   atomic.Pointer[decoded]
}

// decoded is a shared response's one decode: the message as a *T.
type decoded struct {
	typ reflect.Type // T
	val reflect.Value
	err error
}

// NewResponse returns a response carrying payload as if received in a frame
// of the given kind (KindJSON and KindText both mean a text frame). It
// decodes with FastJSON and has a zero Received time, except that one a
// post-processor returns takes the manager's codec (WithCodec) and the
// Received time of the frame it came from. A post-processor must return a
// new response for each message (or the one it was given), not one kept
// and returned again: the reader sets those two on it.
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

// Received is the clock's time when the frame's last bytes were read from
// the socket. Messages that arrived in one read share it.
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

// Decode replaces *v with the payload decoded as JSON by the manager's
// Codec. Fields the message lacks are zero, not left from an earlier message
// decoded into the same v (plain json.Unmarshal would keep them); after an
// error *v is zero.
//
// A message that three or more subscribers receive is decoded once: the first
// Decode into a given type keeps the result, and the others copy it. Only
// types whose values can be shared by copying are decoded once this way
// (numbers, strings, bools, and arrays and structs of them); a type with
// pointers, slices, maps or interfaces is decoded by each call, so that no
// two subscribers share memory.
func (r *Response) Decode(v any) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return r.decodeErr(v, orDefault(r.codec).Unmarshal(r.raw, v))
	}
	if r.shared.Load() {
		if t := rv.Type().Elem(); copyable(t) {
			return r.decodeShared(rv, v, t)
		}
	}
	return r.decodeInto(rv, v)
}

// decodeInto decodes r into v, which rv points to, alone. On an error v is
// left zero, as a shared decode leaves it, not half filled.
func (r *Response) decodeInto(rv reflect.Value, v any) error {
	rv.Elem().SetZero()
	err := r.decodeErr(v, orDefault(r.codec).Unmarshal(r.raw, v))
	if err != nil {
		rv.Elem().SetZero()
	}
	return err
}

func (r *Response) decodeErr(v any, err error) error {
	if err != nil {
		return fmt.Errorf("rxws: decode %d-byte %s message into %T: %w", len(r.raw), r.kind, v, err)
	}
	return nil
}

// decodeShared decodes r once per type for all its subscribers: the first
// caller decodes into a new T and keeps it, later ones copy it. One that
// comes while the first is still decoding, or wants another type, decodes
// for itself rather than wait.
func (r *Response) decodeShared(rv reflect.Value, v any, t reflect.Type) error {
	d := r.memo.Load()
	if d == nil && r.memo.CompareAndSwap(nil, decoding) {
		nv := reflect.New(t)
		d = &decoded{typ: t, val: nv, err: r.decodeErr(v, orDefault(r.codec).Unmarshal(r.raw, nv.Interface()))}
		r.memo.Store(d)
	} else if d == nil {
		d = r.memo.Load()
	}
	if d == decoding || d.typ != t {
		return r.decodeInto(rv, v)
	}
	if d.err != nil {
		rv.Elem().SetZero()
		return d.err
	}
	rv.Elem().Set(d.val.Elem())
	return nil
}

// decoding marks a shared response whose first decode is under way.
var decoding = &decoded{}

// copyable reports whether a T can be handed to several subscribers by
// copying: it holds no pointers but strings, which are immutable.
func copyable(t reflect.Type) bool {
	if c, ok := copyableTypes.Load(t); ok {
		return c.(bool)
	}
	c := copyableKind(t)
	copyableTypes.Store(t, c)
	return c
}

var copyableTypes sync.Map // reflect.Type -> bool

func copyableKind(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128, reflect.String:
		return true
	case reflect.Array:
		return copyableKind(t.Elem())
	case reflect.Struct:
		for i := range t.NumField() {
			if !copyableKind(t.Field(i).Type) {
				return false
			}
		}
		return true
	}
	return false
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
