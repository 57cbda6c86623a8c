package rxws

import (
	"bytes"
	"encoding/json"
	"errors"

	gojson "github.com/goccy/go-json"

	"github.com/rxpype/rxpype/internal/jsonvalid"
)

// Codec encodes JSON requests and decodes responses for Response.Decode and
// DecodeJSON. Response.Data keeps networkpype's rules with encoding/json
// whatever the codec, since it decodes into generic values, once, lazily.
type Codec interface {
	// Name names the codec in reports, such as the bench's results.
	Name() string
	// Marshal encodes a KindJSON request's payload.
	Marshal(v any) ([]byte, error)
	// Unmarshal decodes a response's bytes into v.
	Unmarshal(data []byte, v any) error
}

var (
	// FastJSON is github.com/goccy/go-json, a drop-in replacement for
	// encoding/json that decodes the trade-like messages of a market feed
	// 3–4× faster. It is the default: decoding is most of a feed client's
	// work. It takes the same struct tags and gives the same results for
	// valid input, with two exceptions: a float32 field may differ in its
	// last bit (goccy rounds through float64), and a number field tagged
	// ",string" also accepts "NaN", "Infinity" and a leading "+" (as
	// encoding/json does under GOEXPERIMENT=jsonv2, not by default): use
	// StdJSON if a quoted price of "NaN" must fail. A number too big for its
	// field fails, as with encoding/json.
	//
	// Unmarshal first checks that the input is valid JSON, as encoding/json
	// does (about 100 ns for a 100-byte message), and input that is not
	// fails with encoding/json's *json.SyntaxError. goccy before v0.12
	// accepted some malformed input without an error ({"qty":-} as 0, bad
	// syntax inside a field the target lacks); v0.12 refuses it, with its
	// own error type, and the check keeps both the error type and the
	// guarantee whatever goccy version a build selects. Other errors, such as a type
	// mismatch, are goccy's own types, not *json.UnmarshalTypeError; use
	// StdJSON to match on those.
	FastJSON Codec = fastCodec{}
	// StdJSON is encoding/json, for callers who want only the standard
	// library: rxws.WithCodec(rxws.StdJSON).
	StdJSON Codec = stdCodec{}
)

type fastCodec struct{}

func (fastCodec) Name() string                  { return "goccy/go-json" }
func (fastCodec) Marshal(v any) ([]byte, error) { return gojson.Marshal(v) }
func (fastCodec) Unmarshal(data []byte, v any) error {
	if !jsonvalid.Valid(data) {
		return syntaxError(data)
	}
	return gojson.Unmarshal(data, v)
}

// syntaxError is encoding/json's account of what is wrong with data: a
// *json.SyntaxError with the offset of the first bad byte.
func syntaxError(data []byte) error {
	var buf bytes.Buffer
	if err := json.Compact(&buf, data); err != nil {
		return err
	}
	return errors.New("invalid JSON") // not reached: jsonvalid agrees with encoding/json
}

type stdCodec struct{}

func (stdCodec) Name() string                       { return "encoding/json" }
func (stdCodec) Marshal(v any) ([]byte, error)      { return json.Marshal(v) }
func (stdCodec) Unmarshal(data []byte, v any) error { return json.Unmarshal(data, v) }

// WithCodec sets the JSON codec for requests and Decode (default FastJSON).
func WithCodec(c Codec) Option { return func(cfg *config) { cfg.codec = c } }

func orDefault(c Codec) Codec {
	if c == nil {
		return FastJSON
	}
	return c
}
