package redact

import (
	"slices"
	"sync"
	"testing"
)

// A Set hides what was added after it was made, says which values were
// new, and takes additions while it is being read.
func TestSet(t *testing.T) {
	s := NewSet("configured-key")
	if got := s.Add("minted-token-1", "configured-key", "abc", " minted-token-1 "); !slices.Equal(got, []string{"minted-token-1"}) {
		t.Errorf("Add returned %q, want only the new secret", got)
	}
	if got := s.String("key configured-key, token minted-token-1"); got != "key ***, token ***" {
		t.Errorf("String = %q", got)
	}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			s.Add("token-" + string(rune('a'+i)) + "-xyz")
			_ = s.String("token-a-xyz")
		})
	}
	wg.Wait()
	if got := s.String("token-h-xyz"); got != Marker {
		t.Errorf("a concurrent addition is not hidden: %q", got)
	}
}
