package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestRun(t *testing.T) {
	cases := []struct {
		name    string
		args    []string
		environ []string
		code    int
		stdout  []string
		stderr  []string
	}{
		{name: "version", args: []string{"version"}, code: 0, stdout: []string{"ferry ", "linux/"}},
		{name: "--version", args: []string{"--version"}, code: 0, stdout: []string{"ferry ", "linux/"}},
		{name: "no command", code: 2, stderr: []string{"Usage:", "no command given"}},
		{name: "help", args: []string{"help"}, code: 0, stdout: []string{"ferry promote", "Exit codes", "ferry COMMAND -h"}},
		{name: "--help", args: []string{"--help"}, code: 0, stdout: []string{"ferry promote", "Exit codes"}},
		{name: "-h", args: []string{"-h"}, code: 0, stdout: []string{"ferry promote", "Exit codes"}},
		{name: "help of a command", args: []string{"help", "plan"}, code: 0, stdout: []string{"ferry plan:", "-source"}},
		{name: "command help", args: []string{"rollback", "-h"}, code: 0, stdout: []string{"-to-revision", "Example:", "-timeout"}},
		{name: "command --help", args: []string{"promote", "--help"}, code: 0, stdout: []string{"ferry promote:", "-source", "-timeout"}},
		{name: "unknown variable", args: []string{"status"}, environ: []string{"FERRY_TARGETS=k8s:shop/web", "FERRY_TIMOUT=1s"}, code: 2,
			stderr: []string{"FERRY_TIMOUT: not a setting of ferry's: did you mean FERRY_TIMEOUT?"}, stdout: []string{"status bad-input"}},
		{name: "json report on bad input", args: []string{"status", "-o", "json"}, code: 2,
			stdout: []string{`"result": "bad-input"`, `"error": "bad configuration, nothing was changed:`, `"version": 1`}},
		{name: "unknown command", args: []string{"deploy"}, code: 2, stderr: []string{`unknown command "deploy"`}},
		{name: "promote without settings", args: []string{"promote"}, code: 2, stderr: []string{"FERRY_SOURCE: required", "FERRY_TARGETS: required", "nothing was changed"}},
		{name: "status needs only targets", args: []string{"status"}, code: 2, stderr: []string{"FERRY_TARGETS: required"}},
		{name: "command from the action input", environ: []string{"GITHUB_ACTIONS=true", "INPUT_COMMAND=plan"}, code: 2, stderr: []string{"INPUT_SOURCE", `"plan"`}},
		{name: "stray argument", args: []string{"promote", "prod"}, code: 2, stderr: []string{`unexpected argument "prod"`}},
		{name: "bad flag", args: []string{"promote", "--timeout", "soon"}, code: 2, stderr: []string{"invalid value", "ferry promote -h"}},
		{name: "flag of another command", args: []string{"plan", "--to-revision", "3"}, code: 2, stderr: []string{"flag provided but not defined: -to-revision"}},
		{name: "env", args: []string{"env"}, code: 0, stdout: []string{"FERRY_SOURCE", "FERRY_KUBECONFIG_DATA", "[secret]"}},
		{name: "unknown context", args: []string{"plan"}, environ: []string{
			"FERRY_SOURCE=ghcr.io/acme/shop:1", "FERRY_TARGETS=k8s:shop/web?context=nope",
			"FERRY_KUBECONFIG_DATA=apiVersion: v1\nkind: Config\nclusters: []\ncontexts:\n- name: prod\n  context: {cluster: prod, user: prod}\ncurrent-context: prod\n"},
			code: 2, stderr: []string{`context "nope" is not in the kubeconfig (it has: prod)`}, stdout: []string{"plan bad-input", `error: k8s:shop/web?context=nope: context "nope"`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(context.Background(), c.args, c.environ, &out, &errb)
			if code != c.code {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", code, c.code, out.String(), errb.String())
			}
			for _, w := range c.stdout {
				if !strings.Contains(out.String(), w) {
					t.Errorf("stdout lacks %q:\n%s", w, out.String())
				}
			}
			for _, w := range c.stderr {
				if !strings.Contains(errb.String(), w) {
					t.Errorf("stderr lacks %q:\n%s", w, errb.String())
				}
			}
		})
	}
}

// Each command's help lists its own flags and no other's.
func TestCommandHelpListsOnlyItsFlags(t *testing.T) {
	not := map[string][]string{
		"plan":     {"-timeout", "-to-revision"},
		"status":   {"-source", "-timeout", "-to-revision"},
		"promote":  {"-to-revision"},
		"rollback": {"-source"},
	}
	for cmd, absent := range not {
		var out, errb bytes.Buffer
		if code := run(context.Background(), []string{cmd, "-h"}, nil, &out, &errb); code != 0 || errb.Len() > 0 {
			t.Errorf("%s -h: exit %d, stderr %q", cmd, code, errb.String())
		}
		for _, f := range absent {
			if strings.Contains(out.String(), "  "+f+" ") {
				t.Errorf("%s -h lists %s:\n%s", cmd, f, out.String())
			}
		}
	}
}
