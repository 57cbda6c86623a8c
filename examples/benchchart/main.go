// Command benchchart draws the ratios from `go run ./examples/bench -json`
// as an SVG bar chart, with the targets marked. Rows compare with
// different references (rxpype / raw, or a fanout's rate per subscriber /
// rxpype's stream-typed: each row's compare field), so the bars are grouped
// by it and each group's dashed line says what its 1.0 is.
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
	"strings"
)

type row struct {
	Workload string   `json:"workload"`
	Metric   string   `json:"metric"`
	Compare  string   `json:"compare"` // what Ratio is: "A / B" (or "rxpype - raw", not a ratio)
	Ratio    *float64 `json:"ratio"`
	Target   string   `json:"target"`
	Met      *bool    `json:"met"`
}

type report struct {
	CPU    string `json:"cpu"`
	Codec  string `json:"codec"`
	Server string `json:"server"`
	N      int    `json:"n"` // 0: -url, or no stream workload ran
	Rows   []row  `json:"rows"`
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
	// Group the ratios by what they compare, in the order they come.
	var compares []string
	groups := map[string][]row{}
	most := 2.2 // the scale always shows the 2.0 targets
	for _, x := range r.Rows {
		if x.Ratio == nil || !strings.Contains(x.Compare, " / ") {
			continue // no ratio, or a difference (allocs/msg)
		}
		if groups[x.Compare] == nil {
			compares = append(compares, x.Compare)
		}
		groups[x.Compare] = append(groups[x.Compare], x)
		most = max(most, *x.Ratio)
	}
	const left, barH, gap, headH, plot = 230, 22, 10, 30, 600
	scale := plot / (most * 1.05) // pixels per 1.0 of ratio
	x1 := left + int(scale)
	width := left + plot + 60
	height := 60 + 10
	for _, c := range compares {
		height += headH + len(groups[c])*(barH+gap)
	}
	sub := fmt.Sprintf("%s, codec %s", r.CPU, r.Codec)
	switch {
	case r.N > 0:
		sub += fmt.Sprintf(", n=%d", r.N)
	case strings.HasPrefix(r.Server, "outside"):
		sub += ", stream as the outside server sends it"
	}
	fmt.Fprintf(w, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="13">`+"\n", width, height)
	fmt.Fprintf(w, `<text x="10" y="22" font-size="15">rxpype bench ratios, by what each compares (higher is better for msgs/s, lower for latency)</text>`+"\n")
	fmt.Fprintf(w, `<text x="10" y="42" fill="#555">%s</text>`+"\n", html.EscapeString(sub))
	y := 60
	for _, c := range compares {
		_, ref, _ := strings.Cut(c, " / ")
		fmt.Fprintf(w, `<text x="10" y="%d" font-weight="bold">%s</text>`+"\n", y+18, html.EscapeString(c))
		fmt.Fprintf(w, `<text x="%d" y="%d" fill="#555">1.0 = %s</text>`+"\n", x1+4, y+18, html.EscapeString(ref))
		y += headH
		top := y
		for _, x := range groups[c] {
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
			y += barH + gap
		}
		fmt.Fprintf(w, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#999" stroke-dasharray="4"/>`+"\n", x1, top-4, x1, y-gap+4)
	}
	_, err := fmt.Fprintln(w, `</svg>`)
	return err
}
