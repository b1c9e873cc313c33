package config

import (
	"fmt"
	"regexp"
	"strings"
)

// Problem is one thing wrong with the configuration.
type Problem struct {
	// Var names the variable as the user set it: "FERRY_TARGETS",
	// "KUBECONFIG", or `INPUT_TARGETS (input "targets")` in GitHub Actions.
	Var string
	// Message says what is wrong, lower-case, never showing a secret.
	Message string
	// Example is a good value, or empty.
	Example string

	lhs   string // left-hand side of the example: "FERRY_TARGETS" or "targets"
	yaml  bool   // the example is a with: line, not a shell assignment
	part  bool   // the example is one address of a list, shown alone
	order int    // the field's position, to list problems in struct order
}

// String is the problem on one line:
//
//	FERRY_TARGETS: required for "promote"; for example FERRY_TARGETS='k8s:shop/web?context=production'
func (p Problem) String() string {
	s := p.Var + ": " + p.Message
	if p.Example == "" {
		return s
	}
	if p.part {
		return s + "; for example " + p.Example
	}
	lhs := p.lhs
	if lhs == "" {
		lhs = p.Var
	}
	if p.yaml {
		return s + "; for example " + lhs + ": " + yamlQuote(p.Example)
	}
	return s + "; for example " + lhs + "=" + shellQuote(p.Example)
}

// ValidationError lists every problem found; ferry exits 2 on it.
type ValidationError struct {
	Problems []Problem
}

func (e *ValidationError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// varName is a short name for f's variable inside a message: the one the
// value came from ("FERRY_TARGETS", `input "targets"`).
func (c *Settings) varName(f field) string {
	_, lhs, yaml := c.names(f)
	if yaml {
		return fmt.Sprintf("input %q", lhs)
	}
	return lhs
}

// names returns how to show f's variable, the left-hand side of an example
// and whether that example is a with: line.
func (c *Settings) names(f field) (shown, lhs string, yaml bool) {
	from := c.from[f.key]
	if strings.HasPrefix(from, "INPUT_") || (from == "" && c.Mode == ModeGitHub) {
		return fmt.Sprintf("%s (input %q)", f.inputVar(), f.input()), f.input(), true
	}
	if from == "" {
		from = Prefix + f.key
	}
	return from, from, false
}

// problem makes a Problem about f. Secrets get no example value, except a
// reference to a repository secret in GitHub Actions.
func (c *Settings) problem(f field, msg, example string) Problem {
	shown, lhs, yaml := c.names(f)
	if f.secret {
		example = ""
		if yaml {
			example = "${{ secrets." + f.key + " }}"
		}
	}
	return Problem{Var: shown, Message: msg, Example: example, lhs: lhs, yaml: yaml, order: f.index}
}

var shellSafe = regexp.MustCompile(`^[A-Za-z0-9_./:@,+=%-]+$`)

func shellQuote(s string) string {
	if shellSafe.MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func yamlQuote(s string) string {
	plain := s != "" && !strings.ContainsAny(s[:1], "!&*{}[]|>'\"%@`,?:#-") &&
		!strings.Contains(s, ": ") && !strings.Contains(s, " #") &&
		!strings.ContainsAny(s, "\n\t") && strings.TrimSpace(s) == s
	if plain {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}
