package report

import (
	"sort"
	"strings"
)

// Scrubber replaces secret values with "***".
type Scrubber struct{ r *strings.Replacer }

// NewScrubber returns a Scrubber for secrets. Values shorter than 4 bytes
// are ignored: masking them would garble ordinary text and they are too
// short to be credentials.
func NewScrubber(secrets ...string) Scrubber {
	var uniq []string
	seen := map[string]bool{}
	for _, s := range secrets {
		s = strings.TrimSpace(s)
		if len(s) < 4 || seen[s] {
			continue
		}
		seen[s] = true
		uniq = append(uniq, s)
	}
	if len(uniq) == 0 {
		return Scrubber{}
	}
	// Longest first, so a secret containing another is masked whole.
	sort.Slice(uniq, func(i, j int) bool { return len(uniq[i]) > len(uniq[j]) })
	var pairs []string
	for _, s := range uniq {
		pairs = append(pairs, s, "***")
	}
	return Scrubber{r: strings.NewReplacer(pairs...)}
}

// String masks every secret in s.
func (s Scrubber) String(v string) string {
	if s.r == nil {
		return v
	}
	return s.r.Replace(v)
}
