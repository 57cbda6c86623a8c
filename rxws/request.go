package rxws

import (
	"fmt"
	"unsafe"

	"github.com/gorilla/websocket"
)

// Kind says how a Request's payload becomes a frame, or what frame a
// Response came from.
type Kind uint8

const (
	// KindJSON: the payload is encoded by the manager's Codec into a text frame.
	KindJSON Kind = iota
	// KindText: the payload is a string sent as a text frame.
	KindText
	// KindBinary: the payload is a []byte sent as a binary frame.
	KindBinary
)

// String names the kind.
func (k Kind) String() string {
	switch k {
	case KindJSON:
		return "json"
	case KindText:
		return "text"
	case KindBinary:
		return "binary"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Request is one message to send. It is a value: Send deep-copies Payload
// before pre-processors and auth see it (maps, slices, arrays, pointers,
// interfaces, and the exported and embedded fields of structs, all the way
// down), so they do not change the caller's request, and once Send returns
// the caller may reuse it. Other unexported fields are copied as they are:
// a processor that changes what they point to through methods (as
// (*big.Int).SetInt64 does) changes it for the caller too.
type Request struct {
	// Kind says how Payload becomes a frame; the zero value is KindJSON.
	Kind Kind
	// Payload is, for KindJSON, any json.Marshal-able value; for KindText a
	// string; for KindBinary a []byte.
	Payload any
	// LimitID is the throttler limit charged before the frame is written;
	// "" charges nothing.
	LimitID string
	// AuthRequired makes the manager's Auth sign the request before it is
	// written.
	AuthRequired bool
}

// JSONRequest returns a request whose payload is sent as JSON text.
func JSONRequest(payload any) Request { return Request{Kind: KindJSON, Payload: payload} }

// TextRequest returns a request sent as a text frame.
func TextRequest(text string) Request { return Request{Kind: KindText, Payload: text} }

// BinaryRequest returns a request sent as a binary frame.
func BinaryRequest(data []byte) Request { return Request{Kind: KindBinary, Payload: data} }

// frame encodes the request into a gorilla message type and payload.
func (r Request) frame(c Codec) (int, []byte, error) {
	switch r.Kind {
	case KindJSON:
		b, err := orDefault(c).Marshal(r.Payload)
		if err != nil {
			return 0, nil, fmt.Errorf("rxws: encode JSON request: %w", err)
		}
		return websocket.TextMessage, b, nil
	case KindText:
		s, ok := r.Payload.(string)
		if !ok {
			return 0, nil, fmt.Errorf("rxws: text request payload is %T, want string", r.Payload)
		}
		// gorilla copies the payload into its frame buffer and keeps no
		// reference, so the string's bytes can be lent without a copy.
		return websocket.TextMessage, unsafe.Slice(unsafe.StringData(s), len(s)), nil
	case KindBinary:
		b, ok := r.Payload.([]byte)
		if !ok {
			return 0, nil, fmt.Errorf("rxws: binary request payload is %T, want []byte", r.Payload)
		}
		return websocket.BinaryMessage, b, nil
	}
	return 0, nil, fmt.Errorf("rxws: request has unknown kind %d", r.Kind)
}
