package config

import (
	"encoding/base64"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestLoadDefaults(t *testing.T) {
	c, err := Load(nil)
	if err != nil {
		t.Fatal(err)
	}
	checks := map[string][2]any{
		"HerokuAPIURL":    {c.HerokuAPIURL, "https://api.heroku.com"},
		"HerokuRegistry":  {c.HerokuRegistry, "registry.heroku.com"},
		"Platform":        {c.Platform, "linux/amd64"},
		"Output":          {c.Output, "text"},
		"Timeout":         {c.Timeout, 5 * time.Minute},
		"RestoreTimeout":  {c.RestoreTimeout, 5 * time.Minute},
		"Parallelism":     {c.Parallelism, 64},
		"ResolveTags":     {c.ResolveTags, false},
		"OnPaused":        {c.OnPaused, "refuse"},
		"OnProgressing":   {c.OnProgressing, "refuse"},
		"HealthTimeout":   {c.HealthTimeout, 2 * time.Minute},
		"HealthInterval":  {c.HealthInterval, 2 * time.Second},
		"HealthThreshold": {c.HealthThreshold, 3},
		"HealthSoak":      {c.HealthSoak, time.Duration(0)},
		"HealthStatus":    {c.HealthStatus, "200-299"},
		"Mode":            {c.Mode, ModeLocal},
		"Source":          {c.Source, ""},
		"ChangeCause":     {c.ChangeCause, ""},
	}
	for name, gw := range checks {
		if gw[0] != gw[1] {
			t.Errorf("%s = %v, want %v", name, gw[0], gw[1])
		}
	}
}

func TestLoad(t *testing.T) {
	tests := []struct {
		name    string
		environ []string
		check   func(c Settings) (got, want any)
	}{
		{"FERRY_ variable", []string{"FERRY_TARGETS=k8s:shop/web"},
			func(c Settings) (any, any) { return c.Targets, "k8s:shop/web" }},
		{"surrounding whitespace trimmed", []string{"FERRY_TIMEOUT= 10m\n"},
			func(c Settings) (any, any) { return c.Timeout, 10 * time.Minute }},
		{"empty FERRY_ value counts as unset", []string{"FERRY_TIMEOUT="},
			func(c Settings) (any, any) { return c.Timeout, 5 * time.Minute }},
		{"blank FERRY_ value counts as unset", []string{"FERRY_OUTPUT=  "},
			func(c Settings) (any, any) { return c.Output, "text" }},
		{"first of repeated names wins", []string{"FERRY_OUTPUT=json", "FERRY_OUTPUT=text"},
			func(c Settings) (any, any) { return c.Output, "json" }},
		{"malformed entries ignored", []string{"FERRY_OUTPUT", "=x", "FERRY_OUTPUT=json"},
			func(c Settings) (any, any) { return c.Output, "json" }},
		{"KUBECONFIG alias", []string{"KUBECONFIG=/a:/b"},
			func(c Settings) (any, any) { return c.Kubeconfig, "/a:/b" }},
		{"FERRY_KUBECONFIG beats KUBECONFIG", []string{"FERRY_KUBECONFIG=/ferry", "KUBECONFIG=/eco"},
			func(c Settings) (any, any) { return c.Kubeconfig, "/ferry" }},
		{"empty FERRY_KUBECONFIG leaves KUBECONFIG", []string{"FERRY_KUBECONFIG=", "KUBECONFIG=/eco"},
			func(c Settings) (any, any) { return c.Kubeconfig, "/eco" }},
		{"HEROKU_API_KEY alias", []string{"HEROKU_API_KEY=eco-key"},
			func(c Settings) (any, any) { return c.HerokuAPIKey, "eco-key" }},
		{"FERRY_HEROKU_API_KEY beats HEROKU_API_KEY", []string{"HEROKU_API_KEY=eco-key", "FERRY_HEROKU_API_KEY=ferry-key"},
			func(c Settings) (any, any) { return c.HerokuAPIKey, "ferry-key" }},
		{"bool", []string{"FERRY_RESOLVE_TAGS=true"},
			func(c Settings) (any, any) { return c.ResolveTags, true }},
		{"int", []string{"FERRY_PARALLELISM=16"},
			func(c Settings) (any, any) { return c.Parallelism, 16 }},
		{"CIRCLECI mode", []string{"CIRCLECI=true"},
			func(c Settings) (any, any) { return c.Mode, ModeCircleCI }},
		{"GITHUB_ACTIONS mode", []string{"GITHUB_ACTIONS=true", "CIRCLECI=true"},
			func(c Settings) (any, any) { return c.Mode, ModeGitHub }},
		{"FERRY_MODE overrides detection", []string{"GITHUB_ACTIONS=true", "FERRY_MODE=circleci"},
			func(c Settings) (any, any) { return c.Mode, ModeCircleCI }},
		{"INPUT_ with hyphens in Actions", []string{"GITHUB_ACTIONS=true", "INPUT_KUBECONFIG-DATA=apiVersion: v1"},
			func(c Settings) (any, any) { return c.KubeconfigData, "apiVersion: v1" }},
		{"INPUT_ with underscores is not an input", []string{"GITHUB_ACTIONS=true", "INPUT_KUBECONFIG_DATA=apiVersion: v1"},
			func(c Settings) (any, any) { return c.KubeconfigData, "" }},
		{"INPUT_ beats FERRY_", []string{"GITHUB_ACTIONS=true", "FERRY_TARGETS=heroku:ferry", "INPUT_TARGETS=heroku:input"},
			func(c Settings) (any, any) { return c.Targets, "heroku:input" }},
		{"INPUT_ beats alias", []string{"GITHUB_ACTIONS=true", "HEROKU_API_KEY=eco", "INPUT_HEROKU-API-KEY=input"},
			func(c Settings) (any, any) { return c.HerokuAPIKey, "input" }},
		{"empty INPUT_ counts as unset", []string{"GITHUB_ACTIONS=true", "FERRY_OUTPUT=json", "INPUT_OUTPUT="},
			func(c Settings) (any, any) { return c.Output, "json" }},
		{"empty INPUT_ keeps default", []string{"GITHUB_ACTIONS=true", "INPUT_HEALTH-INTERVAL=", "INPUT_PARALLELISM="},
			func(c Settings) (any, any) {
				return [2]any{c.HealthInterval, c.Parallelism}, [2]any{2 * time.Second, 64}
			}},
		{"INPUT_ hyphenated duration and bool", []string{"GITHUB_ACTIONS=true", "INPUT_HEALTH-SOAK=1m", "INPUT_RESOLVE-TAGS=true"},
			func(c Settings) (any, any) { return [2]any{c.HealthSoak, c.ResolveTags}, [2]any{time.Minute, true} }},
		{"INPUT_ ignored outside Actions", []string{"INPUT_TARGETS=heroku:input", "FERRY_TARGETS=heroku:ferry"},
			func(c Settings) (any, any) { return c.Targets, "heroku:ferry" }},
		{"INPUT_ ignored with FERRY_MODE=local", []string{"GITHUB_ACTIONS=true", "FERRY_MODE=local", "INPUT_TARGETS=heroku:input"},
			func(c Settings) (any, any) { return c.Targets, "" }},
		{"INPUT_ read with FERRY_MODE=github", []string{"FERRY_MODE=github", "INPUT_TARGETS=heroku:input"},
			func(c Settings) (any, any) { return c.Targets, "heroku:input" }},
		{"no expansion of $", []string{"FERRY_CHANGE_CAUSE=costs $HOME"},
			func(c Settings) (any, any) { return c.ChangeCause, "costs $HOME" }},
		{"bad value keeps zero and loads the rest", []string{"FERRY_TIMEOUT=abc", "FERRY_OUTPUT=json"},
			func(c Settings) (any, any) { return [2]any{c.Timeout, c.Output}, [2]any{time.Duration(0), "json"} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load(tt.environ)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := tt.check(c); !reflect.DeepEqual(got, want) {
				t.Errorf("got %#v, want %#v", got, want)
			}
		})
	}
}

func TestLoadReadsNoProcessEnvironment(t *testing.T) {
	t.Setenv("FERRY_TARGETS", "heroku:from-process")
	t.Setenv("KUBECONFIG", "/from/process")
	c, err := Load([]string{"FERRY_OUTPUT=json"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Targets != "" || c.Kubeconfig != "" {
		t.Errorf("Load read the process environment: Targets=%q Kubeconfig=%q", c.Targets, c.Kubeconfig)
	}
}

// checkInput checks v's action input: lower-case and hyphenated, named
// after the variable; FERRY_MODE has none.
func checkInput(t *testing.T, v Var, inputRE *regexp.Regexp) {
	t.Helper()
	if v.Name == "FERRY_MODE" {
		if v.Input != "" {
			t.Errorf("FERRY_MODE has input %q; it is not an action input", v.Input)
		}
		return
	}
	if !inputRE.MatchString(v.Input) {
		t.Errorf("%s: input %q is not lower-case and hyphenated", v.Name, v.Input)
	}
	if want := strings.ToLower(strings.ReplaceAll(strings.TrimPrefix(v.Name, "FERRY_"), "_", "-")); v.Input != want {
		t.Errorf("%s: input %q, want %q", v.Name, v.Input, want)
	}
}

func TestVars(t *testing.T) {
	vars := Vars()
	if len(vars) != len(fields)+1 {
		t.Fatalf("Vars() has %d entries, want %d", len(vars), len(fields)+1)
	}
	nameRE := regexp.MustCompile(`^FERRY_[A-Z][A-Z0-9_]*$`)
	inputRE := regexp.MustCompile(`^[a-z][a-z0-9]*(-[a-z0-9]+)*$`)
	seen := map[string]bool{}
	var secrets []string
	for _, v := range vars {
		if !nameRE.MatchString(v.Name) {
			t.Errorf("bad name %q", v.Name)
		}
		if seen[v.Name] {
			t.Errorf("%s listed twice", v.Name)
		}
		seen[v.Name] = true
		if len(v.Description) < 20 || !strings.HasSuffix(v.Description, ".") {
			t.Errorf("%s: description %q is missing or not a sentence", v.Name, v.Description)
		}
		checkInput(t, v, inputRE)
		if v.Name == "FERRY_MODE" {
			continue
		}
		if v.Secret {
			secrets = append(secrets, v.Name)
			if v.Example != "" || v.Default != "" {
				t.Errorf("secret %s shows an example or default", v.Name)
			}
		} else if v.Example == "" {
			t.Errorf("%s has no example", v.Name)
		}
	}
	if want := []string{"FERRY_KUBECONFIG_DATA", "FERRY_HEROKU_API_KEY", "FERRY_AZURE_CLIENT_SECRET", "FERRY_GITHUB_TOKEN"}; !slices.Equal(secrets, want) {
		t.Errorf("secrets = %v, want %v", secrets, want)
	}
	byName := map[string]Var{}
	for _, v := range vars {
		byName[v.Name] = v
	}
	if v := byName["FERRY_KUBECONFIG_DATA"]; v.Input != "kubeconfig-data" {
		t.Errorf("FERRY_KUBECONFIG_DATA input = %q", v.Input)
	}
	if byName["FERRY_KUBECONFIG"].Alias != "KUBECONFIG" || byName["FERRY_HEROKU_API_KEY"].Alias != "HEROKU_API_KEY" {
		t.Errorf("aliases missing: %+v %+v", byName["FERRY_KUBECONFIG"], byName["FERRY_HEROKU_API_KEY"])
	}
	if v := byName["FERRY_TIMEOUT"]; v.Default != "5m" {
		t.Errorf("FERRY_TIMEOUT default = %q", v.Default)
	}
}

// Every documented example and default is a value that validates.
func TestVarsExamplesAndDefaultsValidate(t *testing.T) {
	exampleFiles(t)
	for _, pick := range []string{"example", "default"} {
		environ := []string{"FERRY_HEROKU_API_KEY=key", "FERRY_KUBECONFIG_DATA=apiVersion: v1",
			// FERRY_GITHUB_ENVIRONMENT needs a token, a repository and a commit.
			"FERRY_GITHUB_TOKEN=token", "GITHUB_REPOSITORY=acme/shop", "GITHUB_SHA=0123abcd"}
		for _, v := range Vars() {
			val := v.Example
			if pick == "default" {
				val = v.Default
			}
			if v.Secret || val == "" {
				continue
			}
			environ = append(environ, v.Name+"="+val)
		}
		if pick == "default" {
			environ = append(environ, "FERRY_SOURCE=nginx", "FERRY_TARGETS=heroku:shop")
		}
		c, err := Load(environ)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Check(CommandPromote); err != nil {
			t.Errorf("%ss do not validate:\n%v", pick, err)
		}
	}
}

func TestSecrets(t *testing.T) {
	yaml := "apiVersion: v1\nkind: Config\nusers:\n- name: ci\n  user:\n    token: tok\n"
	b64 := base64.StdEncoding.EncodeToString([]byte(yaml))
	tests := []struct {
		environ []string
		want    []string
	}{
		{nil, nil},
		{[]string{"FERRY_TARGETS=heroku:shop", "FERRY_HEROKU_API_URL=https://api.heroku.com"}, nil},
		{[]string{"HEROKU_API_KEY=key-1"}, []string{"key-1"}},
		{[]string{"FERRY_KUBECONFIG_DATA=" + yaml}, []string{strings.TrimSpace(yaml)}},
		{[]string{"FERRY_KUBECONFIG_DATA=" + b64, "FERRY_HEROKU_API_KEY=key-2"}, []string{b64, strings.TrimSpace(yaml), "key-2"}},
		{[]string{"GITHUB_ACTIONS=true", "INPUT_HEROKU-API-KEY=key-3"}, []string{"key-3"}},
	}
	for _, tt := range tests {
		c, err := Load(tt.environ)
		if err != nil {
			t.Fatal(err)
		}
		if got := c.Secrets(); !slices.Equal(got, tt.want) {
			t.Errorf("Secrets() for %q = %q, want %q", tt.environ, got, tt.want)
		}
	}
}

// In Actions the runner passes each input's default; a FERRY_ variable set
// in the step's env still wins over an input that only carries its default,
// and an input set to anything else wins over FERRY_.
func TestLoadInputDefaultsDoNotHideFerryVariables(t *testing.T) {
	c, err := Load([]string{"GITHUB_ACTIONS=true", "INPUT_TIMEOUT=5m", "FERRY_TIMEOUT=12m", "INPUT_PARALLELISM=8", "FERRY_PARALLELISM=2"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Timeout.String() != "12m0s" {
		t.Errorf("Timeout = %s: the input's default hid FERRY_TIMEOUT", c.Timeout)
	}
	if c.Parallelism != 8 {
		t.Errorf("Parallelism = %d: an input set on purpose must win", c.Parallelism)
	}
}
