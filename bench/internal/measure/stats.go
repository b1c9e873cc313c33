package measure

import (
	"math"
	"slices"
)

// Summary is the middle and the spread of a series of measurements.
type Summary struct {
	Median, Min, Max float64
	Runs             int
}

// Summarize returns the median (the mean of the two middle values for an
// even count), minimum and maximum of xs. An empty series gives NaNs and
// zero runs.
func Summarize(xs []float64) Summary {
	if len(xs) == 0 {
		return Summary{Median: math.NaN(), Min: math.NaN(), Max: math.NaN()}
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	med := s[n/2]
	if n%2 == 0 {
		med = (s[n/2-1] + s[n/2]) / 2
	}
	return Summary{Median: med, Min: s[0], Max: s[n-1], Runs: n}
}

// Rotate returns xs rotated left by k places, so that run k of a round
// robin starts with a different tool each time.
func Rotate[T any](xs []T, k int) []T {
	if len(xs) == 0 {
		return nil
	}
	k %= len(xs)
	if k < 0 {
		k += len(xs)
	}
	return append(slices.Clone(xs[k:]), xs[:k]...)
}
