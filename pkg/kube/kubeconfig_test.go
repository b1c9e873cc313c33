package kube

import (
	"context"
	"strings"
	"testing"

	"github.com/ferry-dev/ferry/pkg/cloud/kubeauth"
	"github.com/ferry-dev/ferry/pkg/promote"
)

// kubeconfig is a one-context kubeconfig; user is the YAML of its user.
func kubeconfig(server, cluster, user string) string {
	return `apiVersion: v1
kind: Config
clusters:
- name: prod
  cluster: {server: "` + server + `"}
contexts:
- name: prod
  context: {cluster: ` + cluster + `, user: prod}
current-context: prod
users:
- name: prod
  user:
` + user
}

const tokenUser = "    token: abcdefgh\n"

// CheckContext finds, before any API call, what would otherwise fail at
// the first one: all of these are input errors (exit 2).
func TestCheckContext(t *testing.T) {
	cases := []struct {
		name, data, context, want string
	}{
		{"good", kubeconfig("https://127.0.0.1:6443", "prod", tokenUser), "prod", ""},
		{"current context", kubeconfig("https://127.0.0.1:6443", "prod", tokenUser), "", ""},
		{"installed plugin", kubeconfig("https://127.0.0.1:6443", "prod",
			"    exec: {apiVersion: client.authentication.k8s.io/v1, command: sh, interactiveMode: Never}\n"), "prod", ""},
		{"unknown context", kubeconfig("https://127.0.0.1:6443", "prod", tokenUser), "staging", `context "staging" is not in the kubeconfig (it has: prod)`},
		{"undefined cluster", kubeconfig("https://127.0.0.1:6443", "gone", tokenUser), "prod", `context "prod" names cluster "gone", which the kubeconfig does not define`},
		{"server without scheme", kubeconfig("127.0.0.1:6443", "prod", tokenUser), "prod", `cluster "prod" has server "127.0.0.1:6443", which is not an https:// URL`},
		{"server of another scheme", kubeconfig("ftp://127.0.0.1:6443", "prod", tokenUser), "prod", `has server "ftp://127.0.0.1:6443"`},
		{"plugin not installed", kubeconfig("https://127.0.0.1:6443", "prod",
			"    exec: {apiVersion: client.authentication.k8s.io/v1, command: no-such-credential-plugin-4711, interactiveMode: Never}\n"), "prod",
			`user "prod": credential plugin "no-such-credential-plugin-4711" is not installed where ferry runs (not found in PATH), and ferry cannot stand in for it`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := NewClients(Kubeconfig{Data: c.data, Credentials: &kubeauth.Resolver{}}).CheckContext(context.Background(), c.context)
			if c.want == "" {
				if err != nil {
					t.Fatalf("CheckContext: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("CheckContext = %v, want %q", err, c.want)
			}
			if !promote.IsInput(err) {
				t.Errorf("%v is not an input error", err)
			}
		})
	}
}

// In CI the current context is whatever an earlier step left: an address
// without ?context= is refused when there is more than one to choose from.
func TestCheckContextInCI(t *testing.T) {
	two := strings.Replace(kubeconfig("https://127.0.0.1:6443", "prod", tokenUser), "current-context: prod", `- name: staging
  context: {cluster: prod, user: prod}
current-context: prod`, 1)
	ci := NewClients(Kubeconfig{Data: two, RequireContext: true})
	err := ci.CheckContext(context.Background(), "")
	if !promote.IsInput(err) || !strings.Contains(err.Error(), "add ?context=NAME to the address (the kubeconfig has: prod, staging)") {
		t.Fatalf("CheckContext in CI = %v", err)
	}
	if err := ci.CheckContext(context.Background(), "staging"); err != nil {
		t.Errorf("a named context in CI: %v", err)
	}
	if err := NewClients(Kubeconfig{Data: two}).CheckContext(context.Background(), ""); err != nil {
		t.Errorf("the current context on a laptop: %v", err)
	}
	one := NewClients(Kubeconfig{Data: kubeconfig("https://127.0.0.1:6443", "prod", tokenUser), RequireContext: true})
	if err := one.CheckContext(context.Background(), ""); err != nil {
		t.Errorf("the only context in CI: %v", err)
	}
}
