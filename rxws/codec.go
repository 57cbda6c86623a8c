package rxws

import (
	"encoding/json"

	gojson "github.com/goccy/go-json"
)

// Codec encodes JSON requests and decodes responses for Response.Decode and
// DecodeJSON. Response.Data keeps networkpype's rules with encoding/json
// whatever the codec, since it decodes into generic values, once, lazily.
type Codec interface {
	Name() string
	Marshal(v any) ([]byte, error)
	Unmarshal(data []byte, v any) error
}

var (
	// FastJSON is github.com/goccy/go-json, a drop-in replacement for
	// encoding/json (same struct tags, same results for valid input) that
	// decodes the trade-like messages of a market feed 3–4× faster. It is
	// the default: decoding is most of a feed client's work. Its errors are
	// its own types, not *json.SyntaxError or *json.UnmarshalTypeError, and
	// may name a different fault for the same bad input (truncated JSON can
	// be reported as a type mismatch); use StdJSON to match on those.
	FastJSON Codec = fastCodec{}
	// StdJSON is encoding/json, for callers who want only the standard
	// library: rxws.WithCodec(rxws.StdJSON).
	StdJSON Codec = stdCodec{}
)

type fastCodec struct{}

func (fastCodec) Name() string                       { return "goccy/go-json" }
func (fastCodec) Marshal(v any) ([]byte, error)      { return gojson.Marshal(v) }
func (fastCodec) Unmarshal(data []byte, v any) error { return gojson.Unmarshal(data, v) }

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
