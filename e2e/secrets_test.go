package e2e

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
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

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/ferry-dev/ferry/internal/testenv"
	"github.com/ferry-dev/ferry/internal/testenv/images"
)

// The secrets suite: ferry runs every command in every mode (local,
// CircleCI, GitHub Actions), succeeding and failing with errors that come
// from libraries and servers that quote credentials back, and no secret
// may appear in anything it writes: standard output and error, the JSON
// report, the step's outputs and summary, or files. It writes no files
// with credentials at all: every run gets a fresh TMPDIR and HOME, which
// are watched while it runs and must stay empty.

// secret is a value that must never appear, and what it is.
type secret struct{ what, value string }

// echoing answers every request it takes with status, quoting the
// request's Authorization header and the given secrets in its error body,
// in the registry's error format (registry) or the Platform API's.
type echoing struct {
	registry bool
	status   int
	quote    []string
	match    func(*http.Request) bool
	served   atomic.Int64
}

func (e *echoing) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if e.match != nil && !e.match(r) {
			next.ServeHTTP(w, r)
			return
		}
		_, _ = io.Copy(io.Discard, r.Body)
		e.served.Add(1)
		msg := "request refused; you sent Authorization: " + r.Header.Get("Authorization")
		if len(e.quote) > 0 {
			msg += "; expected " + strings.Join(e.quote, " or ")
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(e.status)
		if e.registry {
			_ = json.NewEncoder(w).Encode(map[string]any{"errors": []map[string]any{{"code": "DENIED", "message": msg, "detail": r.Header.Get("Authorization")}}})
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]string{"id": "bad_request", "message": msg})
	})
}

// basicAuth is a registry middleware that demands user and password.
func basicAuth(user, pass string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if u, p, ok := r.BasicAuth(); !ok || u != user || p != pass {
				w.Header().Set("WWW-Authenticate", `Basic realm="ferry-test"`)
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusUnauthorized)
				_, _ = io.WriteString(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// proxy serves wrap(reverse proxy to upstream) and returns its URL.
func proxy(t *testing.T, upstream string, wrap func(http.Handler) http.Handler) string {
	t.Helper()
	u, err := url.Parse(upstream)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(wrap(httputil.NewSingleHostReverseProxy(u)))
	t.Cleanup(srv.Close)
	return srv.URL
}

// clientKeyPair makes a self-signed client certificate the API server does
// not trust, and returns the certificate and key in PEM.
func clientKeyPair(t *testing.T) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ferry", Organization: []string{"system:masters"}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})
}

// secretWorld is what the suite's runs share: credentials, and servers
// that quote them back.
type secretWorld struct {
	secrets      []secret
	kubeconfig   []byte // contexts production (good), badtoken, certs
	dockerConfig string // a DOCKER_CONFIG directory
	regHost      string // the registry that wants basic auth
	regUser      string
	regPass      string
	herokuEcho   *echoing
	herokuAPI    string // a Platform API that quotes the key back
	registryEcho *echoing
	herokuReg    string // a Heroku registry that quotes the key back on manifest PUTs
	echoSource   string // an image whose manifest read quotes the registry password back
	regEcho      *echoing
}

func newSecretWorld(t *testing.T) *secretWorld {
	t.Helper()
	w := &secretWorld{}
	user, pass := "ferry-ci", "regpass-"+rand.Text()
	w.regUser, w.regPass = user, pass
	basic := b64([]byte(user + ":" + pass))
	wrongToken := "wrong-token-" + rand.Text()
	certPEM, keyPEM := clientKeyPair(t)

	// The source registry wants basic auth; under /echo/ it refuses every
	// read, quoting the Authorization header and the password.
	w.regEcho = &echoing{registry: true, status: http.StatusForbidden, quote: []string{pass},
		match: func(r *http.Request) bool {
			return strings.Contains(r.URL.Path, "/echo/") && r.Method == http.MethodGet
		}}
	var armed atomic.Bool
	w.regHost = ownRegistry(t, images.Chain(basicAuth(user, pass), switchable(&armed, w.regEcho.Wrap)))
	auth := remote.WithAuth(&authn.Basic{Username: user, Password: pass})
	echoImg := pushTo(t, w.regHost, "echo/shop", "v1", images.Spec{}, auth)
	armed.Store(true)
	w.echoSource = echoImg.ref()
	w.dockerConfig = t.TempDir()
	cfg := fmt.Sprintf(`{"auths":{%q:{"auth":%q}}}`, w.regHost, basic)
	if err := os.WriteFile(filepath.Join(w.dockerConfig, "config.json"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}

	// The kubeconfig: production as the harness writes it, plus a
	// context with a wrong token and one with a client key the API
	// server does not trust.
	kc, err := clientcmd.Load(testenv.Kubeconfig(map[string]*testenv.Cluster{"production": production}))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"badtoken", "certs"} {
		kc.Contexts[name] = &clientcmdapi.Context{Cluster: "production", AuthInfo: name}
	}
	kc.AuthInfos["badtoken"] = &clientcmdapi.AuthInfo{Token: wrongToken}
	kc.AuthInfos["certs"] = &clientcmdapi.AuthInfo{ClientCertificateData: certPEM, ClientKeyData: keyPEM}
	if w.kubeconfig, err = clientcmd.Write(*kc); err != nil {
		t.Fatal(err)
	}

	// Heroku endpoints that quote the key back.
	w.herokuEcho = &echoing{status: http.StatusBadRequest, quote: []string{herokuKey}}
	w.herokuAPI = proxy(t, emu.APIURL(), w.herokuEcho.Wrap)
	w.registryEcho = &echoing{registry: true, status: http.StatusBadRequest, quote: []string{herokuKey},
		match: func(r *http.Request) bool {
			return r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/manifests/")
		}}
	w.herokuReg = strings.TrimPrefix(proxy(t, "http://"+emu.RegistryHost(), w.registryEcho.Wrap), "http://")

	keyBody := strings.Join(strings.Split(strings.TrimSpace(string(keyPEM)), "\n")[1:2], "")
	w.secrets = []secret{
		{"the Heroku API key", herokuKey},
		{"the Heroku registry's basic auth", b64([]byte("_:" + herokuKey))},
		{"the production token", kc.AuthInfos["production"].Token},
		{"the wrong token", wrongToken},
		{"the client key", keyBody},
		{"the client key, base64", b64(keyPEM)},
		{"the kubeconfig, base64", b64(w.kubeconfig)},
		{"the registry password", pass},
		{"the registry's basic auth", basic},
	}
	return w
}

// mode turns a run's settings, written as FERRY_* and the ecosystem's
// variables, into one CI system's environment.
type mode struct {
	name string
	env  func(t *testing.T, w *secretWorld, command string, e env) (env, []string, func() string)
}

var secretModes = []mode{
	{"local", func(t *testing.T, w *secretWorld, command string, e env) (env, []string, func() string) {
		path := filepath.Join(t.TempDir(), "kubeconfig")
		if err := os.WriteFile(path, w.kubeconfig, 0o600); err != nil {
			t.Fatal(err)
		}
		return e.with("KUBECONFIG", path), []string{command}, func() string { return "" }
	}},
	{"circleci", func(t *testing.T, w *secretWorld, command string, e env) (env, []string, func() string) {
		return e.with("CIRCLECI", "true", "CIRCLE_SHA1", "0123456789abcdef", "CIRCLE_BUILD_URL", "https://circleci.com/gh/acme/shop/42",
			"FERRY_KUBECONFIG_DATA", b64(w.kubeconfig)), []string{command}, func() string { return "" }
	}},
	{"github", func(t *testing.T, w *secretWorld, command string, e env) (env, []string, func() string) {
		dir := t.TempDir()
		out, sum := filepath.Join(dir, "output"), filepath.Join(dir, "summary")
		for _, f := range []string{out, sum} {
			if err := os.WriteFile(f, nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		g := env{"GITHUB_ACTIONS": "true", "GITHUB_OUTPUT": out, "GITHUB_STEP_SUMMARY": sum, "GITHUB_RUN_ID": "4242",
			"GITHUB_REPOSITORY": "acme/shop", "GITHUB_SHA": "0123456789abcdef", "INPUT_COMMAND": command,
			"INPUT_KUBECONFIG-DATA": b64(w.kubeconfig)}
		for k, v := range e {
			switch {
			case k == "HEROKU_API_KEY":
				g["INPUT_HEROKU-API-KEY"] = v
			case strings.HasPrefix(k, "FERRY_"):
				g["INPUT_"+strings.ReplaceAll(strings.TrimPrefix(k, "FERRY_"), "_", "-")] = v
			default:
				g[k] = v
			}
		}
		return g, nil, func() string {
			var b strings.Builder
			for _, f := range []string{out, sum} {
				c, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				b.Write(c)
			}
			return b.String()
		}
	}},
}

func TestSecretsNeverAppear(t *testing.T) {
	t.Parallel()
	w := newSecretWorld(t)
	// Once every mode ran: the servers did quote the secrets back, so the
	// runs prove something.
	t.Cleanup(func() {
		if w.regEcho.served.Load() == 0 || w.herokuEcho.served.Load() == 0 || w.registryEcho.served.Load() == 0 {
			t.Errorf("echoes served: registry %d, Heroku API %d, Heroku registry %d", w.regEcho.served.Load(), w.herokuEcho.served.Load(), w.registryEcho.served.Load())
		}
	})
	for _, m := range secretModes {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			for _, run := range secretRuns(t, w, m.name) {
				runForSecrets(t, w, m, run)
			}
		})
	}
}

// secretRun is one ferry run of the suite.
type secretRun struct {
	name, command string
	env           env
	ok            bool
	// evidence is what the output says when the failure came from where
	// the run meant it to.
	evidence string
}

// secretRuns are every command, succeeding, and the failures whose
// errors quote credentials back, on a fresh Heroku app and Deployment.
func secretRuns(t *testing.T, w *secretWorld, mode string) []secretRun {
	t.Helper()
	app := herokuApp(t, "secret-"+mode)
	seedHeroku(t, app, nil, "web")
	pns := namespace(t, production)
	create(t, production, pns, deploy{name: "web", containers: []corev1.Container{container("app", "registry.test/shop:v1")}})
	auth := remote.WithAuth(&authn.Basic{Username: w.regUser, Password: w.regPass})
	img := pushTo(t, w.regHost, "acme/shop", mode, images.Spec{}, auth)
	other := pushTo(t, w.regHost, "acme/shop", mode+"-other", images.Spec{}, auth)
	base := env{"FERRY_OUTPUT": "json", "FERRY_TIMEOUT": "60s", "DOCKER_CONFIG": w.dockerConfig,
		"HEROKU_API_KEY": herokuKey, "FERRY_HEROKU_API_URL": emu.APIURL(), "FERRY_HEROKU_REGISTRY": emu.RegistryHost()}
	both := base.with("FERRY_SOURCE", img.ref(), "FERRY_TARGETS", target(pns, "web", "production")+" heroku:"+app+"/web")
	return []secretRun{
		{"promote", "promote", both, true, ""},
		{"plan", "plan", both, true, ""},
		{"status", "status", both, true, ""},
		{"rollback", "rollback", both, true, ""},
		{"registry quotes the password", "promote", base.with("FERRY_SOURCE", w.echoSource, "FERRY_TARGETS", "heroku:"+app), false, "DENIED"},
		{"wrong kubeconfig token", "promote", base.with("FERRY_SOURCE", img.ref(), "FERRY_TARGETS", target(pns, "web", "badtoken")), false, "Unauthorized"},
		{"untrusted client key", "status", base.with("FERRY_TARGETS", target(pns, "web", "certs")), false, "forbidden"},
		{"Heroku API quotes the key", "promote", base.with("FERRY_SOURCE", img.ref(), "FERRY_TARGETS", "heroku:"+app, "FERRY_HEROKU_API_URL", w.herokuAPI), false, "400"},
		{"Heroku registry quotes the key", "promote", base.with("FERRY_SOURCE", other.ref(), "FERRY_TARGETS", "heroku:"+app, "FERRY_HEROKU_REGISTRY", w.herokuReg), false, "DENIED"},
	}
}

// runForSecrets runs ferry once in mode m with a fresh, watched TMPDIR and
// HOME, and checks its exit, that the failure came from where it was
// meant to, and that no secret reached any output or file.
func runForSecrets(t *testing.T, w *secretWorld, m mode, run secretRun) {
	t.Helper()
	e, args, extra := m.env(t, w, run.command, run.env)
	root := t.TempDir()
	tmp, home := filepath.Join(root, "tmp"), filepath.Join(root, "home")
	for _, d := range []string{tmp, home} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	e = e.with("TMPDIR", tmp, "HOME", home)
	cmd, out, errb := ferryCmd(t, e, args...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	watch := watchProcess(cmd.Process.Pid, tmp, home)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(3 * time.Minute):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("%s: ferry did not finish in 3m", run.name)
	}
	_, files := watch.finish()
	code := cmd.ProcessState.ExitCode()
	stdout, masked := withoutMasks(out.String())
	t.Logf("%s %s: exit %d\n--- stdout\n%s\n--- stderr\n%s", m.name, run.name, code, stdout, errb.String())
	if run.ok != (code == 0) {
		t.Errorf("%s: exit %d, want success %v", run.name, code, run.ok)
	}
	all := stdout + errb.String()
	if run.evidence != "" && !strings.Contains(all, run.evidence) {
		t.Errorf("%s: the output does not show %q: the failure did not come from where the test meant", run.name, run.evidence)
	}
	places := map[string]string{"stdout": stdout, "stderr": errb.String(), "GitHub outputs and summary": extra()}
	for p, content := range files {
		t.Errorf("%s: ferry created %s (%d bytes)", run.name, p, len(content))
		places["file "+p] = string(content)
	}
	assertNoSecretIn(t, run.name, places, w.secrets)
	if m.name == "github" {
		// Masks hold secrets, and only secrets.
		for _, v := range masked {
			if !isSecretPart(v, w.secrets) {
				t.Errorf("%s: ::add-mask:: of something that is not a secret: %q", run.name, v)
			}
		}
	}
	for _, d := range []string{tmp, home} {
		if left, _ := os.ReadDir(d); len(left) > 0 {
			t.Errorf("%s: ferry left %d entries in %s", run.name, len(left), d)
		}
	}
}

// assertNoSecretIn checks every place a run wrote for every secret.
func assertNoSecretIn(t *testing.T, run string, places map[string]string, secrets []secret) {
	t.Helper()
	for where, text := range places {
		for _, s := range secrets {
			if strings.Contains(text, s.value) {
				t.Errorf("%s: %s appears in %s", run, s.what, where)
			}
		}
	}
}

// isSecretPart reports whether v is a secret or a line of one (a mask
// covers one line).
func isSecretPart(v string, secrets []secret) bool {
	for _, s := range append(secrets, secret{value: b64(kubeconfigData)}) {
		if strings.Contains(s.value, v) {
			return true
		}
	}
	for _, s := range secrets {
		if b, err := base64.StdEncoding.DecodeString(s.value); err == nil && bytes.Contains(b, []byte(v)) {
			return true
		}
	}
	return false
}
