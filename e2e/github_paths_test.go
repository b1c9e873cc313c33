package e2e

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// Every way a run can end in GitHub Actions gives the workflow what it
// needs to react: the result and error outputs (so `if:` conditions on
// them work), a step summary and an ::error:: annotation, whichever step
// the run stopped at — settings, kubeconfig, cluster, Heroku, or the
// targets themselves.
func TestGitHubActionEveryFailureIsReported(t *testing.T) {
	t.Parallel()
	pns := namespace(t, production)
	create(t, production, pns, deploy{name: "web", containers: []corev1.Container{container("app", "registry.test/shop:v6")}})
	src := "registry.test/shop@" + fakeDigest(t.Name())
	dst := target(pns, "web", "production")
	withKube := func(kv ...string) map[string]string {
		w := map[string]string{"command": "promote", "source": src, "targets": dst, "kubeconfig-data": b64(kubeconfigData), "timeout": "60s"}
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] == "" {
				delete(w, kv[i])
				continue
			}
			w[kv[i]] = kv[i+1]
		}
		return w
	}
	cases := []struct {
		name   string
		with   map[string]string
		extra  env
		code   int
		result string
		error  string // a fragment of the error output
	}{
		{"a bad address", withKube("targets", "k8:"+pns+"/web"), nil, 2, "bad-input", `input "targets"`},
		{"a misspelt setting", withKube(), env{"FERRY_TIMOUT": "1s"}, 2, "bad-input", "did you mean FERRY_TIMEOUT?"},
		{"an unknown context", withKube("targets", target(pns, "web", "nope")), nil, 2, "bad-input", `context "nope" is not in the kubeconfig`},
		{"no kubeconfig at all", withKube("kubeconfig-data", ""), nil, 2, "bad-input", "no kubeconfig contexts found"},
		{"an exec plugin that is not installed", withKube("kubeconfig-data", b64(pluginKubeconfig(t, "ferry-no-such-plugin")), "targets", target(pns, "web", "plugin")),
			nil, 2, "bad-input", "ferry-no-such-plugin"},
		{"a source deployment that does not exist", withKube("source", "k8s:nosuch/web?context=staging"), nil, 2, "bad-input", "deployment nosuch/web not found"},
		{"a refused Heroku key", map[string]string{"command": "status", "targets": "heroku:" + herokuApp(t, "shop-paths") + "/web",
			"heroku-api-key": "hk-not-the-key", "heroku-api-url": emu.APIURL(), "heroku-registry": emu.RegistryHost()},
			nil, 2, "bad-input", "refused HEROKU_API_KEY"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := runAction(t, c.with, c.extra)
			if r.code != c.code {
				t.Fatalf("exit %d, want %d\n%s", r.code, c.code, r)
			}
			if r.outputs["result"] != c.result {
				t.Errorf("output result=%q, want %q", r.outputs["result"], c.result)
			}
			if e := r.outputs["error"]; !strings.Contains(e, c.error) || strings.Contains(e, "\n") {
				t.Errorf("output error=%q, want one line containing %q", e, c.error)
			}
			assertDeclaredOutputs(t, r.outputs)
			cmd := c.with["command"]
			if !strings.Contains(r.summary, "### ferry "+cmd+": "+c.result) || !strings.Contains(r.summary, c.error) {
				t.Errorf("step summary does not say %s and why:\n%s", c.result, r.summary)
			}
			if !strings.Contains(r.log, "::error::ferry "+cmd+": "+c.result+": ") {
				t.Errorf("no ::error:: annotation for %s:\n%s", c.result, r.log)
			}
			if c.with["kubeconfig-data"] == b64(kubeconfigData) {
				assertMasksFirst(t, r.log, kubeSecrets(t))
			}
		})
	}
	if m := mutations(t, production, pns); len(m) != 0 {
		t.Fatalf("a failed run wrote to production: %v", m)
	}
}

// pluginKubeconfig is the test kubeconfig plus a context "plugin" whose
// user gets its credentials from the exec plugin command.
func pluginKubeconfig(t *testing.T, command string) []byte {
	t.Helper()
	cfg, err := clientcmd.Load(kubeconfigData)
	if err != nil {
		t.Fatal(err)
	}
	cfg.AuthInfos["plugin"] = &clientcmdapi.AuthInfo{Exec: &clientcmdapi.ExecConfig{
		APIVersion: "client.authentication.k8s.io/v1beta1", Command: command, InteractiveMode: clientcmdapi.NeverExecInteractiveMode,
	}}
	cfg.Contexts["plugin"] = &clientcmdapi.Context{Cluster: cfg.Contexts["production"].Cluster, AuthInfo: "plugin"}
	b, err := clientcmd.Write(*cfg)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
