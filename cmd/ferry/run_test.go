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
		{name: "no command", code: 2, stdout: []string{"Usage:"}},
		{name: "help", args: []string{"help"}, code: 0, stdout: []string{"ferry promote", "Exit codes"}},
		{name: "command help", args: []string{"rollback", "-h"}, code: 0, stderr: []string{"--to-revision", "Example:"}},
		{name: "unknown command", args: []string{"deploy"}, code: 2, stderr: []string{`unknown command "deploy"`}},
		{name: "promote without settings", args: []string{"promote"}, code: 2, stderr: []string{"FERRY_SOURCE: required", "FERRY_TARGETS: required", "nothing was changed"}},
		{name: "status needs only targets", args: []string{"status"}, code: 2, stderr: []string{"FERRY_TARGETS: required"}},
		{name: "command from the action input", environ: []string{"GITHUB_ACTIONS=true", "INPUT_COMMAND=plan"}, code: 2, stderr: []string{"INPUT_SOURCE", `"plan"`}},
		{name: "stray argument", args: []string{"promote", "prod"}, code: 2, stderr: []string{`unexpected argument "prod"`}},
		{name: "bad flag", args: []string{"promote", "--timeout", "soon"}, code: 2, stderr: []string{"invalid value"}},
		{name: "env", args: []string{"env"}, code: 0, stdout: []string{"FERRY_SOURCE", "FERRY_KUBECONFIG_DATA", "[secret]"}},
		{name: "unknown context", args: []string{"plan"}, environ: []string{
			"FERRY_SOURCE=ghcr.io/acme/shop:1", "FERRY_TARGETS=k8s:shop/web?context=nope",
			"FERRY_KUBECONFIG_DATA=apiVersion: v1\nkind: Config\nclusters: []\ncontexts:\n- name: prod\n  context: {cluster: prod, user: prod}\ncurrent-context: prod\n"},
			code: 2, stderr: []string{`context "nope" is not in the kubeconfig (it has: prod)`}},
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
