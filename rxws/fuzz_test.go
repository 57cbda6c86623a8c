package rxws

// Fuzz targets for the two parsers of untrusted input: the payloads a
// server sends (Response) and the URLs a caller passes, whose redaction
// must never leak a key. The seed corpus is in testdata/fuzz/<target>/;
// .ci/run fuzzes each target for a bounded time.

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

func FuzzResponseData(f *testing.F) {
	for _, s := range []string{`{"a":1}`, `[1,"x",null]`, `"str"`, `12345678901234567890`, `1e400`, `{"a":1}{`, "", "plain", "\xff\xfe", `{"a":"\u00e9"}`, `{"a":1,"a":2}`, `{"i":9999999999999999999}`, `{"u":18446744073709551616}`, `{"i8":-129}`, `{"f":1e39}`, `{"i":1.5}`, `{"s":"a\ud800b"}`} {
		f.Add(uint8(KindText), []byte(s))
	}
	f.Add(uint8(KindText), []byte(strings.Repeat("a", 119)+"é and more"))
	f.Add(uint8(KindBinary), []byte{0, 1, 2, 0xff})
	f.Fuzz(func(t *testing.T, kind uint8, payload []byte) {
		k := Kind(kind % 3)
		r := NewResponse(k, payload)
		d := r.Data()
		if !reflect.DeepEqual(d, r.Data()) {
			t.Fatal("Data changed between calls")
		}
		if !bytes.Equal(r.Bytes(), payload) {
			t.Fatal("Bytes differ from the payload")
		}
		switch {
		case k == KindBinary:
			if b, ok := d.([]byte); !ok || !bytes.Equal(b, payload) {
				t.Fatalf("binary: %#v", d)
			}
		case !json.Valid(payload):
			if d != string(payload) {
				t.Fatalf("invalid JSON not kept as text: %#v", d)
			}
		default:
			// Valid JSON is decoded; re-encoding and decoding it again is
			// stable (numbers keep every digit as json.Number).
			b, err := json.Marshal(d)
			if err != nil {
				t.Fatalf("re-encode %#v: %v", d, err)
			}
			if again := decodeData(KindText, b); !reflect.DeepEqual(again, d) {
				t.Fatalf("round trip: %#v then %#v", d, again)
			}
		}
		// Both codecs refuse everything invalid: goccy/go-json alone is
		// lenient with some malformed input ({"q":-}), so FastJSON
		// validates first. Into a struct without the payload's fields
		// goccy would skip them unchecked.
		var v any
		var fields struct{ A int }
		for _, c := range []Codec{FastJSON, StdJSON} {
			dr := &Response{kind: r.kind, raw: r.raw, codec: c}
			err, errFields := dr.Decode(&v), dr.Decode(&fields)
			if !json.Valid(payload) && (err == nil || errFields == nil) {
				t.Fatalf("Decode with %s accepted invalid JSON: into any %v, into a struct %v", c.Name(), err, errFields)
			}
		}
		// And they agree on which valid input fits typed fields: goccy
		// before v0.12 wrapped a number too big for its field around
		// without an error (a 19-digit id into an int64).
		var fast, std numbers
		errFast := (&Response{kind: r.kind, raw: r.raw, codec: FastJSON}).Decode(&fast)
		errStd := (&Response{kind: r.kind, raw: r.raw, codec: StdJSON}).Decode(&std)
		if (errFast == nil) != (errStd == nil) {
			t.Fatalf("%q: FastJSON %v, StdJSON %v", payload, errFast, errStd)
		}
		if errFast == nil && (fast.I != std.I || fast.U != std.U || fast.I8 != std.I8 || fast.S != std.S) {
			t.Fatalf("%q: FastJSON %+v, StdJSON %+v", payload, fast, std)
		}
		s := r.String()
		if utf8.Valid(payload) && !utf8.ValidString(s) {
			t.Fatalf("String cut a rune: %q", s)
		}
		if utf8.RuneCountInString(s) > 200 {
			t.Fatalf("String too long: %d runes", utf8.RuneCountInString(s))
		}
	})
}

// numbers has fields a number can overflow.
type numbers struct {
	I  int64   `json:"i"`
	U  uint64  `json:"u"`
	I8 int8    `json:"i8"`
	F  float32 `json:"f"`
	S  string  `json:"s"`
}

// FuzzURLRedaction puts a secret in the query, the fragment and the
// userinfo of arbitrary URL text and checks that neither the redacted form
// nor parseURL's error ever shows it.
func FuzzURLRedaction(f *testing.F) {
	for _, s := range []string{
		"ws://127.0.0.1:8080/feed", "wss://example.com", "ws://[::1]:9/x", "http://h/p", "ws:opaque",
		"ws://", "::bad::", "ws://h/%zz", "ws://h:port/", "ws://a@b@c/", "wss://h/p?x=1#f", "ws:///p", "//h/p",
	} {
		f.Add(s, "K3yK3y")
	}
	f.Fuzz(func(t *testing.T, base, sec string) {
		// The secret is alphanumeric and starts with a letter that neither
		// a percent-escape (hex) nor a %q escape (\x, \u, \n, ...) ends
		// with, so that escapes of base cannot spell it.
		if len(sec) < 4 || strings.Contains(base, sec) || !strings.ContainsRune("ghijklmopqswyzGHIJKLMNOPQRSTVWXYZ", rune(sec[0])) ||
			strings.ContainsFunc(sec, func(r rune) bool {
				return !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9')
			}) {
			t.Skip()
		}
		raws := []string{base + "?k=" + sec, base + "#" + sec, base + "?#" + sec, base + "?" + sec + "#x"}
		// Userinfo only where "//" opens the authority: after the scheme,
		// or at the start; later, "u:x@" is just path.
		if i := strings.Index(base, "//"); i >= 0 && !strings.ContainsAny(base[:i], "/?#") {
			raws = append(raws, base[:i+2]+"u:"+sec+"@"+base[i+2:], base[:i+2]+sec+"@"+base[i+2:])
		}
		for _, raw := range raws {
			_, shown, err := parseURL(raw)
			if strings.Contains(shown, sec) {
				t.Fatalf("%q shown as %q", raw, shown)
			}
			if err != nil && strings.Contains(err.Error(), sec) {
				t.Fatalf("%q: error %q", raw, err)
			}
			if err == nil && shown == "" {
				t.Fatalf("%q: nothing shown", raw)
			}
		}
	})
}
