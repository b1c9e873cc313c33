package e2e

import (
	"context"
	"slices"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/ferry-dev/ferry/internal/testenv/images"
	"github.com/ferry-dev/ferry/internal/testenv/kubeauth"
	"github.com/ferry-dev/ferry/internal/testenv/oidcemu"
	"github.com/ferry-dev/ferry/internal/testenv/regemu"
	"github.com/ferry-dev/ferry/pkg/promote"
)

// seedImage pushes a small image to reg as repoRef and returns its
// digest.
func seedImage(t *testing.T, reg *regemu.Registry, repoRef string) v1.Hash {
	t.Helper()
	img, err := images.Build(images.Spec{Layers: 1, LayerSize: 16 << 10, Seed: seed.Add(1) * 104729})
	if err != nil {
		t.Fatal(err)
	}
	d, err := reg.Seed(context.Background(), repoRef, img)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// oidcAction is the step env of a job with `permissions: id-token: write`
// behind a proxy (the lab's): the runner's token request variables.
func oidcAction(job *oidcemu.Job, run string) env {
	e := env{"HTTPS_PROXY": lab.Net.ProxyURL(), "GITHUB_RUN_ID": run}
	for _, kv := range job.Env() {
		k, v, _ := strings.Cut(kv, "=")
		e[k] = v
	}
	return e
}

// assertCloudPromoted checks an action run that promoted image to
// production's web in pns as user, with registry serving the source to
// identity.
func assertCloudPromoted(t *testing.T, r actionRun, pns, image, user string, registry *regemu.Registry, identity string) {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("want exit 0\n%s", r)
	}
	if r.outputs["result"] != "promoted" || r.outputs["source-image"] != image {
		t.Errorf("outputs %v, want result=promoted source-image=%s", r.outputs, image)
	}
	if got := imageOf(get(t, production, pns, "web"), "app"); got != image {
		t.Errorf("production runs %s, want %s", got, image)
	}
	if m := mutationsBy(t, production, pns, user); len(m) == 0 {
		t.Errorf("no change in production was made as %s", user)
	}
	if ids := registry.Identities(); !slices.Contains(ids, identity) {
		t.Errorf("%s served %v, want %s", registry.Host, ids, identity)
	}
	assertNoUnauthorized(t, production, pns)
	assertNoMinted(t, "the outputs", dumpOutputs(r.outputs))
	assertNoMinted(t, "the step summary", r.summary)
}

// TestCloudGitHubOIDCToEKSAndECR is the EKS recipe: the kubeconfig
// aws eks update-kubeconfig wrote, in kubeconfig-data, an AWS role trusted
// for the repository's GitHub OIDC tokens in aws-role-arn, a source image
// in ECR, and no other step.
func TestCloudGitHubOIDCToEKSAndECR(t *testing.T) {
	t.Parallel()
	digest := seedImage(t, cloud.ecr, "shop/web:1.4.2")
	src := cloud.ecr.Host + "/shop/web:1.4.2"
	pns := namespace(t, production)
	create(t, production, pns, deploy{name: "web", containers: []corev1.Container{container("app", cloud.ecr.Host+"/shop/web:1.4.1")}})
	grant(t, production, pns, eksRoleUser)
	cl := eksClusters(false, "")
	job := lab.GitHub.NewJob(oidcJob())
	run := runID()

	r := runAction(t, map[string]string{
		"source":          src,
		"targets":         target(pns, "web", cl[1].ARN()),
		"kubeconfig-data": b64(kubeauth.EKSKubeconfig(cl...)),
		"aws-role-arn":    cloud.roleARN,
		"aws-region":      eksRegion,
		"timeout":         "90s",
	}, oidcAction(job, run))
	session := "arn:aws:sts::" + eksAccount + ":assumed-role/ferry/ferry-gh-" + run + "-1"
	assertCloudPromoted(t, r, pns, cloud.ecr.Host+"/shop/web@"+digest.String(), eksRoleUser, cloud.ecr, "AWS:"+session)
	if job.Requests() == 0 {
		t.Errorf("ferry never asked the runner for an OIDC token")
	}
	if !strings.Contains(r.log, cloud.ecr.Host) || !strings.Contains(r.log, "AWS credentials (ECR)") {
		t.Errorf("the log does not say which credentials served %s:\n%s", cloud.ecr.Host, r.log)
	}
	assertMasked(t, r.log, "GitHub OIDC token", job.Minted())
	assertMasked(t, r.log, "AWS session credential or ECR password", lab.AWS.MintedFor(session))
	if len(masksWithPrefix(r.log, "k8s-aws-v1.")) == 0 {
		t.Errorf("no EKS token was masked")
	}
}

// TestCloudGitHubOIDCToGKEAndArtifactRegistry is the GKE recipe: the
// kubeconfig gcloud wrote, Google workload identity federation from the
// job's OIDC token (with and without a service account to impersonate),
// a source image in Artifact Registry.
func TestCloudGitHubOIDCToGKEAndArtifactRegistry(t *testing.T) {
	t.Parallel()
	provider := cloud.gcpProvider.PoolResource() + "/providers/" + cloud.gcpProvider.ID
	cases := []struct {
		name, serviceAccount, user string
	}{
		{"impersonating a service account", cloud.gcpImpersonated.Email, cloud.gcpImpersonated.Email},
		{"as the federated principal", "", cloud.gcpProvider.Principal("repo:acme/shop:ref:refs/heads/main")},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			tag := []string{"2.0", "2.1"}[i]
			digest := seedImage(t, cloud.gar, "shop-prod/shop/web:"+tag)
			pns := namespace(t, production)
			create(t, production, pns, deploy{name: "web", containers: []corev1.Container{container("app", cloud.gar.Host+"/shop-prod/shop/web:1.0")}})
			grant(t, production, pns, c.user)
			cl := gkeClusters()
			job := lab.GitHub.NewJob(oidcJob())
			r := runAction(t, map[string]string{
				"source":                         cloud.gar.Host + "/shop-prod/shop/web:" + tag,
				"targets":                        target(pns, "web", cl[1].ContextName()),
				"kubeconfig-data":                b64(kubeauth.GKEKubeconfig(cl...)),
				"gcp-workload-identity-provider": provider,
				"gcp-service-account":            c.serviceAccount,
				"timeout":                        "90s",
			}, oidcAction(job, runID()))
			assertCloudPromoted(t, r, pns, cloud.gar.Host+"/shop-prod/shop/web@"+digest.String(), c.user, cloud.gar, "oauth2accesstoken:"+c.user)
			assertMasked(t, r.log, "GitHub OIDC token", job.Minted())
			if c.serviceAccount != "" {
				// Only this run impersonates it: every token it got is this
				// run's, and each must be masked.
				assertMasked(t, r.log, "Google access token", lab.Google.MintedFor(c.user))
			}
		})
	}
}

// TestCloudCircleCIOIDCToEKS runs the orb's promote job the way
// CircleCI's docker executor does, with the job's OIDC tokens in
// CIRCLE_OIDC_TOKEN and CIRCLE_OIDC_TOKEN_V2 and the AWS role as the
// orb's aws-role-arn parameter: the role trusts the organisation's
// issuer, audience and project.
func TestCloudCircleCIOIDCToEKS(t *testing.T) {
	t.Parallel()
	sns, digest := stagingApp(t, "registry.test/shop", "v9")
	grant(t, staging, sns, eksRoleUser)
	pns := namespace(t, production)
	create(t, production, pns, deploy{name: "web", containers: []corev1.Container{container("app", "registry.test/shop:v8")}})
	grant(t, production, pns, eksRoleUser)
	cl := eksClusters(false, "")
	job, err := packOrb(t).ExpandJob("promote", map[string]any{
		"source":              "k8s:" + sns + "/web?context=" + cl[0].ARN(),
		"targets":             target(pns, "web", cl[1].ARN()),
		"kubeconfig-data-var": "EKS_KUBECONFIG",
		"aws-role-arn":        cloud.roleARN,
		"timeout":             "90s",
	})
	if err != nil {
		t.Fatal(err)
	}
	tokens, err := lab.CircleCI.Env(oidcemu.CircleJob{})
	if err != nil {
		t.Fatal(err)
	}
	jobEnv := env{
		"EKS_KUBECONFIG":   b64(kubeauth.EKSKubeconfig(cl...)),
		"AWS_REGION":       eksRegion,
		"CIRCLE_BUILD_NUM": runID(),
		"HTTPS_PROXY":      lab.Net.ProxyURL(),
		"SSL_CERT_FILE":    lab.Net.CAFile(),
		// The executor's PATH: ferry, and no cloud CLI.
		"PATH": filepathDir(ferryBin) + ":" + noPlugins(t),
	}
	var circleTokens []string
	for _, kv := range tokens {
		k, v, _ := strings.Cut(kv, "=")
		jobEnv[k] = v
		circleTokens = append(circleTokens, v)
	}
	steps := withoutMarkers(runOrbJob(t, job, jobEnv))
	if len(steps) != 1 || steps[0].code != 0 {
		t.Fatalf("want ferry promote to exit 0: %+v", steps)
	}
	want := "registry.test/shop@" + digest
	if got := imageOf(get(t, production, pns, "web"), "app"); got != want {
		t.Errorf("production runs %s, want %s", got, want)
	}
	if m := mutationsBy(t, production, pns, eksRoleUser); len(m) == 0 {
		t.Errorf("no change in production was made as %s", eksRoleUser)
	}
	calls := lab.AWS.CallsOf("AssumeRoleWithWebIdentity")
	if !slices.ContainsFunc(calls, func(c awsCall) bool {
		return c.Error == "" && strings.Contains(c.Principal, "assumed-role/ferry/ferry-circleci-"+jobEnv["CIRCLE_BUILD_NUM"])
	}) {
		t.Errorf("no AssumeRoleWithWebIdentity for the CircleCI job: %+v", calls)
	}
	out := steps[0].stdout + steps[0].stderr
	assertNoMinted(t, "the job's output", out)
	for _, s := range circleTokens {
		if strings.Contains(out, s) {
			t.Errorf("the job's output shows a CircleCI OIDC token")
		}
	}
	if rep := (result{stdout: steps[0].stdout}); !strings.Contains(rep.stdout, string(promote.OutcomePromoted)) {
		t.Errorf("the report does not say promoted:\n%s", rep.stdout)
	}
}
