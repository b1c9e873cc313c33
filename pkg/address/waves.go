package address

import "strings"

// WaveSeparator, a word of its own between addresses (usually on a line of
// its own), ends one wave of targets and starts the next.
const WaveSeparator = "---"

// SplitWaves splits a list of addresses into waves at each
// [WaveSeparator]: the fields (whitespace-separated words) of each wave,
// in order. A word that starts with # starts a comment, to the end of its
// line ("k8s:shop/web?context=canary  # wave 1"). It parses no address. A
// list without separator is one wave. A wave may come out empty (a
// separator first, last, or twice in a row); the caller refuses that,
// naming the wave.
func SplitWaves(s string) [][]string {
	waves := [][]string{nil}
	for _, line := range strings.Split(s, "\n") {
		for _, f := range strings.Fields(line) {
			if strings.HasPrefix(f, "#") {
				break
			}
			if f == WaveSeparator {
				waves = append(waves, nil)
				continue
			}
			waves[len(waves)-1] = append(waves[len(waves)-1], f)
		}
	}
	return waves
}
