package config

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/ferry-dev/ferry/pkg/address"
	"github.com/ferry-dev/ferry/pkg/redact"
)

// The commands Validate knows.
const (
	CommandPromote  = "promote"
	CommandPlan     = "plan"
	CommandStatus   = "status"
	CommandRollback = "rollback"
)

const maxDuration = 6 * time.Hour

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

// Validate checks c for command (promote, plan, status or rollback) and
// fills in the parsed fields. It reports every problem at once as a
// *ValidationError, including those Load kept; an unknown command is a
// plain error. Only promote and plan read FERRY_SOURCE: status and
// rollback neither need nor check it, so a broken source never blocks a
// rollback.
func (c *Config) Validate(command string) error {
	var withSource bool
	switch command {
	case CommandPromote, CommandPlan:
		withSource = true
	case CommandStatus, CommandRollback:
	default:
		return fmt.Errorf("unknown command %q: use promote, plan, status or rollback", command)
	}

	ps := slices.Clone(c.loadProblems)
	bad := map[int]bool{}
	for _, p := range ps {
		bad[p.order] = true
	}
	add := func(key, msg, example string) {
		ps = append(ps, c.problem(fieldKeyed(key), msg, example))
	}
	addPart := func(msg, example string) {
		p := c.problem(fieldKeyed("TARGETS"), msg, example)
		p.part = true
		ps = append(ps, p)
	}
	ok := func(key string) bool { return !bad[fieldKeyed(key).index] }

	// Addresses.
	c.SourceAddr, c.TargetAddrs = address.Address{}, nil
	var heroku []string // heroku: addresses, with the variable naming them
	if withSource {
		f := fieldKeyed("SOURCE")
		switch n := len(strings.Fields(c.Source)); {
		case n == 0:
			add("SOURCE", fmt.Sprintf("required for %q", command), f.example)
		case n > 1:
			add("SOURCE", fmt.Sprintf("takes one address, not %d", n), f.example)
		default:
			a, err := address.Parse(c.Source)
			switch {
			case err != nil:
				add("SOURCE", addressMessage(err), addressExample(err))
			case a.Health != "":
				a.Health = ""
				add("SOURCE", fmt.Sprintf("source %q has a health option: health checks apply to targets only", c.Source),
					a.String())
			default:
				c.SourceAddr = a
				if a.Kind == address.KindHeroku {
					heroku = append(heroku, a.String()+" in "+c.varName(f))
				}
			}
		}
	}
	if c.Targets == "" {
		add("TARGETS", fmt.Sprintf("required for %q", command), fieldKeyed("TARGETS").example)
	} else {
		c.TargetAddrs, heroku = c.checkTargets(addPart, heroku)
	}
	if len(heroku) > 0 && c.HerokuAPIKey == "" {
		msg := fmt.Sprintf("required for heroku: addresses (%s); create a key with \"heroku authorizations:create\"",
			strings.Join(heroku, ", "))
		if c.Mode != ModeGitHub {
			msg += " (HEROKU_API_KEY works too)"
		}
		add("HEROKU_API_KEY", msg, "")
	}

	// Credentials and endpoints.
	if c.KubeconfigData != "" {
		if msg := kubeconfigShape(c.KubeconfigData); msg != "" {
			add("KUBECONFIG_DATA", msg, "")
		}
	}
	if u, err := url.Parse(c.HerokuAPIURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") ||
		u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		add("HEROKU_API_URL", fmt.Sprintf("%q is not an http(s) URL without credentials or query", redact.URL(c.HerokuAPIURL)),
			fieldKeyed("HEROKU_API_URL").def)
	}
	if _, err := name.NewRegistry(c.HerokuRegistry, name.StrictValidation); err != nil ||
		strings.Contains(c.HerokuRegistry, "/") {
		add("HEROKU_REGISTRY", fmt.Sprintf("%q is not a registry host (HOST or HOST:PORT, no scheme or path)", c.HerokuRegistry),
			fieldKeyed("HEROKU_REGISTRY").def)
	}
	if !platformRE.MatchString(c.Platform) {
		add("PLATFORM", fmt.Sprintf("%q is not a platform: write OS/ARCH or OS/ARCH/VARIANT in lower case", c.Platform),
			fieldKeyed("PLATFORM").def)
	}

	// Choices and ranges.
	oneOf := func(key, v string, allowed ...string) {
		if !slices.Contains(allowed, v) {
			add(key, fmt.Sprintf("%q is not one of %s", v, strings.Join(allowed, ", ")), allowed[len(allowed)-1])
		}
	}
	oneOf("OUTPUT", c.Output, "text", "json")
	oneOf("ON_PAUSED", c.OnPaused, "refuse", "resume")
	oneOf("ON_PROGRESSING", c.OnProgressing, "refuse", "wait")

	positive := func(key string, d time.Duration) {
		if ok(key) && (d <= 0 || d > maxDuration) {
			add(key, fmt.Sprintf("%s is out of range: use more than 0 and at most 6h", d), fieldKeyed(key).def)
		}
	}
	positive("TIMEOUT", c.Timeout)
	positive("RESTORE_TIMEOUT", c.RestoreTimeout)
	positive("HEALTH_TIMEOUT", c.HealthTimeout)
	if ok("HEALTH_INTERVAL") {
		switch {
		case c.HealthInterval <= 0:
			add("HEALTH_INTERVAL", fmt.Sprintf("%s is out of range: use more than 0", c.HealthInterval), fieldKeyed("HEALTH_INTERVAL").def)
		case ok("HEALTH_TIMEOUT") && c.HealthTimeout > 0 && c.HealthInterval > c.HealthTimeout:
			add("HEALTH_INTERVAL", fmt.Sprintf("%s is longer than the health timeout (%s)", c.HealthInterval, c.HealthTimeout),
				fieldKeyed("HEALTH_INTERVAL").def)
		}
	}
	if ok("HEALTH_SOAK") && (c.HealthSoak < 0 || c.HealthSoak > maxDuration) {
		add("HEALTH_SOAK", fmt.Sprintf("%s is out of range: use 0 to 6h", c.HealthSoak), fieldKeyed("HEALTH_SOAK").example)
	}
	between := func(key string, n, lo, hi int) {
		if ok(key) && (n < lo || n > hi) {
			add(key, fmt.Sprintf("%d is out of range: use %d to %d", n, lo, hi), fieldKeyed(key).def)
		}
	}
	between("PARALLELISM", c.Parallelism, 1, 64)
	between("HEALTH_THRESHOLD", c.HealthThreshold, 1, 100)

	// HTTP check.
	c.HealthStatusRanges, c.HealthBodyRegexp = nil, nil
	if r, err := parseStatus(c.HealthStatus); err != nil {
		add("HEALTH_STATUS", err.Error(), fieldKeyed("HEALTH_STATUS").example)
	} else {
		c.HealthStatusRanges = r
	}
	if c.HealthBody != "" {
		if re, err := regexp.Compile(c.HealthBody); err != nil {
			add("HEALTH_BODY", fmt.Sprintf("%q is not a regular expression: %v", c.HealthBody, err), fieldKeyed("HEALTH_BODY").example)
		} else {
			c.HealthBodyRegexp = re
		}
	}

	if len(ps) == 0 {
		return nil
	}
	sort.SliceStable(ps, func(i, j int) bool { return ps[i].order < ps[j].order })
	return &ValidationError{Problems: ps}
}

// checkTargets parses c.Targets, reporting each bad, duplicate or unusable
// address, and returns the good ones and heroku with heroku targets added.
func (c *Config) checkTargets(add func(msg, example string), heroku []string) ([]address.Address, []string) {
	f := fieldKeyed("TARGETS")
	var good []address.Address
	for _, s := range strings.Fields(c.Targets) {
		a, err := address.Parse(s)
		if err != nil {
			add(addressMessage(err), addressExample(err))
			continue
		}
		switch {
		case a.Kind == address.KindImage:
			example := f.example
			for _, scheme := range []string{"heroku", "k8s"} {
				if rest, ok := strings.CutPrefix(s, scheme+"/"); ok {
					if b, err := address.Parse(scheme + ":" + rest); err == nil {
						example = b.String()
					}
				}
			}
			add(fmt.Sprintf("%q is an image reference: a target is a k8s Deployment or a Heroku app", s), example)
			continue
		case a.Kind == address.KindKube && strings.HasPrefix(a.Health, "/"):
			a.Health = "https://shop.example.com" + a.Health
			add(fmt.Sprintf("k8s target %q has a health path but no host to resolve it against: give a whole http(s) URL", s),
				a.String())
			continue
		}
		if i := slices.IndexFunc(good, func(b address.Address) bool { return b.Identity() == a.Identity() }); i >= 0 {
			prev := good[i]
			if a.Kind == address.KindHeroku {
				merged := prev
				merged.Processes = slices.Clone(prev.Processes)
				for _, p := range a.Processes {
					if !slices.Contains(merged.Processes, p) {
						merged.Processes = append(merged.Processes, p)
					}
				}
				add(fmt.Sprintf("%q and %q name the same Heroku app: list its process types in one address", prev.String(), s),
					merged.String())
			} else {
				add(fmt.Sprintf("%q and %q name the same Deployment", prev.String(), s), "")
			}
			continue
		}
		if c.SourceAddr.Kind != "" && sameWorkload(c.SourceAddr, a) {
			add(fmt.Sprintf("%q is also the source (%s)", s, c.varName(fieldKeyed("SOURCE"))), "")
			continue
		}
		good = append(good, a)
		if a.Kind == address.KindHeroku {
			heroku = append(heroku, a.String()+" in "+c.varName(f))
		}
	}
	return good, heroku
}

// sameWorkload reports whether target t runs what source s names: the same
// Deployment container (an unnamed container matches any) or an
// overlapping set of process types of the same Heroku app.
func sameWorkload(s, t address.Address) bool {
	if s.Identity() != t.Identity() {
		return false
	}
	switch s.Kind {
	case address.KindKube:
		return s.Container == "" || t.Container == "" || s.Container == t.Container
	case address.KindHeroku:
		for _, p := range t.Processes {
			if slices.Contains(s.Processes, p) {
				return true
			}
		}
		return false
	}
	return true
}

func addressMessage(err error) string {
	var ae *address.Error
	if errors.As(err, &ae) {
		return ae.Msg
	}
	return err.Error()
}

func addressExample(err error) string {
	var ae *address.Error
	if errors.As(err, &ae) {
		return ae.Example
	}
	return ""
}

var (
	platformRE = regexp.MustCompile(`^[a-z0-9]+/[a-z0-9_]+(/[a-z0-9]+)?$`)
	yamlKeyRE  = regexp.MustCompile(`(?m)^[ \t]*["']?[A-Za-z][A-Za-z0-9_-]*["']?[ \t]*:([ \t]|$)`)
)

// kubeconfigShape returns why s cannot be a kubeconfig, or "". It is only
// a shape check (pkg/kube parses it) and never shows s.
func kubeconfigShape(s string) string {
	if b, ok := decodeBase64(s); ok {
		if !looksLikeKubeconfig(string(b)) {
			return "the value decodes from base64, but not to a kubeconfig (YAML or JSON); encode the whole file, e.g. base64 -w0 ~/.kube/config"
		}
		return ""
	}
	if !looksLikeKubeconfig(s) {
		return "the value is neither base64 nor a kubeconfig in YAML or JSON; give the file's content or base64 -w0 ~/.kube/config"
	}
	return ""
}

func looksLikeKubeconfig(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	t := strings.TrimSpace(s)
	return strings.HasPrefix(t, "{") && strings.HasSuffix(t, "}") || yamlKeyRE.MatchString(t)
}

// parseStatus reads "200-299,304": codes and inclusive ranges.
func parseStatus(s string) ([]StatusRange, error) {
	bad := func() error {
		return fmt.Errorf("%q is not a list of HTTP status codes: write codes (100 to 599) and ranges like 200-299 separated by commas", s)
	}
	if strings.TrimSpace(s) == "" {
		return nil, bad()
	}
	var out []StatusRange
	for part := range strings.SplitSeq(s, ",") {
		lo, hi, isRange := strings.Cut(strings.TrimSpace(part), "-")
		if !isRange {
			hi = lo
		}
		a, err1 := strconv.Atoi(strings.TrimSpace(lo))
		b, err2 := strconv.Atoi(strings.TrimSpace(hi))
		if err1 != nil || err2 != nil || a < 100 || b > 599 || a > b {
			return nil, bad()
		}
		out = append(out, StatusRange{Min: a, Max: b})
	}
	return out, nil
}

// varName is a short name for f's variable inside a message: the one the
// value came from ("FERRY_TARGETS", `input "targets"`).
func (c *Config) varName(f field) string {
	_, lhs, yaml := c.names(f)
	if yaml {
		return fmt.Sprintf("input %q", lhs)
	}
	return lhs
}

// names returns how to show f's variable, the left-hand side of an example
// and whether that example is a with: line.
func (c *Config) names(f field) (shown, lhs string, yaml bool) {
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
func (c *Config) problem(f field, msg, example string) Problem {
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
