package config

import (
	"encoding/base64"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// good is an environment that validates for every command.
var good = []string{
	"FERRY_SOURCE=k8s:shop/web?context=staging",
	"FERRY_TARGETS=k8s:shop/web?context=production&health=https://shop.example.com/healthz heroku:shop-production/web?health=/healthz",
	"FERRY_HEROKU_API_KEY=0123-key",
}

// with returns good with the variables in over set (replacing good's own)
// and the names in over given as "NAME" removed.
func with(over ...string) []string {
	env := map[string]string{}
	var order []string
	for _, kv := range append(append([]string{}, good...), over...) {
		k, v, ok := strings.Cut(kv, "=")
		if _, seen := env[k]; !seen {
			order = append(order, k)
		}
		if !ok {
			delete(env, k)
			continue
		}
		env[k] = v
	}
	var out []string
	for _, k := range order {
		if v, ok := env[k]; ok {
			out = append(out, k+"="+v)
		}
	}
	return out
}

func validate(t *testing.T, command string, environ []string) (Config, error) {
	t.Helper()
	s, err := Load(environ)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return s.Check(command)
}

// wantOneProblem checks environ for promote: no problem when want is "",
// else exactly the one problem want.
func wantOneProblem(t *testing.T, environ []string, want string) {
	t.Helper()
	_, err := validate(t, CommandPromote, environ)
	if want == "" {
		if err != nil {
			t.Fatalf("want no problem, got:\n%v", err)
		}
		return
	}
	if err == nil || err.Error() != want {
		t.Errorf("got  %v\nwant %s", err, want)
	}
}

func TestValidateGood(t *testing.T) {
	for _, cmd := range []string{CommandPromote, CommandPlan, CommandStatus, CommandRollback} {
		c, err := validate(t, cmd, good)
		if err != nil {
			t.Fatalf("%s: %v", cmd, err)
		}
		if len(c.Targets) != 2 || c.Targets[0].Context != "production" || c.Targets[1].App != "shop-production" {
			t.Errorf("%s: Targets = %+v", cmd, c.Targets)
		}
		if len(c.Health.Status) != 1 || c.Health.Status[0] != (StatusRange{200, 299}) {
			t.Errorf("%s: Health.Status = %v", cmd, c.Health.Status)
		}
		if c.Heroku.Platform.OS != "linux" || c.Heroku.Platform.Architecture != "amd64" || c.Command != cmd {
			t.Errorf("%s: Heroku.Platform = %+v, Command %q", cmd, c.Heroku.Platform, c.Command)
		}
		wantSource := cmd == CommandPromote || cmd == CommandPlan
		if got := c.Source.Context == "staging"; got != wantSource {
			t.Errorf("%s: Source = %+v", cmd, c.Source)
		}
	}

	// status and rollback need no source, and ignore a broken one.
	for _, cmd := range []string{CommandStatus, CommandRollback} {
		if _, err := validate(t, cmd, with("FERRY_SOURCE=k8:oops")); err != nil {
			t.Errorf("%s with a bad source: %v", cmd, err)
		}
	}

	c, err := validate(t, CommandPromote, with("FERRY_HEALTH_STATUS=200, 204,300-399", `FERRY_HEALTH_BODY="ok":\s*true`))
	if err != nil {
		t.Fatal(err)
	}
	if want := []StatusRange{{200, 200}, {204, 204}, {300, 399}}; len(c.Health.Status) != 3 ||
		c.Health.Status[2] != want[2] || !c.Health.Status[1].Contains(204) || c.Health.Status[1].Contains(205) {
		t.Errorf("HealthStatusRanges = %v, want %v", c.Health.Status, want)
	}
	if c.Health.Body == nil || !c.Health.Body.MatchString(`{"ok": true}`) {
		t.Errorf("HealthBodyRegexp = %v", c.Health.Body)
	}

	// A heroku source may feed another process type of the same app, and
	// a k8s source another container of the same Deployment.
	if _, err := validate(t, CommandPromote, with("FERRY_SOURCE=heroku:shop-production/web", "FERRY_TARGETS=heroku:shop-production/worker")); err != nil {
		t.Errorf("same app, other process: %v", err)
	}
	if _, err := validate(t, CommandPromote, with("FERRY_SOURCE=k8s:shop/web?container=a", "FERRY_TARGETS=k8s:shop/web?container=b")); err != nil {
		t.Errorf("same deployment, other container: %v", err)
	}
}

func TestValidateUnknownCommand(t *testing.T) {
	_, err := validate(t, "promte", good)
	var ve *ValidationError
	if err == nil || errors.As(err, &ve) || !strings.Contains(err.Error(), `unknown command "promte"`) {
		t.Errorf("error = %v, want a plain unknown-command error", err)
	}
}

func TestValidateProblems(t *testing.T) {
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	tests := []struct {
		name    string
		command string
		environ []string
		want    string // the one problem, as printed
	}{
		{"source required", "promote", with("FERRY_SOURCE"),
			`FERRY_SOURCE: required for "promote"; for example FERRY_SOURCE='k8s:shop/web?context=staging'`},
		{"source required for plan", "plan", with("FERRY_SOURCE"),
			`FERRY_SOURCE: required for "plan"; for example FERRY_SOURCE='k8s:shop/web?context=staging'`},
		{"targets required", "rollback", with("FERRY_TARGETS"),
			`FERRY_TARGETS: required for "rollback"; for example FERRY_TARGETS='k8s:shop/web?context=production'`},
		{"targets required, as an input", "status", with("GITHUB_ACTIONS=true", "FERRY_TARGETS"),
			`INPUT_TARGETS (input "targets"): required for "status"; for example targets: k8s:shop/web?context=production`},
		{"targets blank", "status", with("FERRY_TARGETS= \n "),
			`FERRY_TARGETS: required for "status"; for example FERRY_TARGETS='k8s:shop/web?context=production'`},
		{"unknown scheme", "promote", with("FERRY_SOURCE=k8:shop/web"),
			`FERRY_SOURCE: unknown address scheme "k8" in "k8:shop/web": use k8s:NAMESPACE/DEPLOYMENT, heroku:APP/PROCESS or an image reference (did you mean k8s:shop/web?)`},
		{"bad source address", "promote", with("FERRY_SOURCE=k8s:Shop/web"),
			`FERRY_SOURCE: namespace "Shop" in "k8s:Shop/web" is not a valid namespace name: use at most 63 lower-case letters, digits and '-', starting and ending with a letter or digit; for example FERRY_SOURCE='k8s:shop/web?context=production'`},
		{"source with health", "promote", with("FERRY_SOURCE=heroku:shop-staging/web?health=/up"),
			`FERRY_SOURCE: source "heroku:shop-staging/web?health=/up" has a health option: health checks apply to targets only; for example FERRY_SOURCE=heroku:shop-staging/web`},
		{"bad target in a list", "promote", with("FERRY_TARGETS=heroku:shop-production k8s:shop/web?cluster=prod"),
			`FERRY_TARGETS: unknown option "cluster" in "k8s:shop/web?cluster=prod": k8s addresses take context, container and health; for example k8s:shop/web?context=production`},
		{"bad target as an input", "promote", with("GITHUB_ACTIONS=true", "FERRY_TARGETS", "INPUT_TARGETS=heroku:Shop"),
			`INPUT_TARGETS (input "targets"): heroku app name "Shop" in "heroku:Shop" is not valid: use 3 to 30 lower-case letters, digits and '-', starting with a letter and ending with a letter or digit; for example heroku:shop-production/web`},
		{"image target", "promote", with("FERRY_TARGETS=ghcr.io/acme/shop:1"),
			`FERRY_TARGETS: "ghcr.io/acme/shop:1" is an image reference: a target is a k8s Deployment or a Heroku app; for example k8s:shop/web?context=production`},
		{"image target that meant heroku", "promote", with("FERRY_TARGETS=heroku/shop-production"),
			`FERRY_TARGETS: "heroku/shop-production" is an image reference: a target is a k8s Deployment or a Heroku app; for example heroku:shop-production/web`},
		{"two sources", "promote", with("FERRY_SOURCE=nginx:1 nginx:2"),
			`FERRY_SOURCE: takes one address, not 2; for example FERRY_SOURCE='k8s:shop/web?context=staging'`},
		{"relative health on k8s", "promote", with("FERRY_TARGETS=k8s:shop/web?context=prod&health=/healthz"),
			`FERRY_TARGETS: k8s target "k8s:shop/web?context=prod&health=/healthz" has a health path but no host to resolve it against: give a whole http(s) URL; for example k8s:shop/web?context=prod&health=https://shop.example.com/healthz`},
		{"duplicate deployment", "promote", with("FERRY_TARGETS=k8s:shop/web k8s:shop/web?container=app"),
			`FERRY_TARGETS: "k8s:shop/web" and "k8s:shop/web?container=app" name the same Deployment`},
		{"duplicate heroku app", "promote", with("FERRY_TARGETS=heroku:shop/web,clock heroku:shop/worker,web"),
			`FERRY_TARGETS: "heroku:shop/web,clock" and "heroku:shop/worker,web" name the same Heroku app: list its process types in one address; for example heroku:shop/web,clock,worker`},
		{"target is the source", "promote", with("FERRY_SOURCE=k8s:shop/web?context=prod", "FERRY_TARGETS=k8s:shop/web?context=prod&container=app"),
			`FERRY_TARGETS: "k8s:shop/web?context=prod&container=app" is also the source (FERRY_SOURCE)`},
		{"heroku target is the source", "plan", with("FERRY_SOURCE=heroku:shop/web", "FERRY_TARGETS=heroku:shop/worker,web"),
			`FERRY_TARGETS: "heroku:shop/worker,web" is also the source (FERRY_SOURCE)`},
		{"heroku without key", "promote", with("FERRY_HEROKU_API_KEY"),
			`FERRY_HEROKU_API_KEY: required for heroku: addresses (heroku:shop-production/web?health=/healthz in FERRY_TARGETS); create a key with "heroku authorizations:create" (HEROKU_API_KEY works too)`},
		{"heroku source without key", "promote", with("FERRY_HEROKU_API_KEY", "FERRY_SOURCE=heroku:shop-staging", "FERRY_TARGETS=k8s:shop/web"),
			`FERRY_HEROKU_API_KEY: required for heroku: addresses (heroku:shop-staging/web in FERRY_SOURCE); create a key with "heroku authorizations:create" (HEROKU_API_KEY works too)`},
		{"heroku without key, as an input", "status", with("GITHUB_ACTIONS=true", "FERRY_HEROKU_API_KEY"),
			`INPUT_HEROKU-API-KEY (input "heroku-api-key"): required for heroku: addresses (heroku:shop-production/web?health=/healthz in FERRY_TARGETS); create a key with "heroku authorizations:create"; for example heroku-api-key: ${{ secrets.HEROKU_API_KEY }}`},
		{"output", "promote", with("FERRY_OUTPUT=xml"),
			`FERRY_OUTPUT: "xml" is not one of text, json; for example FERRY_OUTPUT=json`},
		{"on paused", "promote", with("FERRY_ON_PAUSED=ignore"),
			`FERRY_ON_PAUSED: "ignore" is not one of refuse, resume; for example FERRY_ON_PAUSED=resume`},
		{"on progressing", "promote", with("FERRY_ON_PROGRESSING=Wait"),
			`FERRY_ON_PROGRESSING: "Wait" is not one of refuse, wait; for example FERRY_ON_PROGRESSING=wait`},
		{"not a duration", "promote", with("FERRY_TIMEOUT=abc"),
			`FERRY_TIMEOUT: "abc" is not a duration: write a number with a unit (90s, 5m, 1h30m); for example FERRY_TIMEOUT=5m`},
		{"not a duration, as an input", "promote", with("GITHUB_ACTIONS=true", "INPUT_RESTORE-TIMEOUT=5"),
			`INPUT_RESTORE-TIMEOUT (input "restore-timeout"): "5" is not a duration: write a number with a unit (90s, 5m, 1h30m); for example restore-timeout: 5m`},
		{"FERRY_ name used in Actions", "promote", with("GITHUB_ACTIONS=true", "FERRY_TIMEOUT=abc"),
			`FERRY_TIMEOUT: "abc" is not a duration: write a number with a unit (90s, 5m, 1h30m); for example FERRY_TIMEOUT=5m`},
		{"zero timeout", "promote", with("FERRY_TIMEOUT=0s"),
			`FERRY_TIMEOUT: 0s is out of range: use more than 0 and at most 6h; for example FERRY_TIMEOUT=5m`},
		{"long timeout", "promote", with("FERRY_TIMEOUT=6h0m1s"),
			`FERRY_TIMEOUT: 6h0m1s is out of range: use more than 0 and at most 6h; for example FERRY_TIMEOUT=5m`},
		{"negative restore timeout", "rollback", with("FERRY_RESTORE_TIMEOUT=-1m"),
			`FERRY_RESTORE_TIMEOUT: -1m0s is out of range: use more than 0 and at most 6h; for example FERRY_RESTORE_TIMEOUT=5m`},
		{"health timeout", "promote", with("FERRY_HEALTH_TIMEOUT=7h"),
			`FERRY_HEALTH_TIMEOUT: 7h0m0s is out of range: use more than 0 and at most 6h; for example FERRY_HEALTH_TIMEOUT=2m`},
		{"not a number", "promote", with("FERRY_PARALLELISM=four"),
			`FERRY_PARALLELISM: "four" is not a whole number; for example FERRY_PARALLELISM=16`},
		{"parallelism low", "promote", with("FERRY_PARALLELISM=0"),
			`FERRY_PARALLELISM: 0 is out of range: use 1 to 64; for example FERRY_PARALLELISM=64`},
		{"parallelism high", "promote", with("FERRY_PARALLELISM=65"),
			`FERRY_PARALLELISM: 65 is out of range: use 1 to 64; for example FERRY_PARALLELISM=64`},
		{"not a bool", "promote", with("FERRY_RESOLVE_TAGS=yes"),
			`FERRY_RESOLVE_TAGS: "yes" is not true or false; for example FERRY_RESOLVE_TAGS=true`},
		{"interval over timeout", "promote", with("FERRY_HEALTH_INTERVAL=5m", "FERRY_HEALTH_TIMEOUT=1m"),
			`FERRY_HEALTH_INTERVAL: 5m0s is longer than the health timeout (1m0s); for example FERRY_HEALTH_INTERVAL=2s`},
		{"zero interval", "promote", with("FERRY_HEALTH_INTERVAL=0s"),
			`FERRY_HEALTH_INTERVAL: 0s is out of range: use more than 0; for example FERRY_HEALTH_INTERVAL=2s`},
		{"threshold", "promote", with("FERRY_HEALTH_THRESHOLD=0"),
			`FERRY_HEALTH_THRESHOLD: 0 is out of range: use 1 to 100; for example FERRY_HEALTH_THRESHOLD=3`},
		{"soak", "promote", with("FERRY_HEALTH_SOAK=-1s"),
			`FERRY_HEALTH_SOAK: -1s is out of range: use 0 to 6h; for example FERRY_HEALTH_SOAK=1m`},
		{"empty wave", "promote", with("FERRY_TARGETS=k8s:shop/web?context=canary\n---\n---\nk8s:shop/web?context=prod"),
			`FERRY_TARGETS: wave 2 of 3 has no address: put addresses between two --- lines, and no --- first or last`},
		{"only comments", "promote", with("FERRY_TARGETS=# k8s:shop/web?context=canary"),
			`FERRY_TARGETS: required for "promote"; for example FERRY_TARGETS='k8s:shop/web?context=production'`},
		{"separator last", "promote", with("FERRY_TARGETS=k8s:shop/web?context=canary\n---\n"),
			`FERRY_TARGETS: wave 2 of 2 has no address: put addresses between two --- lines, and no --- first or last`},
		{"same target in two waves", "promote", with("FERRY_TARGETS=k8s:shop/web?context=canary\n---\nk8s:shop/web?context=canary"),
			`FERRY_TARGETS: "k8s:shop/web?context=canary" and "k8s:shop/web?context=canary" name the same Deployment`},
		{"health version", "promote", with("FERRY_HEALTH_VERSION=X-Version"),
			`FERRY_HEALTH_VERSION: "X-Version" says neither header:NAME nor json:FIELD: write header:X-Version or json:build.version`},
		{"wave soak", "promote", with("FERRY_SOAK=7h"),
			`FERRY_SOAK: 7h0m0s is out of range: use 0 to 6h; for example FERRY_SOAK=5m`},
		{"gate condition", "promote", with("FERRY_GATES=[{name: errors, successCondition: 'result[0] <', provider: {prometheus: {address: 'http://p:9090', query: up}}}]"),
			`FERRY_GATES: metric "errors": successCondition "result[0] <" does not compile: unexpected token EOF (1:11)`},
		{"gate provider", "plan", with("FERRY_GATES=[{name: errors, provider: {datadog: {query: x}}}]"),
			`FERRY_GATES: metric "errors": provider "datadog" is unsupported: ferry measures prometheus and web metrics only`},
		{"status codes", "promote", with("FERRY_HEALTH_STATUS=300-200"),
			`FERRY_HEALTH_STATUS: "300-200" is not a list of HTTP status codes: write codes (100 to 599) and ranges like 200-299 separated by commas; for example FERRY_HEALTH_STATUS=200-299,304`},
		{"status code out of range", "promote", with("FERRY_HEALTH_STATUS=200,99"),
			`FERRY_HEALTH_STATUS: "200,99" is not a list of HTTP status codes: write codes (100 to 599) and ranges like 200-299 separated by commas; for example FERRY_HEALTH_STATUS=200-299,304`},
		{"body regexp", "promote", with("FERRY_HEALTH_BODY=ok("),
			"FERRY_HEALTH_BODY: \"ok(\" is not a regular expression: error parsing regexp: missing closing ): `ok(`; for example FERRY_HEALTH_BODY='\"status\":\\s*\"ok\"'"},
		{"kubeconfig data garbage", "promote", with("FERRY_KUBECONFIG_DATA=not a kubeconfig!"),
			`FERRY_KUBECONFIG_DATA: the value is neither base64 nor a kubeconfig in YAML or JSON; give the file's content or base64 -w0 ~/.kube/config`},
		{"kubeconfig data base64 of garbage", "promote", with("FERRY_KUBECONFIG_DATA=" + b64("\x00\x01binary")),
			`FERRY_KUBECONFIG_DATA: the value decodes from base64, but not to a kubeconfig (YAML or JSON); encode the whole file, e.g. base64 -w0 ~/.kube/config`},
		{"kubeconfig data as an input", "promote", with("GITHUB_ACTIONS=true", "INPUT_KUBECONFIG-DATA=%%%"),
			`INPUT_KUBECONFIG-DATA (input "kubeconfig-data"): the value is neither base64 nor a kubeconfig in YAML or JSON; give the file's content or base64 -w0 ~/.kube/config; for example kubeconfig-data: ${{ secrets.KUBECONFIG_DATA }}`},
		{"heroku api url", "promote", with("FERRY_HEROKU_API_URL=api.heroku.com"),
			`FERRY_HEROKU_API_URL: "api.heroku.com" is not an http(s) URL without credentials or query; for example FERRY_HEROKU_API_URL=https://api.heroku.com`},
		{"heroku api url with password", "promote", with("FERRY_HEROKU_API_URL=https://me:hunter2@api.heroku.com"),
			`FERRY_HEROKU_API_URL: "https://***@api.heroku.com" is not an http(s) URL without credentials or query; for example FERRY_HEROKU_API_URL=https://api.heroku.com`},
		{"heroku registry", "promote", with("FERRY_HEROKU_REGISTRY=https://registry.heroku.com"),
			`FERRY_HEROKU_REGISTRY: "https://registry.heroku.com" is not a registry host (HOST or HOST:PORT, no scheme or path); for example FERRY_HEROKU_REGISTRY=registry.heroku.com`},
		{"platform", "promote", with("FERRY_PLATFORM=amd64"),
			`FERRY_PLATFORM: "amd64" is not a platform: write OS/ARCH or OS/ARCH/VARIANT in lower case; for example FERRY_PLATFORM=linux/amd64`},
		{"mode", "promote", with("FERRY_MODE=gitlab"),
			`FERRY_MODE: "gitlab" is not a mode: use github, circleci or local; for example FERRY_MODE=local`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := validate(t, tt.command, tt.environ)
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("error = %v, want a *ValidationError", err)
			}
			if len(ve.Problems) != 1 {
				t.Fatalf("got %d problems, want 1:\n%v", len(ve.Problems), err)
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

// manyProblems breaks nearly everything at once.
var manyProblems = []string{
	"FERRY_SOURCE=kube:shop/web",
	"FERRY_TARGETS=k8s:shop/web?context=prod k8s:shop/web?context=prod&container=app\nheroku:Shop ghcr.io/acme/shop:1 heroku:shop-production/web",
	"FERRY_KUBECONFIG_DATA=s3cr3t-kubeconfig!",
	"FERRY_OUTPUT=yaml",
	"FERRY_TIMEOUT=abc",
	"FERRY_RESTORE_TIMEOUT=0s",
	"FERRY_PARALLELISM=100",
	"FERRY_RESOLVE_TAGS=maybe",
	"FERRY_ON_PAUSED=skip",
	"FERRY_ON_PROGRESSING=push",
	"FERRY_HEALTH_INTERVAL=1h",
	"FERRY_HEALTH_THRESHOLD=x",
	"FERRY_HEALTH_STATUS=ok",
	"FERRY_HEALTH_BODY=[",
	"FERRY_PLATFORM=linux",
	"FERRY_MODE=jenkins",
}

func TestValidateManyProblems(t *testing.T) {
	tests := []struct {
		golden  string
		environ []string
	}{
		{"problems.golden", manyProblems},
		{"problems_github.golden", asInputs(manyProblems)},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			_, err := validate(t, CommandPromote, tt.environ)
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("error = %v, want a *ValidationError", err)
			}
			// One problem per broken variable (FERRY_TARGETS has three,
			// FERRY_HEROKU_API_KEY is missing).
			if got, want := len(ve.Problems), len(manyProblems)-1+3+1; got != want {
				t.Errorf("got %d problems, want %d:\n%v", got, want, err)
			}
			if strings.Contains(err.Error(), "s3cr3t") {
				t.Errorf("the error shows a secret:\n%v", err)
			}
			for i, p := range ve.Problems {
				if p.Var == "" || p.Message == "" || strings.Contains(p.String(), "\n") {
					t.Errorf("problem %d is malformed: %#v", i, p)
				}
			}
			golden(t, tt.golden, err.Error()+"\n")
		})
	}
}

// asInputs turns FERRY_X=v into INPUT_X=v the way the Actions runner
// passes inputs (FERRY_MODE stays, it is no input).
func asInputs(environ []string) []string {
	out := []string{"GITHUB_ACTIONS=true"}
	for _, kv := range environ {
		k, v, _ := strings.Cut(kv, "=")
		if k != "FERRY_MODE" {
			k = "INPUT_" + strings.ReplaceAll(strings.TrimPrefix(k, "FERRY_"), "_", "-")
		}
		out = append(out, k+"="+v)
	}
	return out
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (go test -update rewrites it):\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

func TestErrorsNeverShowSecrets(t *testing.T) {
	const key = "HRKU-s3cr3t-api-key-value"
	b64 := base64.StdEncoding.EncodeToString([]byte("s3cr3t binary \x00\x01"))
	for _, environ := range [][]string{
		{"FERRY_HEROKU_API_KEY=" + key, "FERRY_KUBECONFIG_DATA=s3cr3t!!", "FERRY_TARGETS=heroku:Shop", "FERRY_TIMEOUT=x"},
		{"HEROKU_API_KEY=" + key, "FERRY_KUBECONFIG_DATA=" + b64},
		{"GITHUB_ACTIONS=true", "INPUT_HEROKU-API-KEY=" + key, "INPUT_KUBECONFIG-DATA=s3cr3t: [unclosed"},
	} {
		for _, cmd := range []string{CommandPromote, CommandStatus} {
			_, err := validate(t, cmd, environ)
			if err == nil {
				t.Fatalf("%q: want problems", environ)
			}
			if strings.Contains(err.Error(), "s3cr3t") {
				t.Errorf("the error shows a secret:\n%v", err)
			}
		}
	}
}

// A misspelt variable would run with the default and nobody would know:
// it is a problem, with the name it was probably meant to be, and its
// value (which may be a secret) is never shown.
func TestUnknownVariables(t *testing.T) {
	tests := []struct {
		name    string
		environ []string
		want    string
	}{
		{"missing S", with("FERRY_TARGET=k8s:shop/web"), `FERRY_TARGET: not a setting of ferry's: did you mean FERRY_TARGETS?`},
		{"dropped letter", with("FERRY_TIMOUT=1s"), `FERRY_TIMOUT: not a setting of ferry's: did you mean FERRY_TIMEOUT?`},
		{"secret typo shows no value", with("FERRY_HEROKU_APIKEY=s3cr3t-key"), `FERRY_HEROKU_APIKEY: not a setting of ferry's: did you mean FERRY_HEROKU_API_KEY?`},
		{"nothing close", with("FERRY_COLOR=always"), `FERRY_COLOR: not a setting of ferry's: remove it (ferry env lists every setting)`},
		{"input typo in Actions", with("GITHUB_ACTIONS=true", "INPUT_TARGET=k8s:shop/web"), `INPUT_TARGET: not an input of ferry's: did you mean input "targets"?`},
		{"hyphen typo in Actions", with("GITHUB_ACTIONS=true", "INPUT_KUBECONFIG_DATA=x"), `INPUT_KUBECONFIG_DATA: not an input of ferry's: did you mean input "kubeconfig-data"?`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := validate(t, CommandPromote, tt.environ)
			var ve *ValidationError
			if !errors.As(err, &ve) || len(ve.Problems) != 1 {
				t.Fatalf("error = %v, want one problem", err)
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
	// INPUT_ variables outside Actions belong to someone else.
	if _, err := validate(t, CommandPromote, with("INPUT_TARGET=x")); err != nil {
		t.Errorf("INPUT_ outside Actions: %v", err)
	}
}

func TestContainerMappings(t *testing.T) {
	tests := []struct {
		name    string
		environ []string
		want    string // the one problem, "" for none
	}{
		{"k8s source", with("FERRY_SOURCE=k8s:shop/web?context=staging", "FERRY_TARGETS=k8s:shop/web?context=prod&container=app=app,proxy=sidecar"), ""},
		{"k8s source naming a container", with("FERRY_SOURCE=k8s:shop/web?context=staging&container=app", "FERRY_TARGETS=k8s:shop/web?context=prod&container=app=app,proxy=sidecar k8s:shop/api?context=prod"), ""},
		{"image source", with("FERRY_SOURCE=ghcr.io/acme/shop:1", "FERRY_TARGETS=k8s:shop/web?context=prod&container=app=app,proxy=sidecar"),
			`FERRY_TARGETS: "k8s:shop/web?context=prod&container=app=app,proxy=sidecar" maps containers to the source's, and the source "ghcr.io/acme/shop:1" (FERRY_SOURCE) has no containers: use a k8s: workload as the source, or drop the =SOURCE parts to give every container the source's image; for example k8s:shop/web?context=prod&container=app,proxy`},
		{"heroku source", with("FERRY_SOURCE=heroku:shop-staging", "FERRY_TARGETS=k8s:shop/web?context=prod&container=app=web"),
			`FERRY_TARGETS: "k8s:shop/web?context=prod&container=app=web" maps containers to the source's, and the source "heroku:shop-staging/web" (FERRY_SOURCE) has no containers: use a k8s: workload as the source, or drop the =SOURCE parts to give every container the source's image; for example k8s:shop/web?context=prod&container=app`},
		{"mapping on the source", with("FERRY_SOURCE=k8s:shop/web?context=staging&container=app=web", "FERRY_TARGETS=k8s:shop/web?context=prod"),
			`FERRY_SOURCE: source "k8s:shop/web?context=staging&container=app=web" maps containers: a mapping (?container=TARGET=SOURCE) goes on a target, and a source names one container or none; for example FERRY_SOURCE='k8s:shop/web?context=staging'`},
		{"mixed list", with("FERRY_SOURCE=k8s:shop/web?context=staging", "FERRY_TARGETS=k8s:shop/web?context=prod&container=app=web,migrate"),
			`FERRY_TARGETS: container "migrate" in "k8s:shop/web?context=prod&container=app=web,migrate" has no source container while others have one: write migrate=migrate to take the image of the source's container migrate, or map none; for example k8s:shop/web?context=production&container=app=app,proxy=sidecar`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { wantOneProblem(t, tt.environ, tt.want) })
	}
}

func TestCloudSettings(t *testing.T) {
	tests := []struct {
		name    string
		environ []string
		want    string // the one problem, "" for none
	}{
		{"role", with("FERRY_AWS_ROLE_ARN=arn:aws:iam::111122223333:role/ferry"), ""},
		{"bad role", with("FERRY_AWS_ROLE_ARN=ferry-role"),
			`FERRY_AWS_ROLE_ARN: "ferry-role" is not an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME); for example FERRY_AWS_ROLE_ARN=arn:aws:iam::111122223333:role/ferry`},
		{"bad region", with("AWS_REGION=europe"),
			`AWS_REGION: "europe" is not an AWS region (such as eu-west-1); for example AWS_REGION=eu-west-1`},
		{"bad provider", with("FERRY_GCP_WORKLOAD_IDENTITY_PROVIDER=github"),
			`FERRY_GCP_WORKLOAD_IDENTITY_PROVIDER: "github" is not a workload identity pool provider (projects/NUMBER/locations/global/workloadIdentityPools/POOL/providers/PROVIDER); for example FERRY_GCP_WORKLOAD_IDENTITY_PROVIDER=projects/123456789/locations/global/workloadIdentityPools/github/providers/acme`},
		{"service account without a provider", with("FERRY_GCP_SERVICE_ACCOUNT=ferry-promoter@acme.iam.gserviceaccount.com"),
			`FERRY_GCP_WORKLOAD_IDENTITY_PROVIDER: required with FERRY_GCP_SERVICE_ACCOUNT: the account is impersonated after workload identity federation; for example FERRY_GCP_WORKLOAD_IDENTITY_PROVIDER=projects/123456789/locations/global/workloadIdentityPools/github/providers/acme`},
		// kubelogin's arguments may name the client and the tenant.
		{"azure secret alone", with("AZURE_CLIENT_SECRET=s3cr3t"), ""},
		{"kube credentials", with("FERRY_KUBE_CREDENTIALS=always"),
			`FERRY_KUBE_CREDENTIALS: "always" is not one of auto, plugin, ferry; for example FERRY_KUBE_CREDENTIALS=ferry`},
		{"an app's own key replaces the default", with("FERRY_HEROKU_API_KEY", "FERRY_HEROKU_API_KEY_SHOP_PRODUCTION=k2"), ""},
		{"an app's own key for an app not named", with("FERRY_HEROKU_API_KEY_SHOP_PRODUCTON=k2"),
			`FERRY_HEROKU_API_KEY_SHOP_PRODUCTON: names no app of a heroku: address: did you mean FERRY_HEROKU_API_KEY_SHOP_PRODUCTION?`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { wantOneProblem(t, tt.environ, tt.want) })
	}
	c, err := validate(t, CommandPromote, with("FERRY_HEROKU_API_KEY_SHOP_PRODUCTION=k2"))
	if err != nil || c.Heroku.KeyFor("shop-production") != "k2" || c.Heroku.KeyFor("other") != "0123-key" {
		t.Errorf("KeyFor: %q %q (%v)", c.Heroku.KeyFor("shop-production"), c.Heroku.KeyFor("other"), err)
	}
	s, _ := Load(with("FERRY_HEROKU_API_KEY_SHOP_PRODUCTION=app-key-2"))
	if !slices.Contains(s.Secrets(), "app-key-2") {
		t.Errorf("an app's own key is not among the secrets: %q", s.Secrets())
	}
}

// The OIDC audiences have no default of their own: CircleCI's tokens carry
// the organization id, which a job cannot choose, so a fixed default would
// make every CircleCI federation ask for an audience its token lacks.
// Left empty, pkg/cloud picks the token's own audience in CircleCI and the
// cloud's default (sts.amazonaws.com, api://AzureADTokenExchange)
// elsewhere; a value set wins.
func TestOIDCAudiencesDefaultToTheSource(t *testing.T) {
	for _, environ := range [][]string{with("CIRCLECI=true"), with("GITHUB_ACTIONS=true"), good} {
		c, err := validate(t, CommandPromote, environ)
		if err != nil {
			t.Fatal(err)
		}
		if c.Cloud.AWS.Audience != "" || c.Cloud.Azure.Audience != "" || c.Cloud.GCP.Audience != "" {
			t.Errorf("with no audience set, the audiences are %q %q %q; want them left to the token source", c.Cloud.AWS.Audience, c.Cloud.Azure.Audience, c.Cloud.GCP.Audience)
		}
	}
	c, err := validate(t, CommandPromote, with("CIRCLECI=true", "FERRY_AWS_AUDIENCE=org-1", "FERRY_AZURE_AUDIENCE=org-2"))
	if err != nil || c.Cloud.AWS.Audience != "org-1" || c.Cloud.Azure.Audience != "org-2" {
		t.Errorf("audiences set: %q %q (%v)", c.Cloud.AWS.Audience, c.Cloud.Azure.Audience, err)
	}
}

// In a docker action the runner's paths are elsewhere: a credentials file
// an earlier step wrote in the workspace is read from /github/workspace.
func TestContainerPath(t *testing.T) {
	action := Env{"GITHUB_ACTIONS": "true", "GITHUB_WORKSPACE": "/github/workspace", "RUNNER_TEMP": "/home/runner/work/_temp",
		"RUNNER_WORKSPACE": "/home/runner/work/shop", "GITHUB_REPOSITORY": "acme/shop"}
	none := func(string) bool { return false }
	tests := []struct {
		env  Env
		in   string
		want string
	}{
		{action, "/home/runner/work/shop/shop/gha-creds-1.json", "/github/workspace/gha-creds-1.json"},
		{action, "/home/runner/work/_temp/_github_home/.docker", "/github/home/.docker"},
		{action, "/home/runner/work/_temp/_github_workflow/event.json", "/github/workflow/event.json"},
		{action, "/home/runner/work/shop/shopping/x", "/home/runner/work/shop/shopping/x"},
		{action, "/etc/gcp.json", "/etc/gcp.json"},
		{action, "", ""},
		{Env{"GITHUB_ACTIONS": "true", "GITHUB_WORKSPACE": "/home/runner/work/shop/shop"}, "/home/runner/work/shop/shop/k.json", "/home/runner/work/shop/shop/k.json"},
	}
	for _, tt := range tests {
		if got := tt.env.ContainerPath(tt.in, none); got != tt.want {
			t.Errorf("ContainerPath(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if got := action.ContainerPath("/home/runner/work/shop/shop/k.json", func(string) bool { return true }); got != "/home/runner/work/shop/shop/k.json" {
		t.Errorf("a path that exists was translated to %q", got)
	}
}

// A KUBECONFIG an earlier step exported with the runner's paths is read
// from where the docker action sees them.
func TestKubeconfigPathsInTheActionContainer(t *testing.T) {
	c, err := validate(t, CommandStatus, with("GITHUB_ACTIONS=true", "GITHUB_WORKSPACE=/github/workspace",
		"RUNNER_TEMP=/home/runner/work/_temp", "RUNNER_WORKSPACE=/home/runner/work/shop", "GITHUB_REPOSITORY=acme/shop",
		"INPUT_TARGETS=k8s:shop/web?context=prod", "FERRY_TARGETS", "FERRY_SOURCE",
		"KUBECONFIG=/home/runner/work/_temp/_github_home/.kube/config:/home/runner/work/shop/shop/kc.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "/github/home/.kube/config:/github/workspace/kc.yaml"; c.Kube.Kubeconfig != want {
		t.Errorf("Kubeconfig = %q, want %q", c.Kube.Kubeconfig, want)
	}
}

// Waves and gates: promote and plan get them; status and rollback read the
// same FERRY_TARGETS as one list and never look at FERRY_GATES, so a
// broken gate never blocks a rollback.
func TestWavesAndGates(t *testing.T) {
	env := with(
		"FERRY_TARGETS=k8s:shop/web?context=canary  # wave 1\n---\nk8s:shop/web?context=eu k8s:shop/web?context=us # wave 2",
		"FERRY_GATES=[{name: errors, successCondition: 'result[0] < 0.01', provider: {prometheus: {address: 'http://p:9090', query: up}}}]",
		"FERRY_SOAK=2m",
	)
	for _, cmd := range []string{CommandPromote, CommandPlan} {
		c, err := validate(t, cmd, env)
		if err != nil {
			t.Fatalf("%s: %v", cmd, err)
		}
		if len(c.Targets) != 3 || !slices.Equal(c.Waves, []int{1, 2}) || len(c.Gates.Gates) != 1 || c.Run.Soak != 2*time.Minute {
			t.Errorf("%s: targets %d, waves %v, gates %d, soak %s", cmd, len(c.Targets), c.Waves, len(c.Gates.Gates), c.Run.Soak)
		}
	}
	broken := with(
		"FERRY_TARGETS=k8s:shop/web?context=canary\n---\nk8s:shop/web?context=eu",
		"FERRY_GATES=- not: [a gate",
	)
	for _, cmd := range []string{CommandStatus, CommandRollback} {
		c, err := validate(t, cmd, broken)
		if err != nil {
			t.Fatalf("%s: %v", cmd, err)
		}
		if len(c.Targets) != 2 || len(c.Gates.Gates) != 0 {
			t.Errorf("%s: targets %d, gates %d", cmd, len(c.Targets), len(c.Gates.Gates))
		}
	}
	if _, err := validate(t, CommandPromote, broken); err == nil || !strings.Contains(err.Error(), "FERRY_GATES: not a YAML list of metrics") {
		t.Errorf("promote with a broken gate: %v", err)
	}
}

func TestGitHubEnvironmentNeedsTokenRepoAndCommit(t *testing.T) {
	cases := []struct {
		env  []string
		want string
	}{
		{[]string{"FERRY_GITHUB_ENVIRONMENT=production", "GITHUB_REPOSITORY=acme/shop", "GITHUB_SHA=abc"}, "needs a token"},
		{[]string{"FERRY_GITHUB_ENVIRONMENT=production", "FERRY_GITHUB_TOKEN=t", "GITHUB_SHA=abc"}, "repository"},
		{[]string{"FERRY_GITHUB_ENVIRONMENT=production", "FERRY_GITHUB_TOKEN=t", "GITHUB_REPOSITORY=acme/shop"}, "commit"},
		{[]string{"FERRY_GITHUB_ENVIRONMENT=production", "FERRY_GITHUB_TOKEN=t", "CIRCLE_PROJECT_USERNAME=acme", "CIRCLE_PROJECT_REPONAME=shop", "CIRCLE_SHA1=abc"}, ""},
	}
	for _, c := range cases {
		s, err := Load(append(c.env, "FERRY_SOURCE=nginx", "FERRY_TARGETS=heroku:shop", "FERRY_HEROKU_API_KEY=k"))
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := s.Check(CommandPromote)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%v: %v", c.env, err)
		case c.want == "" && (cfg.Deployments.Repo != "acme/shop" || cfg.Deployments.APIURL != "https://api.github.com"):
			t.Errorf("%v: %+v", c.env, cfg.Deployments)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%v: %v, want a problem saying %q", c.env, err, c.want)
		}
	}
}
