// Package stats summarises latency samples: nearest-rank percentiles, a summary row and the
// table and JSON-line output every load scenario prints.
package stats

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// Percentile returns the p-th percentile (0 < p <= 100) of samples by the nearest-rank method:
// the smallest sample such that at least p% of the samples are less than or equal to it. It
// returns 0 for no samples. samples need not be sorted and are not modified.
func Percentile(samples []time.Duration, p float64) time.Duration {
	if len(samples) == 0 {
		return 0
	}
	sorted := slices.Clone(samples)
	slices.Sort(sorted)
	return percentileSorted(sorted, p)
}

func percentileSorted(sorted []time.Duration, p float64) time.Duration {
	if p <= 0 {
		return sorted[0]
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}

// Summary is the distribution of one set of samples.
type Summary struct {
	Count int
	Min   time.Duration
	P50   time.Duration
	P90   time.Duration
	P99   time.Duration
	Max   time.Duration
	Mean  time.Duration
}

// Summarize computes a Summary.
func Summarize(samples []time.Duration) Summary {
	if len(samples) == 0 {
		return Summary{}
	}
	sorted := slices.Clone(samples)
	slices.Sort(sorted)
	var sum time.Duration
	for _, s := range sorted {
		sum += s
	}
	return Summary{
		Count: len(sorted),
		Min:   sorted[0],
		P50:   percentileSorted(sorted, 50),
		P90:   percentileSorted(sorted, 90),
		P99:   percentileSorted(sorted, 99),
		Max:   sorted[len(sorted)-1],
		Mean:  sum / time.Duration(len(sorted)),
	}
}

// Ms renders a duration as milliseconds with a precision that suits its size.
func Ms(d time.Duration) float64 {
	return math.Round(float64(d)/float64(time.Millisecond)*1000) / 1000
}

// Fields returns the summary as JSON-friendly fields prefixed with name ("first_config_p99_ms").
func (s Summary) Fields(name string) map[string]any {
	return map[string]any{
		name + "_count":  s.Count,
		name + "_p50_ms": Ms(s.P50),
		name + "_p90_ms": Ms(s.P90),
		name + "_p99_ms": Ms(s.P99),
		name + "_max_ms": Ms(s.Max),
	}
}

// Row renders the summary as a table row of milliseconds.
func (s Summary) Row(name string) []string {
	f := func(d time.Duration) string { return fmt.Sprintf("%.2f", Ms(d)) }
	return []string{name, fmt.Sprint(s.Count), f(s.P50), f(s.P90), f(s.P99), f(s.Max)}
}

// SummaryHeader is the header matching Summary.Row.
var SummaryHeader = []string{"measure", "n", "p50 ms", "p90 ms", "p99 ms", "max ms"}
