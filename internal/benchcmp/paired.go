package benchcmp

import (
	"fmt"
	"math"
	"slices"
	"testing"
	"time"
)

// Paired sets how many pairs ComparePaired runs when it judges.
type Paired struct {
	// Min pairs are always run (b.N if larger); Max bounds the extra pairs
	// run while the ratio's confidence interval still holds the target.
	Min, Max int
}

// PairedResult is ComparePaired's measure: the medians of each side, the
// median of the per-pair ratios (ours/theirs) and its 95% confidence
// interval.
type PairedResult struct {
	Ours, Theirs time.Duration
	Ratio        float64
	Low, High    float64
	Pairs        int
}

// ComparePaired runs the two sides in pairs, back to back, alternating
// which goes first, and judges the median of the per-pair ratios. On a
// shared machine the load drifts over a run; the two runs of a pair see
// nearly the same load, so their ratio keeps little of it, where a ratio
// of two medians mixes runs made under different loads.
//
// Below 3 pairs (b.N, for `-benchtime 1x` smoke runs) it only reports.
// Otherwise it runs at least p.Min pairs, then more (up to p.Max) while the
// distribution-free 95% confidence interval of the median ratio still
// holds the target, so a verdict rests on enough pairs to separate the two.
// It fails when the median ratio is above target, and says whether the
// interval was still undecided.
func ComparePaired(b *testing.B, ours, theirs Side, target float64, p Paired) PairedResult {
	b.Helper()
	ours.Run()
	theirs.Run()
	var od, td []time.Duration
	var ratios []float64
	n := b.N
	judge := n >= 3
	if judge {
		n = max(n, p.Min)
	}
	b.ResetTimer()
	for i := 0; i < n || judge && i < p.Max && undecided(ratios, target); i++ {
		var o, t time.Duration
		if i%2 == 0 {
			o = ours.Run()
			t = theirs.Run()
		} else {
			t = theirs.Run()
			o = ours.Run()
		}
		od, td = append(od, o), append(td, t)
		ratios = append(ratios, float64(o)/float64(t))
	}
	b.StopTimer()
	r := PairedResult{Ours: Median(od), Theirs: Median(td), Ratio: medianFloat(ratios), Pairs: len(ratios)}
	r.Low, r.High = medianCI(ratios)
	b.ReportMetric(ms(r.Ours), ours.Name+"-ms")
	b.ReportMetric(ms(r.Theirs), theirs.Name+"-ms")
	b.ReportMetric(r.Ratio, "ratio")
	b.ReportMetric(r.Low, "ratio-lo")
	b.ReportMetric(r.High, "ratio-hi")
	b.ReportMetric(float64(r.Pairs), "pairs")
	b.Logf("%d pairs: %s median %v, %s median %v; ratio per pair: median %.2f, 95%% CI [%.2f, %.2f] (target ≤ %.2f)", r.Pairs,
		ours.Name, r.Ours.Round(100*time.Microsecond), theirs.Name, r.Theirs.Round(100*time.Microsecond), r.Ratio, r.Low, r.High, target)
	if judge && r.Ratio > target {
		note := ""
		if r.Low <= target {
			note = fmt.Sprintf(" (undecided after %d pairs: the 95%% CI [%.2f, %.2f] holds the target)", r.Pairs, r.Low, r.High)
		}
		b.Errorf("%s took %.2f× the time of %s (median of %d pairs), above the target %.2f%s", ours.Name, r.Ratio, theirs.Name, r.Pairs, target, note)
	}
	return r
}

// undecided reports whether more pairs may move the verdict: too few for
// an interval, or an interval that holds the target.
func undecided(ratios []float64, target float64) bool {
	lo, hi := medianCI(ratios)
	return math.IsNaN(lo) || lo <= target && target < hi
}

// medianCI returns the distribution-free 95% confidence interval of the
// median of xs: its k-th smallest and k-th largest values, k the largest
// count with P(Binomial(n, 1/2) < k) ≤ 2.5%. It is NaN for fewer than 6
// values, too few for any such k.
func medianCI(xs []float64) (lo, hi float64) {
	k := ciRank(len(xs))
	if k == 0 {
		return math.NaN(), math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[k-1], s[len(s)-k]
}

// ciRank is k of medianCI for n values, 0 when there is none.
func ciRank(n int) int {
	// P(B = 0) = 2^-n, then P(B = j) = P(B = j-1) (n-j+1)/j.
	pj, cdf, k := math.Exp2(-float64(n)), 0.0, 0
	for j := 0; j < n; j++ {
		cdf += pj // P(B ≤ j) = P(B < j+1)
		if cdf > 0.025 {
			break
		}
		k = j + 1
		pj *= float64(n-j) / float64(j+1)
	}
	return k
}

func medianFloat(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}
