package address

import (
	"reflect"
	"strings"
	"testing"
)

func TestSplitWaves(t *testing.T) {
	cases := []struct {
		in   string
		want [][]string
	}{
		{"k8s:a/b", [][]string{{"k8s:a/b"}}},
		{"k8s:a/b\n---\nk8s:c/d heroku:e-app", [][]string{{"k8s:a/b"}, {"k8s:c/d", "heroku:e-app"}}},
		{"  k8s:a/b --- k8s:c/d ", [][]string{{"k8s:a/b"}, {"k8s:c/d"}}},
		{"---\nk8s:a/b", [][]string{nil, {"k8s:a/b"}}},
		{"k8s:a/b\n---\n---\nk8s:c/d", [][]string{{"k8s:a/b"}, nil, {"k8s:c/d"}}},
		{"k8s:a/b\n---", [][]string{{"k8s:a/b"}, nil}},
		{"k8s:a/b---", [][]string{{"k8s:a/b---"}}}, // not a word of its own
		{"", [][]string{nil}},
		{"k8s:a/b?context=canary   # wave 1\n---  # then the rest\nk8s:c/d # --- not a separator\n# k8s:e/f", [][]string{{"k8s:a/b?context=canary"}, {"k8s:c/d"}}},
		{"k8s:a/b?health=https://x/#frag", [][]string{{"k8s:a/b?health=https://x/#frag"}}}, // # inside a word
		{"\t# only a comment", [][]string{nil}},
	}
	for _, c := range cases {
		if got := SplitWaves(c.in); !reflect.DeepEqual(got, c.want) {
			t.Errorf("SplitWaves(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// FuzzSplitWaves checks what splitting keeps: no separator or comment in
// a wave, only words of the input, and the waves written back with
// separators split to the same waves.
func FuzzSplitWaves(f *testing.F) {
	f.Add("k8s:shop/web?context=canary # wave 1\n---\nk8s:shop/web?context=eu heroku:shop-prod/web")
	f.Add("--- ---")
	f.Fuzz(func(t *testing.T, s string) {
		waves := SplitWaves(s)
		if len(waves) == 0 {
			t.Fatalf("SplitWaves(%q) gave no wave", s)
		}
		words := map[string]bool{}
		for _, w := range strings.Fields(s) {
			words[w] = true
		}
		var parts []string
		for _, w := range waves {
			for _, f := range w {
				if f == WaveSeparator || strings.HasPrefix(f, "#") || strings.TrimSpace(f) != f || f == "" || !words[f] {
					t.Fatalf("SplitWaves(%q): bad word %q", s, f)
				}
			}
			parts = append(parts, strings.Join(w, " "))
		}
		back := SplitWaves(strings.Join(parts, "\n"+WaveSeparator+"\n"))
		if !reflect.DeepEqual(back, waves) {
			t.Fatalf("SplitWaves(%q) = %q, written back and split again %q", s, waves, back)
		}
	})
}
