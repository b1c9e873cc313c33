package config

import (
	"errors"
	"fmt"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/ferry-dev/ferry/pkg/address"
	"github.com/ferry-dev/ferry/pkg/gate"
	"github.com/ferry-dev/ferry/pkg/health"
	"github.com/ferry-dev/ferry/pkg/redact"
)

// The commands Check knows.
const (
	CommandPromote  = "promote"
	CommandPlan     = "plan"
	CommandStatus   = "status"
	CommandRollback = "rollback"
	CommandRecover  = "recover"
)

const maxDuration = 6 * time.Hour

// Config is a checked configuration for one command, in typed groups.
// [Settings.Check] makes it; nothing changes it afterwards.
type Config struct {
	// Command is promote, plan, status, rollback or recover.
	Command string
	// Mode is where ferry runs.
	Mode Mode
	// Output is the report format: text or json.
	Output string
	// Source is the source address (promote and plan only).
	Source address.Address
	// Targets are the target addresses.
	Targets []address.Address
	// Waves are the number of Targets in each wave, in order (promote
	// and plan; nil: one wave).
	Waves []int
	// Gates are the metric gates after each wave (promote and plan):
	// metrics, and AnalysisTemplates to read from clusters.
	Gates  gate.Spec
	Kube   Kube
	Heroku Heroku
	Cloud  Cloud
	Run    Run
	Health Health
	// Verify is the source image's signature policy (promote and plan).
	Verify Verify
	// CI says which CI run this is, when any.
	CI CI
	// Deployments is where the promotion is recorded as a GitHub
	// Deployment; its Environment is "" when it is not.
	Deployments Deployments
	// Env is the environment Load read.
	Env Env
	// Settings are the values Check was made from.
	Settings Settings
}

// Kube is how Kubernetes clusters are reached and handled.
type Kube struct {
	// Kubeconfig is a KUBECONFIG-style path list; Data a whole
	// kubeconfig (YAML or base64), which wins.
	Kubeconfig, Data string
	// OnPaused is refuse or resume; OnProgressing refuse or wait;
	// OnOwned refuse, patch or apply-as-owner.
	OnPaused, OnProgressing, OnOwned string
	// ResolveTags lets a k8s source's tag be resolved in its registry.
	ResolveTags bool
}

// Heroku is how the Platform API and the Heroku registry are reached.
type Heroku struct {
	// APIKey is the default key; AppKeys the keys of apps that have their
	// own (FERRY_HEROKU_API_KEY_<APP>), by app name.
	APIKey           string
	AppKeys          map[string]string
	APIURL, Registry string
	// Platform is picked from a multi-platform image.
	Platform v1.Platform
	// AcceptNoRollback promotes targets whose rollback point may expire.
	AcceptNoRollback bool
}

// KeyFor is the API key of app.
func (h Heroku) KeyFor(app string) string {
	if k, ok := h.AppKeys[app]; ok {
		return k
	}
	return h.APIKey
}

// Cloud is how ferry gets credentials of the clouds for clusters and
// registries, and whether it stands in for kubeconfig exec plugins.
type Cloud struct {
	// KubeCredentials is auto, ferry or plugin.
	KubeCredentials string
	AWS             AWS
	GCP             GCP
	Azure           Azure
	// GitHubToken reads packages on ghcr.io.
	GitHubToken string
}

// AWS is the role ferry assumes, and where.
type AWS struct{ RoleARN, Region, Audience string }

// GCP is how ferry gets Google credentials.
type GCP struct {
	WorkloadIdentityProvider, ServiceAccount, Audience string
	// CredentialsFile is a credentials JSON file, its path as seen from
	// where ferry runs.
	CredentialsFile string
}

// Azure is the Entra ID application ferry signs in as.
type Azure struct{ ClientID, TenantID, ClientSecret, Audience string }

// Run bounds and describes the run.
type Run struct {
	Timeout, RestoreTimeout time.Duration
	Parallelism             int
	// ToRevision is rollback's revision ("" = the one before).
	ToRevision string
	// ChangeCause overrides the change cause ferry writes.
	ChangeCause string
	// Soak is how long each wave soaks.
	Soak time.Duration
	// LockWait bounds the wait for another run's lock; LockTTL is how
	// long a lock outlives its holder; RecoverVerify verifies an
	// interrupted run's release instead of restoring it.
	LockWait, LockTTL time.Duration
	RecoverVerify     bool
}

// Health is the HTTP check template a target's health option fills in.
type Health struct {
	Timeout, Interval, Soak time.Duration
	Threshold               int
	// Status are the healthy status codes.
	Status []StatusRange
	// Body must match the response body; nil when any body will do.
	Body *regexp.Regexp
	// Version, when set, must be shown by the answer (its Commit is
	// filled in by the caller).
	Version *health.Version
}

// Check checks s for command (promote, plan, status, rollback or
// recover) and returns the Config it makes. It reports every problem at
// once as a *ValidationError, including those Load kept; an unknown
// command is a plain error. Only promote and plan read FERRY_SOURCE:
// status, rollback and recover neither need nor check it, so a broken
// source never blocks a rollback or a recovery.
func (s Settings) Check(command string) (Config, error) {
	var withSource bool
	switch command {
	case CommandPromote, CommandPlan:
		withSource = true
	case CommandStatus, CommandRollback, CommandRecover:
	default:
		return Config{}, fmt.Errorf("unknown command %q: use promote, plan, status, rollback or recover", command)
	}
	ch := &checker{s: &s, problems: slices.Clone(s.loadProblems), bad: map[int]bool{}}
	for _, p := range s.loadProblems {
		ch.bad[p.order] = true
	}
	c := Config{Command: command, Mode: s.Mode, Output: s.Output, Env: s.Env, CI: s.Env.CI(), Settings: s}
	var heroku []string // heroku: addresses, with the variable naming them
	if withSource {
		c.Source, heroku = ch.source(command)
	}
	c.Targets, c.Waves, heroku = ch.targets(command, c.Source, heroku)
	if withSource {
		c.Gates = ch.gates()
	}
	c.Kube = ch.kube()
	c.Heroku = ch.heroku(heroku, c.Source, c.Targets)
	c.Cloud = ch.cloud()
	c.Run = ch.run()
	c.Health = ch.health()
	if withSource {
		c.Verify = ch.verify()
	}
	c.Deployments = ch.deployments(command, c.CI)
	ch.oneOf("OUTPUT", s.Output, "text", "json")
	if len(ch.problems) == 0 {
		return c, nil
	}
	sort.SliceStable(ch.problems, func(i, j int) bool { return ch.problems[i].order < ch.problems[j].order })
	return c, &ValidationError{Problems: ch.problems}
}

// checker collects the problems of one Check.
type checker struct {
	s        *Settings
	problems []Problem
	bad      map[int]bool // fields Load could not convert
}

func (ch *checker) add(key, msg, example string) {
	ch.problems = append(ch.problems, ch.s.problem(fieldKeyed(key), msg, example))
}

// addPart adds a problem about one address of FERRY_TARGETS.
func (ch *checker) addPart(msg, example string) {
	p := ch.s.problem(fieldKeyed("TARGETS"), msg, example)
	p.part = true
	ch.problems = append(ch.problems, p)
}

// ok reports whether Load converted key's value.
func (ch *checker) ok(key string) bool { return !ch.bad[fieldKeyed(key).index] }

func (ch *checker) oneOf(key, v string, allowed ...string) {
	if !slices.Contains(allowed, v) {
		ch.add(key, fmt.Sprintf("%q is not one of %s", v, strings.Join(allowed, ", ")), allowed[len(allowed)-1])
	}
}

func (ch *checker) positive(key string, d time.Duration) {
	if ch.ok(key) && (d <= 0 || d > maxDuration) {
		ch.add(key, fmt.Sprintf("%s is out of range: use more than 0 and at most 6h", d), fieldKeyed(key).def)
	}
}

func (ch *checker) between(key string, n, lo, hi int) {
	if ch.ok(key) && (n < lo || n > hi) {
		ch.add(key, fmt.Sprintf("%d is out of range: use %d to %d", n, lo, hi), fieldKeyed(key).def)
	}
}

// source parses FERRY_SOURCE.
func (ch *checker) source(command string) (address.Address, []string) {
	f := fieldKeyed("SOURCE")
	switch n := len(strings.Fields(ch.s.Source)); {
	case n == 0:
		ch.add("SOURCE", fmt.Sprintf("required for %q", command), f.example)
		return address.Address{}, nil
	case n > 1:
		ch.add("SOURCE", fmt.Sprintf("takes one address, not %d", n), f.example)
		return address.Address{}, nil
	}
	a, err := address.Parse(ch.s.Source)
	switch {
	case err != nil:
		ch.add("SOURCE", addressMessage(err), addressExample(err))
		return address.Address{}, nil
	case a.Health != "":
		a.Health = ""
		ch.add("SOURCE", fmt.Sprintf("source %q has a health option: health checks apply to targets only", ch.s.Source), a.String())
		return address.Address{}, nil
	case len(a.Mapping()) > 0:
		a.Container = ""
		ch.add("SOURCE", fmt.Sprintf("source %q maps containers: a mapping (?container=TARGET=SOURCE) goes on a target, and a source names one container or none", ch.s.Source), a.String())
		return address.Address{}, nil
	case a.Kind == address.KindHeroku:
		return a, []string{a.String() + " in " + ch.s.varName(f)}
	}
	return a, nil
}

// targets parses FERRY_TARGETS, reporting each bad, duplicate or
// unusable address and each empty wave, and returns the good ones, the
// number of them in each wave, and heroku with heroku targets added.
func (ch *checker) targets(command string, source address.Address, heroku []string) ([]address.Address, []int, []string) {
	f := fieldKeyed("TARGETS")
	waves := address.SplitWaves(ch.s.Targets)
	if len(waves) == 1 && len(waves[0]) == 0 {
		ch.add("TARGETS", fmt.Sprintf("required for %q", command), f.example)
		return nil, nil, heroku
	}
	var good []address.Address
	sizes := make([]int, len(waves))
	for w, words := range waves {
		if len(words) == 0 {
			ch.addPart(fmt.Sprintf("wave %d of %d has no address: put addresses between two %s lines, and no %s first or last", w+1, len(waves), address.WaveSeparator, address.WaveSeparator), "")
			continue
		}
		for _, s := range words {
			a, ok := ch.target(s)
			if !ok || ch.duplicate(good, a, s) {
				continue
			}
			if source.Kind != "" && sameWorkload(source, a) {
				ch.addPart(fmt.Sprintf("%q is also the source (%s)", s, ch.s.varName(fieldKeyed("SOURCE"))), "")
				continue
			}
			if len(a.Mapping()) > 0 && source.Kind != "" && source.Kind != address.KindKube {
				plain := a
				plain.Container = strings.Join(a.Containers(), ",")
				ch.addPart(fmt.Sprintf("%q maps containers to the source's, and the source %q (%s) has no containers: use a k8s: workload as the source, or drop the =SOURCE parts to give every container the source's image",
					s, source.String(), ch.s.varName(fieldKeyed("SOURCE"))), plain.String())
				continue
			}
			good = append(good, a)
			sizes[w]++
			if a.Kind == address.KindHeroku {
				heroku = append(heroku, a.String()+" in "+ch.s.varName(f))
			}
		}
	}
	if len(waves) == 1 {
		sizes = nil
	}
	return good, sizes, heroku
}

// gates parses FERRY_GATES, reporting each problem of it.
func (ch *checker) gates() gate.Spec {
	if strings.TrimSpace(ch.s.Gates) == "" {
		return gate.Spec{}
	}
	spec, err := gate.Parse(ch.s.Gates, ch.s.Env.Get)
	if err == nil {
		return spec
	}
	for _, e := range gate.Problems(err) {
		ch.add("GATES", e.Error(), "")
	}
	return gate.Spec{}
}

// target parses one target address.
func (ch *checker) target(s string) (address.Address, bool) {
	a, err := address.Parse(s)
	switch {
	case err != nil:
		ch.addPart(addressMessage(err), addressExample(err))
		return a, false
	case a.Kind == address.KindImage:
		example := fieldKeyed("TARGETS").example
		for _, scheme := range []string{"heroku", "k8s"} {
			if rest, ok := strings.CutPrefix(s, scheme+"/"); ok {
				if b, err := address.Parse(scheme + ":" + rest); err == nil {
					example = b.String()
				}
			}
		}
		ch.addPart(fmt.Sprintf("%q is an image reference: a target is a k8s Deployment or a Heroku app", s), example)
		return a, false
	case a.Kind == address.KindKube && strings.HasPrefix(a.Health, "/"):
		a.Health = "https://shop.example.com" + a.Health
		ch.addPart(fmt.Sprintf("k8s target %q has a health path but no host to resolve it against: give a whole http(s) URL", s), a.String())
		return a, false
	}
	return a, true
}

// duplicate reports (and says why) whether a names a workload of good
// again.
func (ch *checker) duplicate(good []address.Address, a address.Address, s string) bool {
	i := slices.IndexFunc(good, func(b address.Address) bool { return b.Identity() == a.Identity() })
	if i < 0 {
		return false
	}
	prev := good[i]
	if a.Kind != address.KindHeroku {
		ch.addPart(fmt.Sprintf("%q and %q name the same %s", prev.String(), s, prev.KindName()), "")
		return true
	}
	merged := prev
	merged.Processes = slices.Clone(prev.Processes)
	for _, p := range a.Processes {
		if !slices.Contains(merged.Processes, p) {
			merged.Processes = append(merged.Processes, p)
		}
	}
	ch.addPart(fmt.Sprintf("%q and %q name the same Heroku app: list its process types in one address", prev.String(), s), merged.String())
	return true
}

// kube checks how clusters are reached.
func (ch *checker) kube() Kube {
	s := ch.s
	if s.KubeconfigData != "" {
		if msg := kubeconfigShape(s.KubeconfigData); msg != "" {
			ch.add("KUBECONFIG_DATA", msg, "")
		}
	}
	ch.oneOf("ON_PAUSED", s.OnPaused, "refuse", "resume")
	ch.oneOf("ON_PROGRESSING", s.OnProgressing, "refuse", "wait")
	ch.oneOf("ON_OWNED", s.OnOwned, "refuse", "patch", "apply-as-owner")
	return Kube{Kubeconfig: s.KubeconfigPaths(), Data: s.KubeconfigData,
		OnPaused: s.OnPaused, OnProgressing: s.OnProgressing, OnOwned: s.OnOwned, ResolveTags: s.ResolveTags}
}

// heroku checks how Heroku is reached; heroku lists the heroku:
// addresses, which need a key unless their app has its own.
func (ch *checker) heroku(heroku []string, source address.Address, targets []address.Address) Heroku {
	s := ch.s
	appKeys := ch.appKeys(append([]address.Address{source}, targets...))
	var keyless []string
	for _, h := range heroku {
		app := strings.TrimPrefix(strings.SplitN(h, "/", 2)[0], "heroku:")
		if _, ok := appKeys[app]; !ok {
			keyless = append(keyless, h)
		}
	}
	if len(keyless) > 0 && s.HerokuAPIKey == "" {
		msg := fmt.Sprintf("required for heroku: addresses (%s); create a key with \"heroku authorizations:create\"",
			strings.Join(keyless, ", "))
		if s.Mode != ModeGitHub {
			msg += " (HEROKU_API_KEY works too)"
		}
		ch.add("HEROKU_API_KEY", msg, "")
	}
	if u, err := url.Parse(s.HerokuAPIURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") ||
		u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		ch.add("HEROKU_API_URL", fmt.Sprintf("%q is not an http(s) URL without credentials or query", redact.URL(s.HerokuAPIURL)),
			fieldKeyed("HEROKU_API_URL").def)
	}
	if _, err := name.NewRegistry(s.HerokuRegistry, name.StrictValidation); err != nil ||
		strings.Contains(s.HerokuRegistry, "/") {
		ch.add("HEROKU_REGISTRY", fmt.Sprintf("%q is not a registry host (HOST or HOST:PORT, no scheme or path)", s.HerokuRegistry),
			fieldKeyed("HEROKU_REGISTRY").def)
	}
	h := Heroku{APIKey: s.HerokuAPIKey, AppKeys: appKeys, APIURL: s.HerokuAPIURL, Registry: s.HerokuRegistry, AcceptNoRollback: s.HerokuAcceptNoRollback}
	if p, err := v1.ParsePlatform(s.Platform); err != nil || !platformRE.MatchString(s.Platform) {
		ch.add("PLATFORM", fmt.Sprintf("%q is not a platform: write OS/ARCH or OS/ARCH/VARIANT in lower case", s.Platform),
			fieldKeyed("PLATFORM").def)
	} else {
		h.Platform = *p
	}
	return h
}

// appKeys reads the per-app Heroku keys, FERRY_HEROKU_API_KEY_<APP>, and
// reports those that name no app of addrs.
func (ch *checker) appKeys(addrs []address.Address) map[string]string {
	apps := map[string]bool{}
	var names []string
	for _, a := range addrs {
		if a.Kind == address.KindHeroku && !apps[a.App] {
			apps[a.App] = true
			names = append(names, AppKeyVar(a.App))
		}
	}
	keys := map[string]string{}
	for _, v := range slices.Sorted(maps.Keys(ch.s.Env)) {
		suffix, ok := strings.CutPrefix(v, AppKeyPrefix)
		if !ok || strings.TrimSpace(ch.s.Env[v]) == "" {
			continue
		}
		app := strings.ReplaceAll(strings.ToLower(suffix), "_", "-")
		if apps[app] {
			keys[app] = strings.TrimSpace(ch.s.Env[v])
			continue
		}
		msg := "names no app of a heroku: address"
		if s := suggest(v, names); s != "" {
			msg += ": did you mean " + s + "?"
		} else if len(names) > 0 {
			msg += " (the keys of the apps named would be " + strings.Join(names, ", ") + ")"
		}
		ch.problems = append(ch.problems, Problem{Var: v, Message: msg, lhs: v, order: fieldKeyed("HEROKU_API_KEY").index})
	}
	return keys
}

// cloud checks how the clouds' credentials are got.
func (ch *checker) cloud() Cloud {
	s := ch.s
	ch.oneOf("KUBE_CREDENTIALS", s.KubeCredentials, "auto", "plugin", "ferry")
	ch.pattern("AWS_ROLE_ARN", s.AWSRoleARN, roleARNRE, "is not an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME)")
	ch.pattern("AWS_REGION", s.AWSRegion, regionRE, "is not an AWS region (such as eu-west-1)")
	ch.pattern("GCP_WORKLOAD_IDENTITY_PROVIDER", s.GCPWorkloadIdentityProvider, wifProviderRE,
		"is not a workload identity pool provider (projects/NUMBER/locations/global/workloadIdentityPools/POOL/providers/PROVIDER)")
	ch.pattern("GCP_SERVICE_ACCOUNT", s.GCPServiceAccount, serviceAccountRE, "is not a service account email (NAME@PROJECT.iam.gserviceaccount.com)")
	if s.GCPServiceAccount != "" && s.GCPWorkloadIdentityProvider == "" && ch.ok("GCP_SERVICE_ACCOUNT") {
		ch.add("GCP_WORKLOAD_IDENTITY_PROVIDER", "required with FERRY_GCP_SERVICE_ACCOUNT: the account is impersonated after workload identity federation", fieldKeyed("GCP_WORKLOAD_IDENTITY_PROVIDER").example)
	}
	return Cloud{
		KubeCredentials: s.KubeCredentials,
		AWS:             AWS{RoleARN: s.AWSRoleARN, Region: s.AWSRegion, Audience: s.AWSAudience},
		GCP: GCP{WorkloadIdentityProvider: s.GCPWorkloadIdentityProvider, ServiceAccount: s.GCPServiceAccount, Audience: s.GCPAudience,
			CredentialsFile: s.Env.ContainerPath(s.GoogleApplicationCredentials, exists)},
		Azure:       Azure{ClientID: s.AzureClientID, TenantID: s.AzureTenantID, ClientSecret: s.AzureClientSecret, Audience: s.AzureAudience},
		GitHubToken: s.GitHubToken,
	}
}

// KubeconfigPaths is FERRY_KUBECONFIG's path list with each file where
// ferry sees it: in a docker action, a runner path an earlier step
// exported is under /github (see Env.ContainerPath).
func (s Settings) KubeconfigPaths() string {
	var paths []string
	for _, p := range filepath.SplitList(s.Kubeconfig) {
		paths = append(paths, s.Env.ContainerPath(p, exists))
	}
	return strings.Join(paths, string(filepath.ListSeparator))
}

// exists reports whether a file is there, as it is named.
func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// pattern reports a non-empty value of key that does not match re.
func (ch *checker) pattern(key, v string, re *regexp.Regexp, why string) {
	if v != "" && !re.MatchString(v) {
		ch.add(key, fmt.Sprintf("%q %s", v, why), fieldKeyed(key).example)
	}
}

// run checks the run's bounds.
func (ch *checker) run() Run {
	s := ch.s
	ch.positive("TIMEOUT", s.Timeout)
	ch.positive("RESTORE_TIMEOUT", s.RestoreTimeout)
	ch.between("PARALLELISM", s.Parallelism, 1, 64)
	if ch.ok("SOAK") && (s.Soak < 0 || s.Soak > maxDuration) {
		ch.add("SOAK", fmt.Sprintf("%s is out of range: use 0 to 6h", s.Soak), fieldKeyed("SOAK").example)
	}
	if ch.ok("LOCK_WAIT") && (s.LockWait < 0 || s.LockWait > maxDuration) {
		ch.add("LOCK_WAIT", fmt.Sprintf("%s is out of range: use 0 to 6h", s.LockWait), fieldKeyed("LOCK_WAIT").def)
	}
	if ch.ok("LOCK_TTL") && (s.LockTTL < 2*time.Second || s.LockTTL > 10*time.Minute) {
		ch.add("LOCK_TTL", fmt.Sprintf("%s is out of range: use 2s to 10m", s.LockTTL), fieldKeyed("LOCK_TTL").def)
	}
	ch.oneOf("RECOVER", s.Recover, "restore", "verify")
	return Run{Timeout: s.Timeout, RestoreTimeout: s.RestoreTimeout, Parallelism: s.Parallelism, ToRevision: s.ToRevision, ChangeCause: s.ChangeCause,
		Soak: s.Soak, LockWait: s.LockWait, LockTTL: s.LockTTL, RecoverVerify: s.Recover == "verify"}
}

// health checks the HTTP check template.
func (ch *checker) health() Health {
	s := ch.s
	ch.positive("HEALTH_TIMEOUT", s.HealthTimeout)
	if ch.ok("HEALTH_INTERVAL") {
		switch {
		case s.HealthInterval <= 0:
			ch.add("HEALTH_INTERVAL", fmt.Sprintf("%s is out of range: use more than 0", s.HealthInterval), fieldKeyed("HEALTH_INTERVAL").def)
		case ch.ok("HEALTH_TIMEOUT") && s.HealthTimeout > 0 && s.HealthInterval > s.HealthTimeout:
			ch.add("HEALTH_INTERVAL", fmt.Sprintf("%s is longer than the health timeout (%s)", s.HealthInterval, s.HealthTimeout),
				fieldKeyed("HEALTH_INTERVAL").def)
		}
	}
	if ch.ok("HEALTH_SOAK") && (s.HealthSoak < 0 || s.HealthSoak > maxDuration) {
		ch.add("HEALTH_SOAK", fmt.Sprintf("%s is out of range: use 0 to 6h", s.HealthSoak), fieldKeyed("HEALTH_SOAK").example)
	}
	ch.between("HEALTH_THRESHOLD", s.HealthThreshold, 1, 100)
	h := Health{Timeout: s.HealthTimeout, Interval: s.HealthInterval, Soak: s.HealthSoak, Threshold: s.HealthThreshold}
	if r, err := parseStatus(s.HealthStatus); err != nil {
		ch.add("HEALTH_STATUS", err.Error(), fieldKeyed("HEALTH_STATUS").example)
	} else {
		h.Status = r
	}
	if s.HealthBody != "" {
		if re, err := regexp.Compile(s.HealthBody); err != nil {
			ch.add("HEALTH_BODY", fmt.Sprintf("%q is not a regular expression: %v", s.HealthBody, err), fieldKeyed("HEALTH_BODY").example)
		} else {
			h.Body = re
		}
	}
	if s.HealthVersion != "" {
		if v, err := health.ParseVersion(s.HealthVersion); err != nil {
			ch.add("HEALTH_VERSION", err.Error(), "")
		} else {
			h.Version = v
		}
	}
	return h
}

// sameWorkload reports whether target t runs what source s names: the same
// workload container (an unnamed container matches any) or an
// overlapping set of process types of the same Heroku app.
func sameWorkload(s, t address.Address) bool {
	if s.Identity() != t.Identity() {
		return false
	}
	switch s.Kind {
	case address.KindKube:
		if s.Container == "" || t.Container == "" {
			return true
		}
		for _, c := range t.Containers() {
			if slices.Contains(s.Containers(), c) {
				return true
			}
		}
		return false
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
	roleARNRE        = regexp.MustCompile(`^arn:aws(-cn|-us-gov)?:iam::[0-9]{12}:role/[\w+=,.@/-]{1,512}$`)
	regionRE         = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]+$`)
	wifProviderRE    = regexp.MustCompile(`^(//iam\.googleapis\.com/|https://iam\.googleapis\.com/)?projects/[0-9]+/locations/global/workloadIdentityPools/[a-z0-9-]{4,32}/providers/[a-z0-9-]{4,32}$`)
	serviceAccountRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}@[a-z0-9.-]+\.gserviceaccount\.com$`)
	platformRE       = regexp.MustCompile(`^[a-z0-9]+/[a-z0-9_]+(/[a-z0-9]+)?$`)
	yamlKeyRE        = regexp.MustCompile(`(?m)^[ \t]*["']?[A-Za-z][A-Za-z0-9_-]*["']?[ \t]*:([ \t]|$)`)
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
