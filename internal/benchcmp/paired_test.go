package benchcmp

import (
	"math"
	"testing"
)

// The ranks of the median's 95% interval: k with P(Binomial(n, 1/2) ≤ k-1)
// ≤ 2.5% < P(Binomial(n, 1/2) ≤ k), e.g. n = 61: 1.98% at 22, 3.61% at 23.
func TestCIRank(t *testing.T) {
	for n, want := range map[int]int{5: 0, 6: 1, 8: 1, 9: 2, 20: 6, 21: 6, 30: 10, 31: 10, 61: 23, 100: 40} {
		if got := ciRank(n); got != want {
			t.Errorf("ciRank(%d) = %d, want %d", n, got, want)
		}
	}
}

func TestUndecided(t *testing.T) {
	few := []float64{0.4, 0.4, 0.4, 0.4, 0.4}
	low := []float64{0.40, 0.41, 0.42, 0.43, 0.44, 0.45, 0.46, 0.47, 0.48}
	around := []float64{0.40, 0.42, 0.44, 0.46, 0.48, 0.50, 0.52, 0.54, 0.56}
	for _, tt := range []struct {
		xs   []float64
		want bool
	}{{few, true}, {low, false}, {around, true}} {
		if got := undecided(tt.xs, 0.5); got != tt.want {
			lo, hi := medianCI(tt.xs)
			t.Errorf("undecided(%v) = %v (CI %v, %v)", tt.xs, got, lo, hi)
		}
	}
	if lo, hi := medianCI(low); lo != 0.41 || hi != 0.47 || !math.IsNaN(medianFloat(nil)) {
		t.Errorf("CI of %v: [%v, %v]", low, lo, hi)
	}
}
