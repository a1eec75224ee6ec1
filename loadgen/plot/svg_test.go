package plot

import (
	"encoding/xml"
	"io"
	"strings"
	"testing"
)

func TestWriteSVGIsWellFormed(t *testing.T) {
	c := Chart{Title: "p99 <latency>", XLabel: "dataplanes", YLabel: "ms", Series: []Series{
		{Name: "endpoints", Points: []Point{{1000, 3.5}, {5000, 4}, {10000, 7.25}}},
		{Name: "mtp & co", Points: []Point{{1000, 30}, {5000, 140}, {10000, 300}}},
	}}
	var b strings.Builder
	if err := c.WriteSVG(&b); err != nil {
		t.Fatal(err)
	}
	d := xml.NewDecoder(strings.NewReader(b.String()))
	polylines := 0
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed XML: %v\n%s", err, b.String())
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "polyline" {
			polylines++
		}
	}
	if polylines != 2 {
		t.Errorf("got %d lines, want 2", polylines)
	}
	for _, want := range []string{"p99 &lt;latency&gt;", "mtp &amp; co", ">10000<", ">500<"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("SVG lacks %q", want)
		}
	}
}

func TestNiceCeil(t *testing.T) {
	for in, want := range map[float64]float64{0: 1, 0.3: 0.5, 7.25: 10, 10: 10, 11: 20, 140: 200, 300: 500, 10000: 10000} {
		if got := niceCeil(in); got != want {
			t.Errorf("niceCeil(%v) = %v, want %v", in, got, want)
		}
	}
}
