package results

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func sampleFigures() []Figure {
	return []Figure{
		New("fresh 1 GiB copy", "s", []float64{9, 10, 12, 11, 10}, "crane copy -j 8", []float64{8, 9, 9, 10, 9},
			&Bound{Text: "≤ 1.0× crane copy -j 8", OnRatio: true, Max: 1.0}),
		New("peak RSS, fresh copy", "MB", []float64{40, 41, 39}, "crane copy -j 8", []float64{60, 62, 61},
			&Bound{Text: "≤ 64 MB", Max: 64}),
		New("copy with every blob present", "s", []float64{0.05, 0.04, 0.06}, "", nil, &Bound{Text: "≤ 0.1 s", Max: 0.1}).
			WithNote("a | in a note"),
		New("layer bytes uploaded", "bytes", []float64{0, 0, 0}, "", nil, &Bound{Text: "0", Max: 0}),
		New("new tag sharing 7 of 8 layers, uploaded", "bytes", []float64{134217728 + 1024}, "", nil, nil),
		Pending("container image size", "MB", "≤ 30 MB", "hack/image does not exist yet"),
	}
}

func TestNewComputesRatioAndMet(t *testing.T) {
	figs := sampleFigures()
	f := figs[0]
	if *f.Ferry != 10 || *f.Anchor != 9 || *f.Min != 9 || *f.Max != 12 || f.Runs != 5 {
		t.Fatalf("figure %+v", f)
	}
	if r := *f.Ratio; r < 1.11 || r > 1.12 {
		t.Errorf("ratio %v, want 10/9", r)
	}
	if f.Met == nil || *f.Met {
		t.Errorf("met %v, want false: 1.11 > 1.0", f.Met)
	}
	if m := figs[1].Met; m == nil || !*m {
		t.Errorf("RSS met %v, want true: 40 ≤ 64", m)
	}
	if m := figs[3].Met; m == nil || !*m {
		t.Errorf("zero bytes met %v, want true: 0 ≤ 0", m)
	}
	if figs[4].Met != nil || figs[4].Ratio != nil {
		t.Errorf("a figure without bound or anchor has met %v ratio %v", figs[4].Met, figs[4].Ratio)
	}
	if f := New("x", "s", nil, "", nil, nil); f.Pending == "" || f.Ferry != nil {
		t.Errorf("figure without samples: %+v, want pending", f)
	}
}

func TestWriteJSONKeys(t *testing.T) {
	var b bytes.Buffer
	if err := WriteJSON(&b, sampleFigures()); err != nil {
		t.Fatal(err)
	}
	var got []map[string]any
	if err := json.Unmarshal(b.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"name", "unit", "ferry", "anchor", "anchor_name", "ratio", "target", "met", "min", "max", "runs"} {
		if _, ok := got[0][k]; !ok {
			t.Errorf("first figure lacks key %q: %v", k, got[0])
		}
	}
	if got[5]["pending"] == nil || got[5]["ferry"] != nil || got[5]["met"] != nil {
		t.Errorf("pending figure: %v", got[5])
	}
}

func TestWriteTableGolden(t *testing.T) {
	var b bytes.Buffer
	if err := WriteTable(&b, sampleFigures()); err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "table.golden.md")
	if *update {
		if err := os.WriteFile(golden, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b.Bytes(), want) {
		t.Errorf("table differs from %s (go test -update to accept):\n%s", golden, b.String())
	}
}

func TestFormat(t *testing.T) {
	v := func(x float64) *float64 { return &x }
	tests := []struct {
		v    *float64
		unit string
		want string
	}{
		{v(0.0123), "s", "12.3 ms"},
		{v(0.5), "s", "500 ms"},
		{v(12.345), "s", "12.3 s"},
		{v(0), "s", "0.00 s"},
		{v(3 << 20), "bytes", "3.0 MiB"},
		{v(2048), "bytes", "2.0 KiB"},
		{v(12), "bytes", "12 B"},
		{v(41.26), "MB", "41.3 MB"},
		{v(7.5), "ms", "7.50 ms"},
		{nil, "s", "n/a"},
	}
	for _, tt := range tests {
		if got := Format(tt.v, tt.unit); got != tt.want {
			t.Errorf("Format(%v, %q) = %q, want %q", tt.v, tt.unit, got, tt.want)
		}
	}
}

func TestMerge(t *testing.T) {
	a := New("a", "s", []float64{1}, "", nil, nil)
	b := New("b", "s", []float64{2}, "", nil, nil)
	b2 := New("b", "s", []float64{3}, "", nil, nil)
	c := New("c", "s", []float64{4}, "", nil, nil)
	got := Merge([]Figure{a, b}, []Figure{c, b2})
	if len(got) != 3 || got[0].Name != "a" || got[1].Name != "b" || *got[1].Ferry != 3 || got[2].Name != "c" {
		t.Fatalf("merged %+v", got)
	}
}

func TestReplaceTableAndSection(t *testing.T) {
	md := "# title\n\nintro\n\n| figure | ferry (median) | x |\n|---|---|---|\n| old | 1 | 2 |\n\nafter\n"
	got, err := ReplaceTable(md, "| figure | ferry (median) | x |\n|---|---|---|\n| new | 3 | 4 |\n")
	if err != nil {
		t.Fatal(err)
	}
	if want := "# title\n\nintro\n\n| figure | ferry (median) | x |\n|---|---|---|\n| new | 3 | 4 |\n\nafter\n"; got != want {
		t.Fatalf("got %q\nwant %q", got, want)
	}
	if _, err := ReplaceTable("no table\n", "x"); err == nil {
		t.Fatal("a results.md without a table was accepted")
	}
	once := ReplaceSection(got, "creds", "## creds\n\nv1\n")
	twice := ReplaceSection(once, "creds", "## creds\n\nv2\n")
	if !strings.HasSuffix(once, "<!-- merged: creds -->\n## creds\n\nv1\n<!-- /merged: creds -->\n") ||
		strings.Contains(twice, "v1") || strings.Count(twice, "<!-- merged: creds -->") != 1 || !strings.HasPrefix(twice, got[:len(got)-1]) {
		t.Fatalf("once %q\ntwice %q", once, twice)
	}
}
