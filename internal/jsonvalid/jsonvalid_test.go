package jsonvalid_test

import (
	"encoding/json"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/rxpype/rxpype/internal/jsonvalid"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var cases = []string{
	// valid
	`0`, `-0`, `1`, `-12.5e+3`, `1E9`, `0.0`, `"x"`, `""`, `true`, `false`, `null`,
	`{}`, `[]`, ` { } `, "\t[\n1 ,\r2]\n", `{"a":1,"b":[true,null,{"c":"d"}]}`,
	`"\u00e9\n\"\\\/\b\f\r\t"`, "\"\xff\xfe\"", `[[[[[]]]]]`, `{"":{}}`,
	`{"e":"trade","E":1700000000123,"s":"BTCUSDT","p":"43210.12","q":"0.00120","m":true}`,
	// invalid
	``, ` `, `-`, `1.`, `.5`, `01`, `-01`, `1e`, `1e+`, `+1`, `0x1`, `{"qty":-}`, `{"price":1.}`,
	`{"price":2,"extra":{"q":}}`, `{`, `}`, `[`, `]`, `[1,]`, `[,1]`, `{"a":1,}`, `{,}`, `{"a"}`,
	`{"a":}`, `{a:1}`, `{"a" 1}`, `[1 2]`, `{"a":1 "b":2}`, `"abc`, `"\x"`, `"\u12"`, `"\u12g4"`,
	"\"a\nb\"", "\"\x00\"", `tru`, `truex`, `nul`, `[true false]`, `1 2`, `{} {}`, `[}`, `{]`,
	`{"a":1]`, `[1}`, `"\`, `NaN`, `Infinity`, "\v1", "1\v",
}

func TestAgreesWithEncodingJSON(t *testing.T) {
	for _, c := range cases {
		if got, want := jsonvalid.Valid([]byte(c)), json.Valid([]byte(c)); got != want {
			t.Errorf("Valid(%q) = %v, encoding/json says %v", c, got, want)
		}
	}
}

// Nesting is limited as encoding/json limits it (10000 levels), and deep
// input does not grow the Go stack: the validator does not recurse.
func TestNestingLimit(t *testing.T) {
	for _, depth := range []int{31, 32, 33, 9999, 10000, 10001, 200000} {
		for _, open := range []string{"[", `{"k":`} {
			close := "]"
			if open != "[" {
				close = "}"
			}
			s := []byte(strings.Repeat(open, depth) + "1" + strings.Repeat(close, depth))
			if got, want := jsonvalid.Valid(s), json.Valid(s); got != want {
				t.Errorf("depth %d of %q: Valid = %v, encoding/json says %v", depth, open, got, want)
			}
		}
	}
}

func FuzzAgreesWithEncodingJSON(f *testing.F) {
	for _, c := range cases {
		f.Add([]byte(c))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := jsonvalid.Valid(b), json.Valid(b); got != want {
			t.Fatalf("Valid(%q) = %v, encoding/json says %v", b, got, want)
		}
	})
}

var trade = []byte(`{"e":"trade","E":1700000000123,"s":"BTCUSDT","t":123456789,"p":"43210.12","q":"0.00120","b":88,"a":99,"m":true}`)

func BenchmarkValid(b *testing.B) {
	for _, v := range []struct {
		name  string
		valid func([]byte) bool
	}{{"jsonvalid", jsonvalid.Valid}, {"encoding-json", json.Valid}} {
		b.Run(v.name, func(b *testing.B) {
			b.SetBytes(int64(len(trade)))
			b.ReportAllocs()
			for range b.N {
				if !v.valid(trade) {
					b.Fatal("invalid")
				}
			}
		})
	}
}
