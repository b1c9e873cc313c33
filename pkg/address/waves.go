package address

import "strings"

// WaveSeparator, a word of its own between addresses (usually on a line of
// its own), ends one wave of targets and starts the next.
const WaveSeparator = "---"

// SplitWaves splits a list of addresses into waves at each
// [WaveSeparator]: the fields (whitespace-separated words) of each wave,
// in order. It parses no address. A list without separator is one wave.
// A wave may come out empty (a separator first, last, or twice in a
// row); the caller refuses that, naming the wave.
func SplitWaves(s string) [][]string {
	waves := [][]string{nil}
	for _, f := range strings.Fields(s) {
		if f == WaveSeparator {
			waves = append(waves, nil)
			continue
		}
		waves[len(waves)-1] = append(waves[len(waves)-1], f)
	}
	return waves
}
