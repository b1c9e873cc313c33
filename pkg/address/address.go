package address

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/google/go-containerregistry/pkg/name"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/ferry-dev/ferry/pkg/redact"
)

// Kind says which platform an address names.
type Kind string

// The kinds of address.
const (
	KindImage  Kind = "image"
	KindKube   Kind = "k8s"
	KindHeroku Kind = "heroku"
)

// Workload kinds other than Deployment, as Kubernetes spells them.
const (
	WorkloadDeployment  = "Deployment"
	WorkloadStatefulSet = "StatefulSet"
	WorkloadDaemonSet   = "DaemonSet"
	// WorkloadRollout is Argo Rollouts' Rollout (argoproj.io/v1alpha1).
	WorkloadRollout = "Rollout"
)

// workloadWords are the kind words a k8s: address may use, as kubectl
// spells them (plural, singular, short), and the kind each names.
var workloadWords = map[string]string{
	"deployment": "", "deployments": "", "deploy": "",
	"statefulset": WorkloadStatefulSet, "statefulsets": WorkloadStatefulSet, "sts": WorkloadStatefulSet,
	"daemonset": WorkloadDaemonSet, "daemonsets": WorkloadDaemonSet, "ds": WorkloadDaemonSet,
	"rollout": WorkloadRollout, "rollouts": WorkloadRollout, "ro": WorkloadRollout,
}

// KindName is the kind of the workload a k8s: address names, as
// Kubernetes spells it ("Deployment" when the address names none).
func (a Address) KindName() string {
	if a.Workload == "" {
		return WorkloadDeployment
	}
	return a.Workload
}

// Containers are the names of the containers a k8s: address changes, in
// the order given; nil when it names none (the workload's only
// container). For a mapping they are the left-hand names.
func (a Address) Containers() []string { return SplitContainers(a.Container) }

// SplitContainers reads the names of a container option as Containers
// does; the one reader of that option for every package.
func SplitContainers(option string) []string {
	if option == "" {
		return nil
	}
	var out []string
	for e := range strings.SplitSeq(option, ",") {
		name, _, _ := strings.Cut(e, "=")
		out = append(out, name)
	}
	return out
}

// ContainerMap is one pair of a container mapping: the target's
// container Container takes the image the source's container From runs.
type ContainerMap struct {
	Container string `json:"container"`
	From      string `json:"from"`
}

// Mapping is the container mapping of a k8s: target address
// (?container=TARGET=SOURCE,...), in the order given; nil when it names
// containers without sources (they all take the source's one image).
func (a Address) Mapping() []ContainerMap { return SplitMapping(a.Container) }

// SplitMapping reads the mapping of a container option as Mapping does.
func SplitMapping(option string) []ContainerMap {
	if !strings.Contains(option, "=") {
		return nil
	}
	var out []ContainerMap
	for e := range strings.SplitSeq(option, ",") {
		t, f, _ := strings.Cut(e, "=")
		out = append(out, ContainerMap{Container: t, From: f})
	}
	return out
}

// DefaultProcess is the Heroku process type of an address that names none.
const DefaultProcess = "web"

// Examples of good addresses, used in error messages.
const (
	ExampleKube   = "k8s:shop/web?context=production"
	ExampleHeroku = "heroku:shop-production/web"
	ExampleImage  = "ghcr.io/acme/shop:1.4.2"
)

// Address is a parsed source or target address.
type Address struct {
	Kind Kind

	// Kubernetes (KindKube): the workload's namespace and name (the field
	// keeps its first name, Deployment, whatever the workload's kind), the
	// kubeconfig context (empty: the current context) and the containers
	// to change: one name, or several separated by commas (see
	// [Address.Containers]); empty: the only one.
	Namespace, Deployment, Context, Container string
	// Workload is the kind of the workload: "" for a Deployment (the
	// default), [WorkloadStatefulSet], [WorkloadDaemonSet] or
	// [WorkloadRollout].
	Workload string

	// Heroku (KindHeroku): the app and its process types, never empty in
	// an address that Parse returned ([DefaultProcess] when none is given).
	App       string
	Processes []string

	// Ref is an image reference (KindImage) exactly as given.
	Ref string

	// Health is the HTTP health check of a target: an absolute path
	// ("/healthz", resolved against the app's URL) or an http(s) URL.
	Health string
}

// Error is an address that does not parse.
type Error struct {
	// Input is the address as given (with the user info of a health URL
	// hidden by redact.URL).
	Input string
	// Msg says what is wrong; it quotes the input.
	Msg string
	// Example is a good address of the kind Input looks like; it may be
	// empty when Msg already shows what to write.
	Example string
}

func (e *Error) Error() string {
	if e.Example == "" {
		return e.Msg
	}
	return e.Msg + "; for example " + e.Example
}

func errorf(input, example, format string, args ...any) *Error {
	return &Error{Input: input, Msg: fmt.Sprintf(format, args...), Example: example}
}

const (
	kubePrefix   = "k8s:"
	herokuPrefix = "heroku:"
	useForms     = "use k8s:NAMESPACE/DEPLOYMENT, heroku:APP/PROCESS or an image reference"
)

var (
	kubeOptions   = []string{"context", "container", "health"}
	herokuOptions = []string{"health"}

	herokuApp   = regexp.MustCompile(`^[a-z][a-z0-9-]{1,28}[a-z0-9]$`)
	processType = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)
	schemeWord  = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+-]*$`)
	portThen    = regexp.MustCompile(`^[0-9]+(/|$)`)
)

// Parse parses one address. Surrounding whitespace is ignored; whitespace
// inside an address is an error (write it as %20 in an option value).
func Parse(s string) (Address, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Address{}, errorf(s, "", "empty address: %s", useForms)
	}
	if !utf8.ValidString(s) {
		return Address{}, errorf(s, "", "address %q is not valid UTF-8", s)
	}
	if i := strings.IndexFunc(s, unicode.IsSpace); i >= 0 {
		return Address{}, errorf(s, "",
			"address %q contains whitespace: separate addresses with spaces or newlines, and write a space inside an option value as %%20", s)
	}
	if i := strings.IndexFunc(s, unicode.IsControl); i >= 0 {
		return Address{}, errorf(s, "", "address %q contains a control character", s)
	}
	switch {
	case strings.HasPrefix(s, kubePrefix):
		return parseKube(s)
	case strings.HasPrefix(s, herokuPrefix):
		return parseHeroku(s)
	}
	if err := checkScheme(s); err != nil {
		return Address{}, err
	}
	return parseImage(s)
}

// ParseList parses addresses separated by whitespace (spaces, tabs,
// newlines). It reports every bad address: the error is an [errors.Join] of
// one [*Error] per bad address. An empty list is an error.
func ParseList(s string) ([]Address, error) {
	fields := strings.Fields(s)
	if len(fields) == 0 {
		return nil, errorf(s, ExampleKube+" "+ExampleHeroku,
			"no addresses given: separate addresses with spaces or newlines")
	}
	var (
		out  []Address
		errs []error
	)
	for _, f := range fields {
		a, err := Parse(f)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, a)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

// String returns the canonical form of a. Heroku addresses always name
// their process types; option values are escaped only where Parse or a
// whitespace-separated list would misread them.
func (a Address) String() string {
	switch a.Kind {
	case KindKube:
		var b strings.Builder
		b.WriteString(kubePrefix + a.Namespace + "/")
		if a.Workload != "" {
			b.WriteString(strings.ToLower(a.Workload) + "/")
		}
		b.WriteString(a.Deployment)
		writeOptions(&b, "context", a.Context, "container", a.Container, "health", a.Health)
		return b.String()
	case KindHeroku:
		var b strings.Builder
		procs := a.Processes
		if len(procs) == 0 {
			procs = []string{DefaultProcess}
		}
		b.WriteString(herokuPrefix + a.App + "/" + strings.Join(procs, ","))
		writeOptions(&b, "health", a.Health)
		return b.String()
	case KindImage:
		return a.Ref
	}
	return ""
}

// Identity names what a releases to, without options: two addresses with
// the same identity change the same Deployment (in the same context), the
// same Heroku app, or the same image reference.
func (a Address) Identity() string {
	switch a.Kind {
	case KindKube:
		return Address{Kind: KindKube, Namespace: a.Namespace, Workload: a.Workload, Deployment: a.Deployment, Context: a.Context}.String()
	case KindHeroku:
		return herokuPrefix + a.App
	}
	return a.String()
}

func writeOptions(b *strings.Builder, kv ...string) {
	sep := "?"
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			continue
		}
		v := escape(kv[i+1])
		if kv[i] == "container" {
			// Container names are DNS labels: the only byte escaped is
			// the '=' of a mapping, which Parse reads as it is.
			v = strings.ReplaceAll(v, "%3D", "=")
		}
		b.WriteString(sep + kv[i] + "=" + v)
		sep = "&"
	}
}

// escape percent-encodes the bytes of the runes that Parse or
// strings.Fields would misread, and nothing else.
func escape(v string) string {
	var b strings.Builder
	for i := 0; i < len(v); {
		r, size := utf8.DecodeRuneInString(v[i:])
		if r == '%' || r == '&' || r == '=' || r == '#' || unicode.IsSpace(r) || unicode.IsControl(r) ||
			(r == utf8.RuneError && size == 1) {
			for _, c := range []byte(v[i : i+size]) {
				fmt.Fprintf(&b, "%%%02X", c)
			}
		} else {
			b.WriteString(v[i : i+size])
		}
		i += size
	}
	return b.String()
}

func parseKube(s string) (Address, error) {
	path, query, hasQuery := strings.Cut(s[len(kubePrefix):], "?")
	parts := strings.Split(path, "/")
	var workload string
	switch {
	case len(parts) == 3 && parts[0] != "" && parts[2] != "":
		w, ok := workloadWords[strings.ToLower(parts[1])]
		if !ok {
			return Address{}, errorf(s, "k8s:shop/statefulset/db",
				"unknown workload kind %q in %q: use deployment, statefulset, daemonset or rollout (or leave it out for a Deployment)", parts[1], s)
		}
		workload, parts = w, []string{parts[0], parts[2]}
	case len(parts) != 2 || parts[0] == "" || parts[1] == "":
		return Address{}, errorf(s, ExampleKube, "k8s address %q is not k8s:NAMESPACE/DEPLOYMENT or k8s:NAMESPACE/KIND/NAME", s)
	}
	ns, dep := parts[0], parts[1]
	if len(validation.IsDNS1123Label(ns)) > 0 {
		return Address{}, errorf(s, ExampleKube,
			"namespace %q in %q is not a valid namespace name: use at most 63 lower-case letters, digits and '-', starting and ending with a letter or digit", ns, s)
	}
	if len(validation.IsDNS1123Subdomain(dep)) > 0 {
		kind := "deployment"
		if workload != "" {
			kind = strings.ToLower(workload)
		}
		return Address{}, errorf(s, ExampleKube,
			"%s name %q in %q is not valid: use at most 253 lower-case letters, digits, '-' and '.', starting and ending with a letter or digit", kind, dep, s)
	}
	opts, err := parseOptions(s, query, hasQuery, "k8s", kubeOptions, ExampleKube)
	if err != nil {
		return Address{}, err
	}
	a := Address{Kind: KindKube, Namespace: ns, Deployment: dep, Workload: workload,
		Context: opts["context"], Container: opts["container"], Health: opts["health"]}
	if err := checkContainers(s, a.Container); err != nil {
		return Address{}, err
	}
	return a, checkHealth(s, a, ExampleKube+"&health=https://shop.example.com/healthz")
}

// Examples of the container option, used in error messages.
const (
	exampleContainers = ExampleKube + "&container=app,migrate"
	exampleMapping    = ExampleKube + "&container=app=app,proxy=sidecar"
)

// checkContainers checks the container option of input: names separated
// by commas, or a mapping of TARGET=SOURCE pairs; not both.
func checkContainers(input, v string) error {
	if v == "" {
		return nil
	}
	mapping := strings.Contains(v, "=")
	seen := map[string]bool{}
	for e := range strings.SplitSeq(v, ",") {
		t, f, isPair := strings.Cut(e, "=")
		example := exampleContainers
		if mapping {
			example = exampleMapping
		}
		switch {
		case mapping && !isPair:
			return errorf(input, exampleMapping,
				"container %q in %q has no source container while others have one: write %s=%s to take the image of the source's container %s, or map none", e, input, e, e, e)
		case mapping && strings.Contains(f, "="):
			return errorf(input, exampleMapping, "container mapping %q in %q has more than one '=': write TARGET=SOURCE", e, input)
		}
		names := []string{t}
		if isPair {
			names = append(names, f)
		}
		for _, c := range names {
			if len(validation.IsDNS1123Label(c)) > 0 {
				return errorf(input, example,
					"container name %q in %q is not valid: use at most 63 lower-case letters, digits and '-', starting and ending with a letter or digit, and separate several with commas", c, input)
			}
		}
		if seen[t] {
			return errorf(input, example, "container %q appears twice in %q", t, input)
		}
		seen[t] = true
	}
	return nil
}

func parseHeroku(s string) (Address, error) {
	path, query, hasQuery := strings.Cut(s[len(herokuPrefix):], "?")
	app, procs, hasProcs := strings.Cut(path, "/")
	if app == "" {
		return Address{}, errorf(s, ExampleHeroku, "heroku address %q names no app: want heroku:APP or heroku:APP/PROCESS", s)
	}
	if !herokuApp.MatchString(app) {
		return Address{}, errorf(s, ExampleHeroku,
			"heroku app name %q in %q is not valid: use 3 to 30 lower-case letters, digits and '-', starting with a letter and ending with a letter or digit", app, s)
	}
	a := Address{Kind: KindHeroku, App: app, Processes: []string{DefaultProcess}}
	if hasProcs {
		a.Processes = nil
		for p := range strings.SplitSeq(procs, ",") {
			switch {
			case p == "":
				return Address{}, errorf(s, ExampleHeroku+",worker",
					"heroku address %q has an empty process type: list process types separated by commas", s)
			case !processType.MatchString(p):
				return Address{}, errorf(s, ExampleHeroku+",worker",
					"process type %q in %q is not valid: use letters, digits, '_' and '-'", p, s)
			case slices.Contains(a.Processes, p):
				return Address{}, errorf(s, ExampleHeroku+",worker", "process type %q appears twice in %q", p, s)
			}
			a.Processes = append(a.Processes, p)
		}
	}
	for pair := range strings.SplitSeq(query, "&") {
		if key, _, _ := strings.Cut(pair, "="); key == "container" {
			return Address{}, errorf(s, ExampleHeroku+",worker",
				"heroku address %q has a container option: a Heroku app runs one image per process type, and every process type listed gets the source's image; list them after the app", s)
		}
	}
	opts, err := parseOptions(s, query, hasQuery, "heroku", herokuOptions, ExampleHeroku)
	if err != nil {
		return Address{}, err
	}
	a.Health = opts["health"]
	return a, checkHealth(s, a, ExampleHeroku+"?health=/healthz")
}

// parseOptions reads the query of input: pairs split on "&" and the first
// "=", values percent-decoded with "+" left alone.
func parseOptions(input, query string, hasQuery bool, kind string, allowed []string, example string) (map[string]string, error) {
	if !hasQuery {
		return nil, nil
	}
	take := kind + " addresses take " + list(allowed)
	if query == "" {
		return nil, errorf(input, example, "%s address %q ends in an empty \"?\": remove it or add options (%s)", kind, input, take)
	}
	opts := make(map[string]string, len(allowed))
	for pair := range strings.SplitSeq(query, "&") {
		if pair == "" {
			return nil, errorf(input, example, "%s address %q has an empty option (a stray \"&\")", kind, input)
		}
		key, raw, hasValue := strings.Cut(pair, "=")
		if !slices.Contains(allowed, key) {
			return nil, errorf(input, example, "unknown option %q in %q: %s", key, input, take)
		}
		if _, dup := opts[key]; dup {
			return nil, errorf(input, example, "option %q appears twice in %q: give it once", key, input)
		}
		if !hasValue || raw == "" {
			return nil, errorf(input, example, "option %q in %q has no value: write %s=VALUE or leave it out", key, input, key)
		}
		v, err := url.PathUnescape(raw)
		if err != nil {
			return nil, errorf(input, example, "option %q in %q has a bad %%-escape: write a literal %% as %%25", key, input)
		}
		if !utf8.ValidString(v) {
			return nil, errorf(input, example, "option %q in %q is not valid UTF-8 once %%-decoded", key, input)
		}
		if strings.IndexFunc(v, unicode.IsControl) >= 0 {
			return nil, errorf(input, example, "option %q in %q contains a control character once %%-decoded", key, input)
		}
		opts[key] = v
	}
	return opts, nil
}

func list(words []string) string {
	switch len(words) {
	case 1:
		return "only " + words[0]
	case 2:
		return words[0] + " and " + words[1]
	}
	return strings.Join(words[:len(words)-1], ", ") + " and " + words[len(words)-1]
}

// checkHealth accepts an absolute path or an http(s) URL without
// credentials (which would end up in logs).
func checkHealth(input string, a Address, example string) error {
	h := a.Health
	if h == "" {
		return nil
	}
	bad := func() error {
		return errorf(input, example,
			"health check %q in %q is neither a path (\"/healthz\") nor an http(s) URL (\"https://shop.example.com/healthz\")", h, input)
	}
	if strings.HasPrefix(h, "/") && !strings.HasPrefix(h, "//") {
		if _, err := url.Parse(h); err != nil {
			return bad()
		}
		return nil
	}
	u, err := url.Parse(h)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return bad()
	}
	if u.User != nil {
		a.Health = redact.URL(h)
		redacted := a.String()
		return errorf(redacted, example,
			"health URL in %q carries a user name or password, which would show in logs: use a URL without credentials", redacted)
	}
	return nil
}

func parseImage(s string) (Address, error) {
	if strings.Contains(s, "?") {
		return Address{}, errorf(s, ExampleImage,
			"image reference %q takes no options: only k8s: and heroku: addresses have a \"?\" query", s)
	}
	if _, err := name.ParseReference(s, name.WeakValidation); err != nil {
		return Address{}, errorf(s, ExampleImage, "image reference %q is not valid: %v", s, err)
	}
	return Address{Kind: KindImage, Ref: s}, nil
}

// checkScheme rejects "word:rest" that is neither a registry host with a
// port ("localhost:5000/shop") nor a repository with a tag ("nginx:1.25"):
// a URL-like "docker://nginx", a misspelt "k8:shop/web" or "kube:shop/web".
func checkScheme(s string) error {
	word, rest, ok := strings.Cut(s, ":")
	if !ok || !schemeWord.MatchString(word) {
		return nil
	}
	lower := strings.ToLower(word)
	kubeish := lower == "k8s" || lower == "k8" || lower == "kube" || lower == "kubernetes" || lower == "kubectl"
	herokuish := lower == "heroku"
	switch {
	case strings.HasPrefix(rest, "//"):
	case portThen.MatchString(rest):
		return nil
	case strings.Contains(rest, "/"), kubeish, herokuish:
	default:
		return nil
	}
	msg := fmt.Sprintf("unknown address scheme %q in %q: %s", word, s, useForms)
	switch {
	case strings.HasPrefix(rest, "//") && validImage(rest[2:]):
		msg += fmt.Sprintf(" (without %q: %s)", word+"://", rest[2:])
	case kubeish:
		msg += fmt.Sprintf(" (did you mean %s?)", kubePrefix+rest)
	case herokuish:
		msg += fmt.Sprintf(" (did you mean %s?)", herokuPrefix+rest)
	}
	return errorf(s, "", "%s", msg)
}

func validImage(s string) bool {
	if s == "" || strings.Contains(s, "?") {
		return false
	}
	_, err := name.ParseReference(s, name.WeakValidation)
	return err == nil
}
