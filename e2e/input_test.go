package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/types"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/ferry-dev/ferry/internal/testenv"
	"github.com/ferry-dev/ferry/internal/testenv/herokuemu"
	"github.com/ferry-dev/ferry/pkg/heroku"
)

// The hostile and wrong input suite: every bad setting, address or
// credential ends in exit 2 with a message that names what is wrong and
// how to fix it, before ferry writes anything anywhere.

// kubeconfigWith writes a kubeconfig for the production cluster under
// context name, changed by edit, and returns its path.
func kubeconfigWith(t *testing.T, name string, edit func(c *clientcmdapi.Config)) string {
	t.Helper()
	cfg, err := clientcmd.Load(testenv.Kubeconfig(map[string]*testenv.Cluster{name: production}))
	if err != nil {
		t.Fatal(err)
	}
	edit(cfg)
	b, err := clientcmd.Write(*cfg)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "kubeconfig-"+strings.NewReplacer("/", "-", ":", "-").Replace(name))
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestInputBadConfigurationChangesNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	sns, _ := stagingApp(t, "registry.test/shop", "v2")
	pns := namespace(t, production)
	create(t, production, pns, deploy{name: "web", containers: []corev1.Container{container("app", "registry.test/shop:v1")}})
	create(t, production, pns, deploy{name: "multi", containers: []corev1.Container{
		container("app", "registry.test/shop:v1"), container("proxy", "registry.test/envoy:1.30")}})
	create(t, production, pns, deploy{name: "held", paused: true, containers: []corev1.Container{container("app", "registry.test/shop:v1")}})
	img := push(t, "acme/input", "v1", nil)
	e := ownEmulator(t, herokuemu.Options{})
	app := ownApp(t, e, "input-prod")
	seedOn(t, e, app, nil, "web")
	if _, err := e.CreateApp("input-legacy", "heroku-24"); err != nil {
		t.Fatal(err)
	}
	e.AddKey(herokuKey, "input-legacy")
	emuBefore := len(e.Mutations())
	writes := func() []testenv.AuditEvent { return ferryWrites(ctx, t, sns, pns) }
	before := len(writes())

	src := "k8s:" + sns + "/web?context=staging"
	dst := target(pns, "web", "production")
	good := baseEnv().with("FERRY_SOURCE", src, "FERRY_TARGETS", dst)
	hk := emuEnv(e).with("FERRY_SOURCE", img.ref())

	kc := badKubeconfigs(t)
	execPlugin, noCurrent, danglingCluster, missingTokenFile, missingCert, badServer, notYAML := kc.execPlugin, kc.noCurrent, kc.danglingCluster, kc.missingTokenFile, kc.missingCert, kc.badServer, kc.notYAML

	cases := []inputCase{
		// Nothing, or half of it.
		{"nothing set", env{}, nil, []string{"FERRY_SOURCE: required", "FERRY_TARGETS: required", "for example"}},
		{"no source", baseEnv().with("FERRY_TARGETS", dst), nil, []string{"FERRY_SOURCE: required", "for example FERRY_SOURCE="}},
		{"no targets", baseEnv().with("FERRY_SOURCE", src), nil, []string{"FERRY_TARGETS: required", "for example FERRY_TARGETS="}},
		{"blank targets", good.with("FERRY_TARGETS", " \n\t "), nil, []string{"FERRY_TARGETS: required"}},
		{"two sources", good.with("FERRY_SOURCE", src+" "+src), nil, []string{"FERRY_SOURCE", "one address"}},
		// Malformed references and addresses.
		{"malformed image reference", good.with("FERRY_SOURCE", "registry.test/shop:::v1"), nil, []string{"FERRY_SOURCE", "for example"}},
		{"bad digest", good.with("FERRY_SOURCE", "registry.test/shop@sha256:xyz"), nil, []string{"FERRY_SOURCE", "for example"}},
		{"upper-case repository", good.with("FERRY_SOURCE", "registry.test/Shop:v1"), nil, []string{"FERRY_SOURCE"}},
		{"unknown scheme", good.with("FERRY_TARGETS", "k9s:"+pns+"/web"), nil, []string{"FERRY_TARGETS", "k8s:"}},
		{"URL as a target", good.with("FERRY_TARGETS", "https://example.com/web"), nil, []string{"FERRY_TARGETS", "k8s:NAMESPACE/DEPLOYMENT"}},
		{"k8s without deployment", good.with("FERRY_TARGETS", "k8s:"+pns), nil, []string{"FERRY_TARGETS", "for example k8s:"}},
		{"k8s with nothing", good.with("FERRY_TARGETS", "k8s:"), nil, []string{"FERRY_TARGETS", "for example k8s:"}},
		{"unknown option", good.with("FERRY_TARGETS", "k8s:"+pns+"/web?contxt=production"), nil, []string{"FERRY_TARGETS", "contxt"}},
		{"image reference as a target", good.with("FERRY_TARGETS", "registry.test/shop:v1"), nil, []string{"FERRY_TARGETS", "image reference"}},
		{"heroku without app", good.with("FERRY_TARGETS", "heroku:"), nil, []string{"FERRY_TARGETS", "for example heroku:"}},
		{"address 64 KiB long", good.with("FERRY_TARGETS", "k8s:"+pns+"/"+strings.Repeat("w", 64<<10)), nil, []string{"FERRY_TARGETS"}},
		{"duplicate targets", good.with("FERRY_TARGETS", dst+" "+dst), nil, []string{"FERRY_TARGETS", "name the same Deployment"}},
		{"duplicate heroku app", hk.with("FERRY_TARGETS", "heroku:"+app+"/web heroku:"+app+"/worker"), nil, []string{"FERRY_TARGETS", "name the same Heroku app", "heroku:" + app + "/web,worker"}},
		{"duplicate process type", hk.with("FERRY_TARGETS", "heroku:"+app+"/web,web"), nil, []string{"web"}},
		{"source is a target", good.with("FERRY_SOURCE", dst), nil, []string{"FERRY_TARGETS", "is also the source (FERRY_SOURCE)"}},
		{"heroku source is a target", hk.with("FERRY_SOURCE", "heroku:"+app+"/web", "FERRY_TARGETS", "heroku:"+app), nil, []string{"FERRY_TARGETS", "is also the source"}},
		// Health checks.
		{"health URL with a bad scheme", good.with("FERRY_TARGETS", dst+"&health=ftp://shop.example.com/healthz"), nil, []string{"FERRY_TARGETS", "http(s)"}},
		{"health URL with credentials", good.with("FERRY_TARGETS", dst+"&health=https://user:pw@shop.example.com/healthz"), nil, []string{"FERRY_TARGETS", "password"}},
		{"k8s health path without host", good.with("FERRY_TARGETS", dst+"&health=/healthz"), nil, []string{"FERRY_TARGETS", "whole http(s) URL"}},
		{"health on the source", good.with("FERRY_SOURCE", src+"&health=https://x.example/"), nil, []string{"FERRY_SOURCE", "targets only"}},
		{"bad health status", good.with("FERRY_HEALTH_STATUS", "abc"), nil, []string{"FERRY_HEALTH_STATUS", "for example"}},
		{"bad health body", good.with("FERRY_HEALTH_BODY", "(unclosed"), nil, []string{"FERRY_HEALTH_BODY", "regular expression"}},
		{"health interval beyond timeout", good.with("FERRY_HEALTH_INTERVAL", "5m", "FERRY_HEALTH_TIMEOUT", "1m"), nil, []string{"FERRY_HEALTH_INTERVAL", "longer than the health timeout"}},
		{"health threshold zero", good.with("FERRY_HEALTH_THRESHOLD", "0"), nil, []string{"FERRY_HEALTH_THRESHOLD", "1 to 100"}},
		// Timeouts and numbers.
		{"negative timeout", good.with("FERRY_TIMEOUT", "-5m"), nil, []string{"FERRY_TIMEOUT", "more than 0"}},
		{"absurd timeout", good.with("FERRY_TIMEOUT", "1000h"), nil, []string{"FERRY_TIMEOUT", "at most 6h"}},
		{"timeout not a duration", good.with("FERRY_TIMEOUT", "soon"), nil, []string{"FERRY_TIMEOUT", "not a duration"}},
		{"zero restore timeout", good.with("FERRY_RESTORE_TIMEOUT", "0s"), nil, []string{"FERRY_RESTORE_TIMEOUT", "more than 0"}},
		{"parallelism zero", good.with("FERRY_PARALLELISM", "0"), nil, []string{"FERRY_PARALLELISM", "1 to 64"}},
		{"parallelism absurd", good.with("FERRY_PARALLELISM", "100000"), nil, []string{"FERRY_PARALLELISM", "1 to 64"}},
		{"parallelism not a number", good.with("FERRY_PARALLELISM", "four"), nil, []string{"FERRY_PARALLELISM", "whole number"}},
		{"resolve-tags not a boolean", good.with("FERRY_RESOLVE_TAGS", "maybe"), nil, []string{"FERRY_RESOLVE_TAGS", "true or false"}},
		// Choices.
		{"unknown output", good.with("FERRY_OUTPUT", "xml"), nil, []string{"FERRY_OUTPUT", "text, json"}},
		{"unknown pause policy", good.with("FERRY_ON_PAUSED", "maybe"), nil, []string{"FERRY_ON_PAUSED", "refuse, resume"}},
		{"unknown mode", good.with("FERRY_MODE", "jenkins"), nil, []string{"FERRY_MODE", "github, circleci or local"}},
		{"bad platform", hk.with("FERRY_TARGETS", "heroku:"+app, "FERRY_PLATFORM", "amd64"), nil, []string{"FERRY_PLATFORM", "OS/ARCH"}},
		{"Heroku API URL not http", hk.with("FERRY_TARGETS", "heroku:"+app, "FERRY_HEROKU_API_URL", "ftp://api.heroku.com"), nil, []string{"FERRY_HEROKU_API_URL", "https://api.heroku.com"}},
		{"Heroku API URL with credentials", hk.with("FERRY_TARGETS", "heroku:"+app, "FERRY_HEROKU_API_URL", "https://me:hunter22@api.heroku.com"), nil, []string{"FERRY_HEROKU_API_URL", "without credentials"}},
		{"Heroku registry with a path", hk.with("FERRY_TARGETS", "heroku:"+app, "FERRY_HEROKU_REGISTRY", "https://registry.heroku.com/v2"), nil, []string{"FERRY_HEROKU_REGISTRY", "HOST:PORT"}},
		// Commands and flags.
		{"unknown command", good, []string{"promte"}, []string{`unknown command "promte"`, "promote"}},
		{"stray argument", good, []string{"promote", "production"}, []string{`unexpected argument "production"`}},
		{"bad flag value", good, []string{"promote", "--timeout", "soon"}, []string{"invalid value", "timeout"}},
		{"rollback to a revision that is no number", good.with("FERRY_TARGETS", dst), []string{"rollback", "--to-revision", "latest"}, []string{"revision", "such as 3"}},
		{"rollback to a revision that does not exist", good.with("FERRY_TARGETS", dst), []string{"rollback", "--to-revision", "99"}, []string{"revision 99", "history"}},
		{"status of a bad address", baseEnv().with("FERRY_TARGETS", "k8s:/web"), []string{"status"}, []string{"FERRY_TARGETS"}},
		// GitHub Actions names the input, not the variable.
		{"github input", env{"GITHUB_ACTIONS": "true", "INPUT_SOURCE": src, "INPUT_TARGETS": "k9s:x/y", "INPUT_KUBECONFIG": kubeconfigPath}, nil, []string{`INPUT_TARGETS (input "targets")`, "k8s:NAMESPACE/DEPLOYMENT"}},
		{"github input timeout", env{"GITHUB_ACTIONS": "true", "INPUT_SOURCE": src, "INPUT_TARGETS": dst, "INPUT_KUBECONFIG": kubeconfigPath, "INPUT_TIMEOUT": "-1s"}, nil, []string{"INPUT_TIMEOUT", `input "timeout"`}},
		// Kubernetes credentials and contexts.
		{"unknown context", good.with("FERRY_TARGETS", target(pns, "web", "prod-typo")), nil, []string{`"prod-typo"`, "it has:", "production"}},
		{"bad base64 kubeconfig", env{"FERRY_KUBECONFIG_DATA": "%%%not-base64%%%", "FERRY_SOURCE": src, "FERRY_TARGETS": dst}, nil, []string{"FERRY_KUBECONFIG_DATA", "base64"}},
		{"base64 of garbage", env{"FERRY_KUBECONFIG_DATA": b64([]byte("\x00\x01\x02 garbage")), "FERRY_SOURCE": src, "FERRY_TARGETS": dst}, nil, []string{"FERRY_KUBECONFIG_DATA", "base64 -w0"}},
		{"kubeconfig file missing", good.with("KUBECONFIG", "/nonexistent/kubeconfig"), nil, []string{"/nonexistent/kubeconfig", "KUBECONFIG"}},
		{"kubeconfig file not YAML", good.with("KUBECONFIG", notYAML), nil, []string{notYAML}},
		{"exec plugin not installed", baseEnv().with("KUBECONFIG", execPlugin, "FERRY_SOURCE", img.ref(), "FERRY_TARGETS", dst), nil, []string{"ferry-test-credential-plugin-not-installed", "not installed", "PATH"}},
		{"no current context", baseEnv().with("KUBECONFIG", noCurrent, "FERRY_SOURCE", img.ref(), "FERRY_TARGETS", "k8s:"+pns+"/web"), nil, []string{"current context", "?context="}},
		{"context names a missing cluster", baseEnv().with("KUBECONFIG", danglingCluster, "FERRY_SOURCE", img.ref(), "FERRY_TARGETS", dst), nil, []string{`context "production" names cluster "gone"`, "does not define"}},
		{"token file missing", baseEnv().with("KUBECONFIG", missingTokenFile, "FERRY_SOURCE", img.ref(), "FERRY_TARGETS", dst), nil, []string{`"production"`, "no-such-token"}},
		{"client certificate missing", baseEnv().with("KUBECONFIG", missingCert, "FERRY_SOURCE", img.ref(), "FERRY_TARGETS", dst), nil, []string{`"production"`, "/nonexistent/client.crt"}},
		{"server not http", baseEnv().with("KUBECONFIG", badServer, "FERRY_SOURCE", img.ref(), "FERRY_TARGETS", dst), nil, []string{`context "production"`, `"ftp://127.0.0.1:1"`, "https://"}},
		// Deployments that cannot take the image.
		{"ambiguous container", good.with("FERRY_TARGETS", target(pns, "multi", "production")), nil, []string{"has 2 containers (app, proxy)", "?container=NAME"}},
		{"missing container", good.with("FERRY_TARGETS", target(pns, "multi", "production")+"&container=sidecar"), nil, []string{`no container "sidecar"`, "it has: app, proxy"}},
		{"unknown deployment", good.with("FERRY_TARGETS", target(pns, "nope", "production")), nil, []string{pns + "/nope not found", `"production"`}},
		{"unknown namespace", good.with("FERRY_TARGETS", target("no-such-namespace", "web", "production")), nil, []string{"no-such-namespace/web not found"}},
		{"paused deployment", good.with("FERRY_TARGETS", target(pns, "held", "production")), nil, []string{"paused", "FERRY_ON_PAUSED=resume"}},
		{"unknown source deployment", good.with("FERRY_SOURCE", "k8s:"+sns+"/nope?context=staging"), nil, []string{sns + "/nope not found"}},
		// Heroku apps and keys.
		{"heroku app not on the container stack", hk.with("FERRY_TARGETS", "heroku:input-legacy"), nil, []string{"heroku-24 stack", "heroku stack:set container -a input-legacy"}},
		{"unknown heroku app", hk.with("FERRY_TARGETS", "heroku:no-such-app"), nil, []string{"no-such-app", "no such app"}},
		{"heroku without a key", hk.with("FERRY_TARGETS", "heroku:"+app, "HEROKU_API_KEY", ""), nil, []string{"HEROKU_API_KEY", "heroku authorizations:create"}},
		{"wrong heroku key", hk.with("FERRY_TARGETS", "heroku:"+app, "HEROKU_API_KEY", "hk-wrong-0123456789"), nil, []string{"HEROKU_API_KEY", "authorizations:create"}},
		{"heroku source app unknown", hk.with("FERRY_SOURCE", "heroku:no-such-app/web", "FERRY_TARGETS", "heroku:"+app), nil, []string{"no-such-app"}},
	}
	if len(cases) < 40 {
		t.Fatalf("only %d cases", len(cases))
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { runBadInput(t, c) })
	}
	if w := writes(); len(w) != before {
		t.Errorf("bad input made %d writes to Kubernetes: %v", len(w)-before, w[before:])
	}
	if m := withoutRecords(e.Mutations()[emuBefore:]); len(m) != 0 {
		t.Errorf("bad input made %d changes on Heroku: %v", len(m), m)
	}
	t.Logf("%d bad inputs, each exit 2, no writes", len(cases))
}

// inputCase is one bad configuration.
type inputCase struct {
	name string
	env  env
	args []string // default: promote
	want []string
}

// runBadInput runs c: exit 2, and an output that says c.want and no
// secret.
func runBadInput(t *testing.T, c inputCase) {
	t.Helper()
	args := c.args
	if args == nil {
		args = []string{"promote"}
	}
	var r result
	if c.env["GITHUB_ACTIONS"] == "true" {
		r = ferryRaw(t, c.env, args...)
		r.stdout, _ = withoutMasks(r.stdout)
		for _, s := range secrets {
			if strings.Contains(r.stdout+r.stderr, s) {
				t.Errorf("a secret (%d bytes) appears in ferry's output", len(s))
			}
		}
	} else {
		r = ferry(t, c.env, args...)
	}
	if r.code != 2 {
		t.Errorf("want exit 2\n%s", r)
	}
	out := r.stdout + r.stderr
	for _, w := range c.want {
		if !strings.Contains(out, w) {
			t.Errorf("output does not say %q", w)
		}
	}
	if strings.Contains(out, "hunter22") {
		t.Errorf("a password from the configuration was printed")
	}
}

// ferryWrites are the writes by user "ferry" to namespaces sns and pns,
// or to no namespace at all, in either cluster.
func ferryWrites(ctx context.Context, t *testing.T, sns, pns string) []testenv.AuditEvent {
	t.Helper()
	var out []testenv.AuditEvent
	for _, c := range []*testenv.Cluster{staging, production} {
		m, err := c.Mutations(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range m {
			if ev.Resource == "leases" {
				continue // ferry's lock and record, not a change to a workload (see mutations)
			}
			if ev.Namespace == sns || ev.Namespace == pns || ev.Namespace == "" {
				out = append(out, ev)
			}
		}
	}
	return out
}

// badKubeconfigFiles are kubeconfig files with one thing wrong each.
type badKubeconfigFiles struct {
	execPlugin, noCurrent, danglingCluster, missingTokenFile, missingCert, badServer, notYAML string
}

func badKubeconfigs(t *testing.T) badKubeconfigFiles {
	t.Helper()
	var k badKubeconfigFiles
	k.execPlugin = kubeconfigWith(t, "production", func(c *clientcmdapi.Config) {
		c.AuthInfos["production"] = &clientcmdapi.AuthInfo{Exec: &clientcmdapi.ExecConfig{
			APIVersion: "client.authentication.k8s.io/v1", Command: "ferry-test-credential-plugin-not-installed",
			Args: []string{"token"}, InteractiveMode: clientcmdapi.NeverExecInteractiveMode,
		}}
	})
	k.noCurrent = kubeconfigWith(t, "production", func(c *clientcmdapi.Config) { c.CurrentContext = "" })
	k.danglingCluster = kubeconfigWith(t, "production", func(c *clientcmdapi.Config) { c.Contexts["production"].Cluster = "gone" })
	k.missingTokenFile = kubeconfigWith(t, "production", func(c *clientcmdapi.Config) {
		c.AuthInfos["production"] = &clientcmdapi.AuthInfo{TokenFile: filepath.Join(t.TempDir(), "no-such-token")}
	})
	k.missingCert = kubeconfigWith(t, "production", func(c *clientcmdapi.Config) {
		c.AuthInfos["production"] = &clientcmdapi.AuthInfo{ClientCertificate: "/nonexistent/client.crt", ClientKey: "/nonexistent/client.key"}
	})
	k.badServer = kubeconfigWith(t, "production", func(c *clientcmdapi.Config) { c.Clusters["production"].Server = "ftp://127.0.0.1:1" })
	k.notYAML = filepath.Join(t.TempDir(), "kubeconfig-garbage")
	if err := os.WriteFile(k.notYAML, []byte("\x00\x01 this is : not [ a kubeconfig"), 0o600); err != nil {
		t.Fatal(err)
	}
	return k
}

// countingWriter counts the bytes written through it.
type countingWriter struct {
	w http.ResponseWriter
	n *atomic.Int64
}

func (c countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n.Add(int64(n))
	return n, err
}

// endless streams chunks of b, flushing each, until the client leaves.
func endless(w http.ResponseWriter, r *http.Request, b []byte, sent *atomic.Int64, pause time.Duration) {
	f, _ := w.(http.Flusher)
	cw := countingWriter{w: w, n: sent}
	for r.Context().Err() == nil {
		if _, err := cw.Write(b); err != nil {
			return
		}
		if f != nil {
			f.Flush()
		}
		if pause > 0 {
			time.Sleep(pause)
		}
	}
}

// logTail logs a run whose output is too large to log whole.
func logTail(t *testing.T, r result) {
	t.Helper()
	tail := func(s string) string {
		if len(s) > 3000 {
			return fmt.Sprintf("[%d bytes]...\n%s", len(s), s[len(s)-3000:])
		}
		return s
	}
	t.Logf("exit %d\n--- stdout\n%s\n--- stderr\n%s", r.code, tail(r.stdout), tail(r.stderr))
}

// Hostile health endpoints: a body that never ends (a "1 GB" stream), and
// an endpoint that never answers. ferry reads a bounded prefix of each
// probe, gives up within FERRY_HEALTH_TIMEOUT, and its memory stays flat.
func TestInputHostileHealthEndpoints(t *testing.T) {
	t.Parallel()
	var sent atomic.Int64
	chunk := []byte(strings.Repeat("0123456789abcdef", 4096)) // 64 KiB
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/endless":
			w.WriteHeader(http.StatusOK)
			endless(w, r, chunk, &sent, 0)
		case "/hang":
			<-r.Context().Done()
		}
	}))
	t.Cleanup(srv.Close)
	src := "registry.test/shop@" + fakeDigest(t.Name())
	cases := []struct {
		name   string
		path   string
		env    []string
		code   int
		within time.Duration
		want   string
	}{
		{"endless body and status is enough", "/endless", nil, 0, 30 * time.Second, "passed"},
		{"endless body never matches", "/endless", []string{"FERRY_HEALTH_BODY", "^never$", "FERRY_HEALTH_TIMEOUT", "8s"}, 1, 40 * time.Second, "health check failed"},
		{"endpoint never answers", "/hang", []string{"FERRY_HEALTH_TIMEOUT", "5s"}, 1, 40 * time.Second, "not healthy within 5s"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			pns := namespace(t, production)
			before := create(t, production, pns, deploy{name: "web", containers: []corev1.Container{container("app", "registry.test/shop:v1")}})
			rs := activeReplicaSet(t, production.Admin, before).Name
			sent.Store(0)
			e := baseEnv().with(append([]string{"FERRY_SOURCE", src,
				"FERRY_TARGETS", target(pns, "web", "production") + "&health=" + srv.URL + c.path,
				"FERRY_HEALTH_INTERVAL", "200ms", "FERRY_HEALTH_THRESHOLD", "3"}, c.env...)...)
			r, hwm, _, took := runWatched(t, e, []string{"promote"})
			t.Logf("exit %d in %s; peak RSS %d MiB; the endpoint sent %d MiB", r.code, took.Round(time.Millisecond), hwm>>10, sent.Load()>>20)
			if r.code != c.code || !strings.Contains(r.stdout+r.stderr, c.want) {
				t.Fatalf("want exit %d saying %q\n%s", c.code, c.want, r)
			}
			if took > c.within {
				t.Errorf("took %s, want at most %s", took, c.within)
			}
			if hwm > 200<<10 {
				t.Errorf("peak RSS %d MiB", hwm>>10)
			}
			if c.code == 1 {
				assertRestored(t, before, rs)
			}
		})
	}
}

// hugeManifestRegistry serves one image whose manifest lists n layers
// (none of which exists) and counts what it sends.
func hugeManifestRegistry(t *testing.T, n int) (ref string, sent *atomic.Int64) {
	t.Helper()
	sent = &atomic.Int64{}
	config := []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]},"config":{}}`)
	cfgDigest := fmt.Sprintf("sha256:%x", sha256.Sum256(config))
	var b strings.Builder
	fmt.Fprintf(&b, `{"schemaVersion":2,"mediaType":"%s","config":{"mediaType":"%s","size":%d,"digest":"%s"},"layers":[`,
		types.DockerManifestSchema2, types.DockerConfigJSON, len(config), cfgDigest)
	for i := range n {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"mediaType":"%s","size":1024,"digest":"sha256:%064x"}`, types.DockerLayer, i)
	}
	b.WriteString("]}")
	manifest := []byte(b.String())
	mDigest := fmt.Sprintf("sha256:%x", sha256.Sum256(manifest))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cw := countingWriter{w: w, n: sent}
		switch {
		case r.URL.Path == "/v2/":
			w.WriteHeader(http.StatusOK)
		case strings.HasSuffix(r.URL.Path, "/manifests/"+mDigest):
			w.Header().Set("Content-Type", string(types.DockerManifestSchema2))
			w.Header().Set("Docker-Content-Digest", mDigest)
			w.Header().Set("Content-Length", fmt.Sprint(len(manifest)))
			if r.Method == http.MethodGet {
				_, _ = cw.Write(manifest)
			}
		case strings.HasSuffix(r.URL.Path, "/blobs/"+cfgDigest):
			w.Header().Set("Content-Length", fmt.Sprint(len(config)))
			_, _ = cw.Write(config)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://") + "/evil/shop@" + mDigest, sent
}

// A registry serves a manifest with 100,000 layers: ferry reads a bounded
// amount of it, refuses it before copying a thing, and Heroku sees no
// formation PATCH.
func TestInputHugeManifest(t *testing.T) {
	t.Parallel()
	for _, n := range []int{100_000, 5_000} {
		t.Run(fmt.Sprintf("%d layers", n), func(t *testing.T) {
			ref, sent := hugeManifestRegistry(t, n)
			e := ownEmulator(t, herokuemu.Options{})
			app := ownApp(t, e, "huge")
			seedOn(t, e, app, nil, "web")
			r, hwm, _, took := runWatched(t, emuEnv(e).with("FERRY_SOURCE", ref, "FERRY_TARGETS", "heroku:"+app), []string{"promote"})
			t.Logf("exit %d in %s; peak RSS %d MiB; the registry sent %d KiB", r.code, took.Round(time.Millisecond), hwm>>10, sent.Load()>>10)
			if r.code != 1 && r.code != 2 {
				t.Fatalf("want exit 1 or 2\n%s", r)
			}
			if !strings.Contains(r.stdout, "layers") && !strings.Contains(r.stdout, "MiB") {
				t.Errorf("the report does not say what is wrong with the image")
			}
			if n := e.FormationPatches(app); n != 0 {
				t.Errorf("%d formation PATCHes", n)
			}
			if m := appMutations(e, app); len(m) != 0 {
				t.Errorf("%d writes reached Heroku: %v", len(m), m)
			}
			if took > 30*time.Second {
				t.Errorf("took %s", took)
			}
			if hwm > 200<<10 {
				t.Errorf("peak RSS %d MiB", hwm>>10)
			}
		})
	}
}

// streamProxy puts a proxy in front of e's Platform API that answers the
// release output streams itself, with stream, and passes everything else
// on, pointing the releases' output_stream_url at itself.
func streamProxy(t *testing.T, e *herokuemu.Emulator, stream http.HandlerFunc) string {
	t.Helper()
	upstream, err := url.Parse(e.APIURL())
	if err != nil {
		t.Fatal(err)
	}
	var self string
	rp := httputil.NewSingleHostReverseProxy(upstream)
	rp.ModifyResponse = func(resp *http.Response) error {
		b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
		resp.Body.Close()
		if err != nil {
			return err
		}
		b = bytes.ReplaceAll(b, []byte(e.APIURL()+"/streams/"), []byte(self+"/streams/"))
		resp.Body = io.NopCloser(bytes.NewReader(b))
		resp.ContentLength = int64(len(b))
		resp.Header.Set("Content-Length", fmt.Sprint(len(b)))
		return nil
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/streams/") {
			stream(w, r)
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	self = srv.URL
	return srv.URL
}

// Release-phase output that never ends, and a release phase that never
// ends: ferry relays a bounded amount and stops following the stream once
// the release is over; a release phase longer than FERRY_TIMEOUT fails the
// release, and since it cannot be stopped, exit 3 says what will happen.
func TestInputEndlessRelease(t *testing.T) {
	t.Parallel()
	line := []byte(strings.Repeat("migrating ", 100) + "\n") // ~1 KiB
	cases := []endlessCase{
		{name: "firehose", phase: time.Second, code: 0, within: 30 * time.Second, want: "release output: truncated after",
			stream: func(sent *atomic.Int64) http.HandlerFunc {
				return func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("Content-Type", "text/plain")
					endless(w, r, line, sent, 0)
				}
			}},
		{name: "trickle that never ends", phase: time.Second, code: 0, within: 30 * time.Second, want: "release phase: migrating",
			stream: func(sent *atomic.Int64) http.HandlerFunc {
				return func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("Content-Type", "text/plain")
					endless(w, r, line, sent, 100*time.Millisecond)
				}
			}},
		{name: "one line without end", phase: time.Second, code: 0, within: 30 * time.Second, want: "release output: truncated after",
			stream: func(sent *atomic.Int64) http.HandlerFunc {
				return func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("Content-Type", "text/plain")
					endless(w, r, bytes.Repeat([]byte("x"), 64<<10), sent, 0)
				}
			}},
		{name: "release phase that never ends", phase: time.Hour, code: 3, within: 60 * time.Second,
			env:  []string{"FERRY_TIMEOUT", "5s", "FERRY_RESTORE_TIMEOUT", "5s"},
			want: "is still in its release phase"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			runEndless(t, c)
		})
	}
}

// endlessCase is a release stream that does not end as it should.
type endlessCase struct {
	name   string
	phase  time.Duration
	stream func(sent *atomic.Int64) http.HandlerFunc
	env    []string
	code   int
	within time.Duration
	want   string
}

// runEndless promotes to an app whose release stream is c's, and checks
// that ferry ends as c says, in time, with bounded output and memory.
func runEndless(t *testing.T, c endlessCase) {
	t.Helper()
	img := push(t, "acme/shop", "phase-"+strings.ReplaceAll(c.name, " ", "-"), nil)
	e := ownEmulator(t, herokuemu.Options{ReleasePhase: c.phase})
	app := ownApp(t, e, "endless")
	// The promoted release adds a release phase; the seed has
	// none, so that seeding does not wait for one.
	seedOn(t, e, app, nil, "web")
	var sent atomic.Int64
	apiURL := e.APIURL()
	if c.stream != nil {
		apiURL = streamProxy(t, e, c.stream(&sent))
	}
	env := emuEnv(e).with(append([]string{"FERRY_HEROKU_API_URL", apiURL,
		"FERRY_SOURCE", img.ref(), "FERRY_TARGETS", "heroku:" + app + "/web,release"}, c.env...)...)
	cmd, out, errb := ferryCmd(t, env, "promote")
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w := watchProcess(cmd.Process.Pid)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(3 * time.Minute):
		_ = cmd.Process.Kill()
		<-done
		w.finish()
		t.Fatalf("ferry did not finish in 3m:\n%s", errb.String())
	}
	took := time.Since(start)
	hwm, _ := w.finish()
	r := result{code: cmd.ProcessState.ExitCode(), stdout: out.String(), stderr: errb.String()}
	if err != nil && r.code < 0 {
		t.Fatal(err)
	}
	logTail(t, r)
	t.Logf("exit %d in %s; peak RSS %d MiB; the stream sent %d KiB; ferry wrote %d KiB to stderr",
		r.code, took.Round(time.Millisecond), hwm>>10, sent.Load()>>10, len(r.stderr)>>10)
	for _, s := range secrets {
		if strings.Contains(r.stdout+r.stderr, s) {
			t.Errorf("a secret (%d bytes) appears in ferry's output", len(s))
		}
	}
	if r.code != c.code || !strings.Contains(r.stdout+r.stderr, c.want) {
		t.Fatalf("want exit %d saying %q", c.code, c.want)
	}
	if took > c.within {
		t.Errorf("took %s, want at most %s", took, c.within)
	}
	if len(r.stderr) > 6<<20 {
		t.Errorf("ferry wrote %d MiB of release output", len(r.stderr)>>20)
	}
	if hwm > 200<<10 {
		t.Errorf("peak RSS %d MiB", hwm>>10)
	}
}

// withoutRecords leaves out the writes of apps' promotion records (see
// containsApp).
func withoutRecords(reqs []herokuemu.Request) []herokuemu.Request {
	var out []herokuemu.Request
	for _, r := range reqs {
		if !strings.Contains(r.Path, "/"+heroku.RecordProcess+"/") {
			out = append(out, r)
		}
	}
	return out
}
