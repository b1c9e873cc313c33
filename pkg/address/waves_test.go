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
	}
	for _, c := range cases {
		if got := SplitWaves(c.in); !reflect.DeepEqual(got, c.want) {
			t.Errorf("SplitWaves(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// FuzzSplitWaves checks that splitting loses and invents nothing: the
// waves joined back with separators give the same words as the input.
func FuzzSplitWaves(f *testing.F) {
	f.Add("k8s:shop/web?context=canary\n---\nk8s:shop/web?context=eu heroku:shop-prod/web")
	f.Add("--- ---")
	f.Fuzz(func(t *testing.T, s string) {
		waves := SplitWaves(s)
		seps := 0
		for _, f := range strings.Fields(s) {
			if f == WaveSeparator {
				seps++
			}
		}
		if len(waves) != seps+1 {
			t.Fatalf("SplitWaves(%q) = %d waves for %d separators", s, len(waves), seps)
		}
		var parts []string
		for _, w := range waves {
			for _, f := range w {
				if f == WaveSeparator || strings.TrimSpace(f) != f || f == "" {
					t.Fatalf("SplitWaves(%q): bad word %q", s, f)
				}
			}
			parts = append(parts, strings.Join(w, " "))
		}
		back := strings.Join(strings.Fields(strings.Join(parts, " "+WaveSeparator+" ")), " ")
		if want := strings.Join(strings.Fields(s), " "); back != want {
			t.Fatalf("SplitWaves(%q) joined back is %q, want %q", s, back, want)
		}
	})
}
