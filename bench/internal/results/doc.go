// Package results holds the figures a benchmark run produces and writes
// them as results.json (one object per figure) and as the table at the top
// of results.md. A figure is ferry's median with its spread, the median of
// the tool it is compared with (its anchor) measured in the same run, the
// ratio of the two, and the bound ferry is held to.
package results
