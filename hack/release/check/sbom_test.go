package check

import (
	"debug/buildinfo"
	"encoding/json"
	"net/url"
	"os/exec"
	"sort"
	"strings"
	"testing"
)

const mainModule = "github.com/ferry-dev/ferry"

// goModRequires is go.mod's require list: module path → version, and the
// direct ones that ferry's binary imports (a module that only tests
// require, such as a JSON Schema validator, is in no binary).
func goModRequires(t *testing.T) (all map[string]string, direct []string) {
	t.Helper()
	cmd := exec.Command("go", "mod", "edit", "-json")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go mod edit -json: %v%s", err, stderrOf(err))
	}
	var m struct {
		Require []struct {
			Path, Version string
			Indirect      bool
		}
	}
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatal(err)
	}
	imported := binaryImports(t)
	all = map[string]string{}
	for _, r := range m.Require {
		all[r.Path] = r.Version
		if !r.Indirect && imported[r.Path] {
			direct = append(direct, r.Path)
		}
	}
	if len(direct) == 0 {
		t.Fatal("ferry's binary imports none of go.mod's direct requirements: binaryImports is wrong")
	}
	return all, direct
}

// binaryImports is the set of modules the packages of ferry's binary come
// from (./cmd/ferry and everything it imports, tests excluded).
func binaryImports(t *testing.T) map[string]bool {
	t.Helper()
	cmd := exec.Command("go", "list", "-deps", "-f", "{{with .Module}}{{.Path}}{{end}}", "./cmd/ferry")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps ./cmd/ferry: %v%s", err, stderrOf(err))
	}
	mods := map[string]bool{}
	for _, m := range strings.Fields(string(out)) {
		mods[m] = true
	}
	return mods
}

// linkedModules is what the Go toolchain recorded in a binary as the
// modules it links (what `go version -m` prints): path → version.
func linkedModules(t *testing.T, binary string) map[string]string {
	t.Helper()
	info, err := buildinfo.ReadFile(binary)
	if err != nil {
		t.Fatalf("%s: %v", binary, err)
	}
	if info.Main.Path != mainModule {
		t.Fatalf("%s is %s, not ferry", binary, info.Main.Path)
	}
	out := map[string]string{}
	for _, d := range info.Deps {
		if d.Replace != nil {
			d = d.Replace
		}
		out[d.Path] = d.Version
	}
	return out
}

// sbomModules collects every Go module an SBOM names by package URL
// (pkg:golang/PATH@VERSION), in CycloneDX and SPDX alike: path → version.
func sbomModules(t *testing.T, doc []byte) map[string]string {
	t.Helper()
	var v any
	if err := json.Unmarshal(doc, &v); err != nil {
		t.Fatalf("the SBOM is not JSON: %v", err)
	}
	out := map[string]string{}
	var walk func(any)
	walk = func(x any) {
		switch x := x.(type) {
		case map[string]any:
			for _, y := range x {
				walk(y)
			}
		case []any:
			for _, y := range x {
				walk(y)
			}
		case string:
			rest, ok := strings.CutPrefix(x, "pkg:golang/")
			if !ok {
				return
			}
			rest, _, _ = strings.Cut(rest, "?")
			rest, _, _ = strings.Cut(rest, "#")
			p, ver, ok := strings.Cut(rest, "@")
			if !ok {
				return
			}
			p, _ = url.PathUnescape(p)
			ver, _ = url.PathUnescape(ver)
			if p == mainModule || p == "std" || p == "stdlib" {
				return
			}
			out[p] = ver
		}
	}
	walk(v)
	return out
}

// checkSBOM holds an SBOM to the binary it describes and to go.mod: it
// lists every module the binary links and nothing else, each at go.mod's
// version, and every direct requirement of go.mod is among them. Module
// paths are compared in lower case: a package URL may lower-case them (ko's
// SPDX names pkg:golang/github.com/azure/azure-sdk-for-go/sdk/azcore).
func checkSBOM(t *testing.T, what string, doc []byte, linked, gomod map[string]string, direct []string) {
	t.Helper()
	got := lowerKeys(sbomModules(t, doc))
	if len(got) == 0 {
		t.Fatalf("%s names no Go module", what)
	}
	linked, gomod = lowerKeys(linked), lowerKeys(gomod)
	lowerDirect := make([]string, len(direct))
	for i, p := range direct {
		lowerDirect[i] = strings.ToLower(p)
	}
	direct = lowerDirect
	var problems []string
	for p, v := range linked {
		if got[p] != v {
			problems = append(problems, "links "+p+"@"+v+", the SBOM says "+orNone(got[p]))
		}
		if gomod[p] != v {
			problems = append(problems, "links "+p+"@"+v+", go.mod requires "+orNone(gomod[p]))
		}
	}
	for p, v := range got {
		if _, ok := linked[p]; !ok {
			problems = append(problems, "the SBOM names "+p+"@"+v+", which the binary does not link")
		}
	}
	for _, p := range direct {
		if _, ok := got[p]; !ok {
			problems = append(problems, "go.mod requires "+p+" directly; the SBOM does not name it")
		}
	}
	sort.Strings(problems)
	if len(problems) > 0 {
		t.Errorf("%s:\n  %s", what, strings.Join(problems, "\n  "))
	}
}

func orNone(v string) string {
	if v == "" {
		return "nothing"
	}
	return v
}

// lowerKeys returns m with its keys in lower case.
func lowerKeys(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[strings.ToLower(k)] = v
	}
	return out
}
