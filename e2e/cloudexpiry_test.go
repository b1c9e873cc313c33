package e2e

import (
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/ferry-dev/ferry/internal/testenv/kubeauth"
	"github.com/ferry-dev/ferry/pkg/promote"
)

// crashDelay is how long the promoted image runs before it crashes: the
// verification outlasts every credential the run started with.
const crashDelay = 50 * time.Second

// TestCloudTokensExpireDuringVerificationAndRestore promotes to three
// production Deployments at once, reached through an EKS (role assumed
// per update-kubeconfig --role-arn), a GKE (key file) and an AKS (kubelogin
// spn) kubeconfig, while every credential the lab issues lives 20 s. The
// new image starts slowly and crashes after crashDelay, so the
// verification runs past the first tokens' expiry and the restore comes
// late: ferry must renew every credential in time, never meet a 401, and
// put all three back.
func TestCloudTokensExpireDuringVerificationAndRestore(t *testing.T) {
	t.Parallel()
	pns := namespace(t, production)
	eks := eksClusters(false, cloud.expiryRole)[1:]
	gke := gkeClusters()[1:]
	aks := aksClusters("spn", cloud.azExpiry.ClientID)[1:]
	targets := []struct{ name, context, user string }{
		{"web-eks", eks[0].ARN(), eksExpiryUser},
		{"web-gke", gke[0].ContextName(), cloud.gcpExpiry.Email},
		{"web-aks", aks[0].Name, cloud.azExpiry.ObjectID},
	}
	before := map[string]*appsv1.Deployment{}
	rs := map[string]string{}
	var addrs []string
	for _, tg := range targets {
		before[tg.name] = create(t, production, pns, deploy{name: tg.name, deadline: 180,
			containers:     []corev1.Container{container("app", "registry.test/shop:v1")},
			podAnnotations: map[string]string{"crash.testenv.ferry.dev/delay": crashDelay.String()},
		})
		rs[tg.name] = activeReplicaSet(t, production.Admin, before[tg.name]).Name
		grant(t, production, pns, tg.user)
		addrs = append(addrs, target(pns, tg.name, tg.context))
	}
	kubeconfigs := strings.Join([]string{
		writeFile(t, "eks", kubeauth.EKSKubeconfig(eks...)),
		writeFile(t, "gke", kubeauth.GKEKubeconfig(gke...)),
		writeFile(t, "aks", kubeauth.AKSKubeconfig(aks...)),
	}, ":")
	e := cloudEnv(t).with(
		"KUBECONFIG", kubeconfigs,
		"AWS_REGION", eksRegion,
		"GOOGLE_APPLICATION_CREDENTIALS", writeFile(t, "key.json", cloud.gcpExpiry.KeyFile()),
		"AAD_SERVICE_PRINCIPAL_CLIENT_SECRET", cloud.azSecret,
		"FERRY_SOURCE", "registry.test/shop-crash@"+fakeDigest(t.Name()),
		"FERRY_TARGETS", strings.Join(addrs, " "),
		"FERRY_TIMEOUT", "150s",
	)
	for _, kv := range cloud.deployer.Env() {
		k, v, _ := strings.Cut(kv, "=")
		e[k] = v
	}
	start := time.Now()
	r := ferry(t, e, "promote")
	took := time.Since(start)
	if r.code != 1 {
		t.Fatalf("want exit 1 (failed, every target restored)\n%s", r)
	}
	if took < crashDelay {
		t.Fatalf("the run took %s: the crash came before the first credentials expired, so nothing was proven", took)
	}
	rep := r.report(t)
	for i, tg := range targets {
		if rep.Targets[i].Status != promote.StatusRestored {
			t.Errorf("%s: status %q, want restored", tg.name, rep.Targets[i].Status)
		}
		assertRestored(t, before[tg.name], rs[tg.name])
		if m := mutationsBy(t, production, pns, tg.user); len(m) < 2 {
			t.Errorf("%s: %d changes as %s, want the release and the restore: %v", tg.name, len(m), tg.user, m)
		}
	}
	assertNoUnauthorized(t, production, pns)
	assertNoMinted(t, "ferry's output", r.stdout+r.stderr)
	// Each source was asked again once its first credentials had expired.
	minted := map[string]int{
		"AWS role sessions": len(lab.AWS.MintedFor("arn:aws:sts::"+eksAccount+":assumed-role/ferry-expiry/EKSGetTokenAuth")) / 2,
		"Google tokens":     len(lab.Google.MintedFor(cloud.gcpExpiry.Email)),
		"Entra ID tokens":   len(lab.Azure.MintedFor(cloud.azExpiry.ClientID)),
	}
	for what, n := range minted {
		if n < 2 {
			t.Errorf("%d %s in a %s run with %s credentials: want them renewed", n, what, took.Round(time.Second), tokenLife)
		}
	}
	t.Logf("run took %s; minted %v", took.Round(time.Second), minted)
}
