// Command benchchart draws the ratios from `go run ./examples/bench -json`
// as an SVG bar chart: rxpype/raw for each workload and metric, with the
// issue's target marked.
//
//	go run ./examples/bench -json > bench.json
//	go run ./examples/benchchart < bench.json > docs/bench.svg
package main

import (
	"encoding/json"
	"fmt"
	"html"
	"io"
	"log"
	"os"
	"regexp"
	"strconv"
)

type row struct {
	Workload string   `json:"workload"`
	Metric   string   `json:"metric"`
	Rxpype   *float64 `json:"rxpype"` // nil on a raw-only row, which the chart leaves out
	Ratio    *float64 `json:"ratio"`
	Target   string   `json:"target"`
	Met      *bool    `json:"met"`
}

type report struct {
	CPU   string `json:"cpu"`
	Codec string `json:"codec"`
	N     int    `json:"n"`
	Rows  []row  `json:"rows"`
}

func main() {
	var r report
	if err := json.NewDecoder(os.Stdin).Decode(&r); err != nil {
		log.Fatalf("benchchart: reading the bench's -json output: %v", err)
	}
	if err := draw(os.Stdout, r); err != nil {
		log.Fatal(err)
	}
}

var ratioTarget = regexp.MustCompile(`^(>=|<=)\s*([0-9.]+)$`)

func draw(w io.Writer, r report) error {
	var rows []row
	for _, x := range r.Rows {
		if x.Ratio != nil && x.Rxpype != nil && x.Metric != "allocs/msg" {
			rows = append(rows, x)
		}
	}
	const left, barH, gap, plot = 230, 22, 10, 600
	most := 2.2 // the scale always shows the 2.0 targets
	for _, x := range rows {
		most = max(most, *x.Ratio)
	}
	scale := plot / (most * 1.05) // pixels per 1.0 of ratio
	width := left + plot + 60
	height := 60 + len(rows)*(barH+gap) + 30
	fmt.Fprintf(w, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="13">`+"\n", width, height)
	fmt.Fprintf(w, `<text x="10" y="22" font-size="15">rxpype / raw gorilla (higher is better for msgs/s, lower for latency)</text>`+"\n")
	fmt.Fprintf(w, `<text x="10" y="42" fill="#555">%s, codec %s, n=%d</text>`+"\n", html.EscapeString(r.CPU), html.EscapeString(r.Codec), r.N)
	x1 := left + int(scale)
	fmt.Fprintf(w, `<line x1="%d" y1="50" x2="%d" y2="%d" stroke="#999" stroke-dasharray="4"/><text x="%d" y="%d" fill="#555">1.0 = raw</text>`+"\n", x1, x1, height-25, x1-25, height-8)
	for i, x := range rows {
		y := 60 + i*(barH+gap)
		color := "#999" // no target
		if x.Met != nil {
			color = map[bool]string{true: "#4a7", false: "#d64"}[*x.Met]
		}
		wbar := int(*x.Ratio * scale)
		fmt.Fprintf(w, `<text x="10" y="%d">%s %s</text>`+"\n", y+16, html.EscapeString(x.Workload), html.EscapeString(x.Metric))
		fmt.Fprintf(w, `<rect x="%d" y="%d" width="%d" height="%d" fill="%s"/>`+"\n", left, y, wbar, barH, color)
		fmt.Fprintf(w, `<text x="%d" y="%d">%.2f</text>`+"\n", left+wbar+5, y+16, *x.Ratio)
		if m := ratioTarget.FindStringSubmatch(x.Target); m != nil {
			t, _ := strconv.ParseFloat(m[2], 64)
			tx := left + int(t*scale) // the target
			fmt.Fprintf(w, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#000" stroke-width="2"/>`+"\n", tx, y-3, tx, y+barH+3)
		}
	}
	_, err := fmt.Fprintln(w, `</svg>`)
	return err
}
