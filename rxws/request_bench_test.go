package rxws

import "testing"

// BenchRequest is one request kind of the send benchmarks.
type BenchRequest struct {
	Name string
	Req  Request
}

// BenchRequests returns the requests BenchmarkRequestEncode and
// BenchmarkManagerSend measure: an order as a struct and as a map, and
// payload as text and as binary. (Exported from a test file for the
// external test package only.)
func BenchRequests(payload []byte) []BenchRequest {
	type order struct {
		Op     string  `json:"op"`
		Symbol string  `json:"symbol"`
		Side   string  `json:"side"`
		Price  float64 `json:"price"`
		Qty    float64 `json:"qty"`
		ID     int64   `json:"id"`
	}
	return []BenchRequest{
		{"kind=json-struct", JSONRequest(order{Op: "order", Symbol: "BTC-USD", Side: "buy", Price: 43010.5, Qty: 0.0043, ID: 100000042})},
		{"kind=json-map", JSONRequest(map[string]any{"op": "order", "symbol": "BTC-USD", "side": "buy", "price": 43010.5, "qty": 0.0043, "id": 100000042})},
		{"kind=text", TextRequest(string(payload))},
		{"kind=binary", BinaryRequest(payload)},
	}
}

// BenchmarkRequestEncode is a request's copy (clone, so that processors
// cannot change the caller's payload) and its encoding into a frame, with
// the default codec and without the network: the CPU part of
// BenchmarkManagerSend.
func BenchmarkRequestEncode(b *testing.B) {
	payload := []byte(`{"op":"order","symbol":"BTC-USD","side":"buy","price":43010.5,"qty":0.0043,"id":100000042}`)
	for _, c := range BenchRequests(payload) {
		b.Run(c.Name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if _, _, err := c.Req.clone().frame(nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
