package frontends

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"sigs.k8s.io/yaml"
)

// Orb is a packed orb: the document `circleci orb pack` prints, decoded
// the way sigs.k8s.io/yaml decodes YAML (maps, slices, strings, float64,
// bool, nil).
type Orb map[string]any

// orbSections are the folders of an orb source tree that become top-level
// keys of the packed orb.
var orbSections = []string{"commands", "executors", "jobs", "examples"}

// includeRe matches a string that is exactly one include directive.
var includeRe = regexp.MustCompile(`^<<\s*include\(([^()]+)\)\s*>>$`)

// PackOrb packs the orb source in dir (the folder holding @orb.yml). Only
// the folders commands, executors, jobs and examples are packed; scripts/
// (or any other folder without YAML) is read only through includes.
func PackOrb(dir string) (Orb, error) {
	root, err := readYAMLMap(filepath.Join(dir, "@orb.yml"))
	if err != nil {
		return nil, fmt.Errorf("packing orb %s: %w", dir, err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("packing orb %s: %w", dir, err)
	}
	var errs []error
	for _, e := range entries {
		name := e.Name()
		switch {
		case !e.IsDir() && name == "@orb.yml":
		case !e.IsDir() && isYAML(name):
			errs = append(errs, fmt.Errorf("%s: only @orb.yml may sit at the top of the orb source", name))
		case e.IsDir() && !contains(orbSections, name):
			if n, _ := filepath.Glob(filepath.Join(dir, name, "*.y*ml")); len(n) > 0 {
				errs = append(errs, fmt.Errorf("%s/: YAML in a folder that is not one of %s would be packed as an unknown key", name, strings.Join(orbSections, ", ")))
			}
		case e.IsDir():
			section, err := packSection(filepath.Join(dir, name))
			if err != nil {
				errs = append(errs, err)
				continue
			}
			have, _ := root[name].(map[string]any)
			if have == nil {
				have = map[string]any{}
			}
			for k, v := range section {
				if _, dup := have[k]; dup {
					errs = append(errs, fmt.Errorf("%s/%s: also defined in @orb.yml", name, k))
				}
				have[k] = v
			}
			root[name] = have
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("packing orb %s: %w", dir, err)
	}
	packed, err := inline(dir, root, "")
	if err != nil {
		return nil, fmt.Errorf("packing orb %s: %w", dir, err)
	}
	m, ok := packed.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("packing orb %s: @orb.yml is not a map", dir)
	}
	return Orb(m), nil
}

func packSection(dir string) (map[string]any, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	out := map[string]any{}
	var errs []error
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() {
			// circleci orb pack ignores nested folders; say so rather than
			// lose a file silently.
			errs = append(errs, fmt.Errorf("%s/%s/: nested folders are not packed", filepath.Base(dir), name))
			continue
		}
		if !isYAML(name) {
			continue
		}
		key := strings.TrimSuffix(name, filepath.Ext(name))
		if _, dup := out[key]; dup {
			errs = append(errs, fmt.Errorf("%s/%s: two files define %q", filepath.Base(dir), name, key))
			continue
		}
		m, err := readYAMLMap(filepath.Join(dir, name))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out[key] = m
	}
	return out, errors.Join(errs...)
}

// inline replaces every string that is exactly <<include(path)>> by the
// content of path, relative to the orb source folder. An include that is
// only part of a string is an error, as with circleci orb pack.
func inline(dir string, v any, at string) (any, error) {
	switch v := v.(type) {
	case map[string]any:
		var errs []error
		for _, k := range sortedKeys(v) {
			nv, err := inline(dir, v[k], at+"."+k)
			errs = append(errs, err)
			v[k] = nv
		}
		return v, errors.Join(errs...)
	case []any:
		var errs []error
		for i := range v {
			nv, err := inline(dir, v[i], fmt.Sprintf("%s[%d]", at, i))
			errs = append(errs, err)
			v[i] = nv
		}
		return v, errors.Join(errs...)
	case string:
		if !strings.Contains(v, "include(") || !strings.Contains(v, "<<") {
			return v, nil
		}
		m := includeRe.FindStringSubmatch(v)
		if m == nil {
			return v, fmt.Errorf("%s: an include must be the entire string: %q", strings.TrimPrefix(at, "."), v)
		}
		p := path.Clean(strings.TrimSpace(m[1]))
		if path.IsAbs(p) || strings.HasPrefix(p, "../") {
			return v, fmt.Errorf("%s: include %q leaves the orb source", strings.TrimPrefix(at, "."), m[1])
		}
		b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(p)))
		if err != nil {
			return v, fmt.Errorf("%s: %w", strings.TrimPrefix(at, "."), err)
		}
		return string(b), nil
	}
	return v, nil
}

func readYAMLMap(file string) (map[string]any, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := yaml.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if m == nil {
		return nil, fmt.Errorf("%s: empty document", file)
	}
	return m, nil
}

func isYAML(name string) bool {
	ext := filepath.Ext(name)
	return ext == ".yml" || ext == ".yaml"
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Section returns one top-level section (commands, jobs, executors,
// examples) by name; nil when absent.
func (o Orb) Section(name string) map[string]any {
	m, _ := o[name].(map[string]any)
	return m
}
