package config

import (
	"fmt"
	"sort"
	"strings"
)

// unknownVars returns a problem for each FERRY_ variable, and in GitHub
// Actions each INPUT_ variable, that is no setting of ferry's: a typo
// (FERRY_TARGET, FERRY_TIMOUT) would otherwise pass silently and run with
// the default. Values are never shown: a misspelt secret is still secret.
func unknownVars(all map[string]string, m Mode) []Problem {
	var known, inputs []string
	for _, f := range fields {
		known = append(known, Prefix+f.key)
		inputs = append(inputs, f.inputVar())
	}
	known = append(known, Prefix+"MODE")
	var out []Problem
	for name := range all {
		var candidates []string
		switch {
		case strings.HasPrefix(name, Prefix):
			candidates = known
		case m == ModeGitHub && strings.HasPrefix(name, "INPUT_"):
			candidates = inputs
		default:
			continue
		}
		if contains(candidates, name) || strings.HasPrefix(name, AppKeyPrefix) {
			continue // per-app Heroku keys are checked against the addresses
		}
		msg := "not a setting of ferry's: remove it (ferry env lists every setting)"
		if s := suggest(name, candidates); s != "" {
			msg = "not a setting of ferry's: did you mean " + s + "?"
			if strings.HasPrefix(s, "INPUT_") {
				msg = fmt.Sprintf("not an input of ferry's: did you mean input %q?", inputName(s))
			}
		} else if strings.HasPrefix(name, "INPUT_") {
			msg = "not an input of ferry's: remove it (ferry env lists every input)"
		}
		out = append(out, Problem{Var: name, Message: msg, lhs: name, order: -1})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Var < out[j].Var })
	return out
}

// inputName turns INPUT_KUBECONFIG-DATA into kubeconfig-data.
func inputName(v string) string { return strings.ToLower(strings.TrimPrefix(v, "INPUT_")) }

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// suggest returns the candidate closest to name, when one is close enough
// to be a typo of it: at most a third of its letters differ (insertions,
// deletions, substitutions; '-' and '_' count as the same), or one is the
// other with a letter added at the end (FERRY_TARGET, FERRY_TARGETS).
func suggest(name string, candidates []string) string {
	norm := func(s string) string { return strings.ReplaceAll(strings.ToUpper(s), "-", "_") }
	best, bestD := "", -1
	for _, c := range candidates {
		d := distance(norm(name), norm(c))
		if bestD < 0 || d < bestD {
			best, bestD = c, d
		}
	}
	if bestD < 0 || bestD > max(1, (len(name)-len(Prefix))/3) {
		return ""
	}
	return best
}

// distance is the Levenshtein distance between a and b.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// AppKeyPrefix starts the variables that hold a Heroku app's own API key:
// FERRY_HEROKU_API_KEY_SHOP_PROD is the key of app shop-prod.
const AppKeyPrefix = Prefix + "HEROKU_API_KEY_"

// AppKeyVar is the variable of app's own Heroku API key.
func AppKeyVar(app string) string {
	return AppKeyPrefix + strings.ToUpper(strings.ReplaceAll(app, "-", "_"))
}
