package stats

import (
	"strings"
	"testing"
	"time"
)

func TestPercentileNearestRank(t *testing.T) {
	ms := func(vs ...int) []time.Duration {
		out := make([]time.Duration, len(vs))
		for i, v := range vs {
			out[i] = time.Duration(v) * time.Millisecond
		}
		return out
	}
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[99-i] = time.Duration(i+1) * time.Millisecond // 100..1, unsorted on purpose
	}
	tests := []struct {
		name    string
		samples []time.Duration
		p       float64
		want    time.Duration
	}{
		{"empty", nil, 50, 0},
		{"one", ms(7), 99, 7 * time.Millisecond},
		{"p50 of 1..100", hundred, 50, 50 * time.Millisecond},
		{"p90 of 1..100", hundred, 90, 90 * time.Millisecond},
		{"p99 of 1..100", hundred, 99, 99 * time.Millisecond},
		{"p100 is max", hundred, 100, 100 * time.Millisecond},
		{"p0 is min", hundred, 0, 1 * time.Millisecond},
		// Wikipedia's nearest-rank example: 15, 20, 35, 40, 50.
		{"p30 wikipedia", ms(15, 20, 35, 40, 50), 30, 20 * time.Millisecond},
		{"p40 wikipedia", ms(15, 20, 35, 40, 50), 40, 20 * time.Millisecond},
		{"p50 wikipedia", ms(15, 20, 35, 40, 50), 50, 35 * time.Millisecond},
		{"p100 wikipedia", ms(15, 20, 35, 40, 50), 100, 50 * time.Millisecond},
		{"p99 of 10 is max", ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 99, 10 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Percentile(tt.samples, tt.p); got != tt.want {
				t.Errorf("Percentile(p%v) = %v, want %v", tt.p, got, tt.want)
			}
		})
	}
}

func TestSummarize(t *testing.T) {
	var samples []time.Duration
	for i := 1000; i >= 1; i-- {
		samples = append(samples, time.Duration(i)*time.Microsecond)
	}
	s := Summarize(samples)
	want := Summary{Count: 1000, Min: time.Microsecond, P50: 500 * time.Microsecond, P90: 900 * time.Microsecond,
		P99: 990 * time.Microsecond, Max: 1000 * time.Microsecond, Mean: 500500 * time.Nanosecond}
	if s != want {
		t.Errorf("Summarize = %+v, want %+v", s, want)
	}
	if samples[0] != 1000*time.Microsecond {
		t.Error("Summarize sorted its input")
	}
}

func TestReportWrite(t *testing.T) {
	r := Report{Scenario: "x", Header: SummaryHeader,
		Rows: [][]string{Summarize([]time.Duration{time.Millisecond}).Row("lat")}, Notes: []string{"note"}}
	r.Set(map[string]any{"n": 3})
	var b strings.Builder
	if err := r.Write(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"== x\n", "p99 ms", "lat", "1.00", "  note\n", `{"n":3,"scenario":"x"}` + "\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}
