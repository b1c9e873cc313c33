package e2e

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ferry-dev/ferry/internal/testenv/images"
	"github.com/ferry-dev/ferry/internal/testenv/kubeauth"
	"github.com/ferry-dev/ferry/internal/testenv/regemu"
)

// privateRegistry starts a loopback registry that wants Basic user:pass
// and holds one image at repoRef; it returns the registry and the image's
// manifest and config digests.
func privateRegistry(t *testing.T, user, pass, repoRef string) (reg *regemu.Registry, manifest, config string) {
	t.Helper()
	reg, stop, err := regemu.StartBasic(map[string]string{user: pass}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	img, err := images.Build(images.Spec{Layers: 2, LayerSize: 32 << 10, Seed: seed.Add(1) * 7907})
	if err != nil {
		t.Fatal(err)
	}
	d, err := reg.Seed(context.Background(), repoRef, img)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := img.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	return reg, d.String(), cfg.String()
}

// dockerConfig is a Docker config.json with Basic credentials for host,
// as docker login writes it.
func dockerConfig(t *testing.T, host, user, pass string) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{"auths": map[string]any{host: map[string]string{"auth": b64([]byte(user + ":" + pass))}}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestCloudPullSecretSourceToHeroku: staging's pods pull their image from
// a private registry with a pull secret; ferry, which has no credentials
// of its own for that registry, copies the image to a Heroku app with the
// pull secret (read with ferry's Role only).
func TestCloudPullSecretSourceToHeroku(t *testing.T) {
	t.Parallel()
	pass := "pull-" + rand.Text()
	reg, manifest, config := privateRegistry(t, "puller", pass, "shop/web:v1")
	sns := namespace(t, staging)
	grant(t, staging, sns, eksDeployerUser)
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "regcred", Namespace: sns},
		Type:       corev1.SecretTypeDockerConfigJson,
		Data:       map[string][]byte{corev1.DockerConfigJsonKey: dockerConfig(t, reg.Host, "puller", pass)},
	}
	if _, err := staging.Admin.CoreV1().Secrets(sns).Create(context.Background(), secret, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	create(t, staging, sns, deploy{name: "web",
		containers:     []corev1.Container{container("app", reg.Host+"/shop/web:v1")},
		podAnnotations: map[string]string{"imageid.testenv.ferry.dev/app": reg.Host + "/shop/web@" + manifest},
		pullSecrets:    []string{"regcred"},
	})
	app := herokuApp(t, "shop-pull")
	seedHeroku(t, app, nil, "web")
	cl := eksClusters(false, "")[:1]

	e := cloudEnv(t).with(
		"KUBECONFIG", writeFile(t, "kubeconfig", kubeauth.EKSKubeconfig(cl...)),
		"AWS_REGION", eksRegion,
		"FERRY_SOURCE", "k8s:"+sns+"/web?context="+cl[0].ARN(),
		"FERRY_TARGETS", "heroku:"+app+"/web",
		"HEROKU_API_KEY", herokuKey,
		"FERRY_HEROKU_API_URL", emu.APIURL(),
		"FERRY_HEROKU_REGISTRY", emu.RegistryHost(),
		"FERRY_OUTPUT", "text",
	)
	for _, kv := range cloud.deployer.Env() {
		k, v, _ := strings.Cut(kv, "=")
		e[k] = v
	}
	r := ferry(t, e, "promote")
	if r.code != 0 {
		t.Fatalf("want exit 0\n%s", r)
	}
	assertRuns(t, app, config, "web")
	if ids := reg.Identities(); !slices.Equal(ids, []string{"puller"}) {
		t.Errorf("the private registry served %v, want only the pull secret's user", ids)
	}
	if !strings.Contains(r.stderr, "the pull secrets of k8s:"+sns+"/web") || !strings.Contains(r.stderr, reg.Host) {
		t.Errorf("the log does not say that the pull secrets served %s:\n%s", reg.Host, r.stderr)
	}
	out := r.stdout + r.stderr
	for _, s := range []string{pass, b64([]byte("puller:" + pass))} {
		if strings.Contains(out, s) {
			t.Errorf("ferry's output shows the pull secret's password")
		}
	}
	assertNoMinted(t, "ferry's output", out)
}

// TestCloudActionReadsCredentialsOfEarlierSteps: the credentials earlier
// steps left on the runner — a Docker config written by docker login with
// DOCKER_CONFIG set under RUNNER_TEMP/_github_home, and a service account
// key google-github-actions/auth wrote into the workspace — given to the
// action as the runner's own paths, which the container sees only under
// /github/*.
func TestCloudActionReadsCredentialsOfEarlierSteps(t *testing.T) {
	t.Parallel()
	pass := "login-" + rand.Text()
	reg, manifest, _ := privateRegistry(t, "ci", pass, "shop/web:v5")
	rn := newRunner(t)
	dockerDir := filepath.Join(rn.home, ".docker-ci")
	rn.write(t, filepath.Join(dockerDir, "config.json"), dockerConfig(t, reg.Host, "ci", pass))
	key := filepath.Join(rn.workspace, "gha-creds-5f1b.json")
	rn.write(t, key, cloud.gcpKey.KeyFile())

	pns := namespace(t, production)
	create(t, production, pns, deploy{name: "web", containers: []corev1.Container{container("app", reg.Host+"/shop/web:v4")}})
	grant(t, production, pns, cloud.gcpKey.Email)
	cl := gkeClusters()[1:]
	r := rn.action(t, map[string]string{
		"source":          reg.Host + "/shop/web:v5",
		"targets":         target(pns, "web", cl[0].ContextName()),
		"kubeconfig-data": b64(kubeauth.GKEKubeconfig(cl...)),
		"timeout":         "90s",
	}, env{
		"HTTPS_PROXY":                    lab.Net.ProxyURL(),
		"DOCKER_CONFIG":                  dockerDir,
		"GOOGLE_APPLICATION_CREDENTIALS": key,
	})
	image := reg.Host + "/shop/web@" + manifest
	if r.code != 0 {
		t.Fatalf("want exit 0\n%s", r)
	}
	if got := imageOf(get(t, production, pns, "web"), "app"); got != image {
		t.Errorf("production runs %s, want %s", got, image)
	}
	if ids := reg.Identities(); !slices.Equal(ids, []string{"ci"}) {
		t.Errorf("the registry served %v, want the Docker config's user", ids)
	}
	if !strings.Contains(r.log, "/github/home/.docker-ci/config.json") {
		t.Errorf("the log does not say that the Docker config under /github/home served %s:\n%s", reg.Host, r.log)
	}
	if m := mutationsBy(t, production, pns, cloud.gcpKey.Email); len(m) == 0 {
		t.Errorf("no change in production was made as %s (the key file's service account)", cloud.gcpKey.Email)
	}
	assertMasked(t, r.log, "registry password", []string{pass})
	if len(masksWithPrefix(r.log, "ya29.")) == 0 {
		t.Errorf("no Google access token was masked")
	}
	assertNoMinted(t, "the outputs", dumpOutputs(r.outputs))
	assertNoMinted(t, "the step summary", r.summary)
}
