package config

import (
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"
)

// Prefix starts the name of every ferry variable.
const Prefix = "FERRY_"

// Mode is where ferry runs; it decides which variables are read and how
// problems name them.
type Mode string

// The modes. ModeGitHub reads the step's INPUT_* variables.
const (
	ModeGitHub   Mode = "github"
	ModeCircleCI Mode = "circleci"
	ModeLocal    Mode = "local"
)

// Settings are every setting of a ferry run as the environment gives them
// (see [Load]): strings, numbers and durations, unchecked. [Settings.Check]
// turns them into a [Config] for one command.
type Settings struct {
	Source string `env:"SOURCE" desc:"Where the image comes from: a k8s workload: a Deployment, StatefulSet, DaemonSet or Argo Rollout (the digest its pods run), a Heroku app's process type (the image its current release runs), or an image reference." example:"k8s:shop/web?context=staging"`

	Targets string `env:"TARGETS" desc:"Where the image goes: k8s: and heroku: addresses separated by spaces or newlines; a word starting with # comments out the rest of its line. Add ?container=NAME,NAME to change several containers of a workload, or TARGET=SOURCE pairs to give each the image of a source container; add ?health=URL to check a target over HTTP after its release. A line --- between addresses starts the next wave: a wave is promoted only after the one before passed its gates and soak." example:"k8s:shop/web?context=production"`

	Gates string `env:"GATES" desc:"Metric gates each wave must pass before the next starts, the last one included: a YAML list of metrics written as in an Argo Rollouts AnalysisTemplate (interval, count, initialDelay, successCondition, failureCondition, failureLimit, inconclusiveLimit, consecutiveErrorLimit; provider prometheus or web)." example:"[{name: error-rate, interval: 30s, count: 5, successCondition: 'result[0] < 0.01', provider: {prometheus: {address: 'http://prometheus:9090', query: 'sum(rate(errors_total[1m]))'}}}]"`

	Soak time.Duration `env:"SOAK" envDefault:"0s" desc:"How long each wave must stay healthy after its verification, its rollouts and dynos still watched, before the next wave starts (and before a promotion succeeds); 0 to 6h." example:"5m"`

	Kubeconfig string `env:"KUBECONFIG" alias:"KUBECONFIG" desc:"Kubeconfig files, separated like PATH; default ~/.kube/config. The contexts named by k8s: addresses are looked up here." example:"/home/ci/.kube/config"`

	KubeconfigData string `env:"KUBECONFIG_DATA" secret:"true" desc:"A whole kubeconfig, as YAML or base64, for CI secrets; when set it is used instead of FERRY_KUBECONFIG."`

	HerokuAPIKey string `env:"HEROKU_API_KEY" alias:"HEROKU_API_KEY" secret:"true" desc:"Heroku API key (from heroku authorizations:create); needed when any address is heroku:."`

	HerokuAPIURL string `env:"HEROKU_API_URL" envDefault:"https://api.heroku.com" desc:"Heroku Platform API base URL." example:"https://api.heroku.com"`

	HerokuAcceptNoRollback bool `env:"HEROKU_ACCEPT_NO_ROLLBACK" envDefault:"false" desc:"Promote a Heroku target whose current release Heroku has expired, or may expire before a restore (older than 30 days, or pushed out of the 20 newest): should the promotion fail, ferry could not roll it back." example:"true"`

	HerokuRegistry string `env:"HEROKU_REGISTRY" envDefault:"registry.heroku.com" desc:"Heroku container registry host that images are copied to." example:"registry.heroku.com"`

	Platform string `env:"PLATFORM" envDefault:"linux/amd64" desc:"Platform (os/arch[/variant]) picked from a multi-platform image for Heroku, which runs single-platform images only." example:"linux/amd64"`

	KubeCredentials string `env:"KUBE_CREDENTIALS" envDefault:"auto" desc:"Who gets the tokens of kubeconfig users whose exec plugin is aws (eks get-token), aws-iam-authenticator, gke-gcloud-auth-plugin or kubelogin: auto (ferry itself when the plugin is not installed), ferry (always ferry) or plugin (always the plugin)." example:"ferry"`

	AWSRoleARN string `env:"AWS_ROLE_ARN" desc:"An AWS IAM role to assume for EKS and ECR: with the CI job's OIDC token in GitHub Actions (permissions: id-token: write) and CircleCI, else with the AWS credentials at hand." example:"arn:aws:iam::111122223333:role/ferry"`

	AWSRegion string `env:"AWS_REGION" alias:"AWS_REGION" desc:"The AWS region of STS and ECR when neither the kubeconfig's plugin nor the registry host names one." example:"eu-west-1"`

	AWSAudience string `env:"AWS_AUDIENCE" desc:"The audience of the CI job's OIDC token exchanged for FERRY_AWS_ROLE_ARN, a client id of the IAM OIDC identity provider; default sts.amazonaws.com, and in CircleCI the token's own (the organization id)." example:"sts.amazonaws.com"`

	GCPWorkloadIdentityProvider string `env:"GCP_WORKLOAD_IDENTITY_PROVIDER" desc:"A Google workload identity pool provider: ferry exchanges the CI job's OIDC token for Google credentials for GKE and Artifact Registry." example:"projects/123456789/locations/global/workloadIdentityPools/github/providers/acme"`

	GCPServiceAccount string `env:"GCP_SERVICE_ACCOUNT" desc:"A Google service account to impersonate after workload identity federation." example:"ferry-promoter@acme-prod.iam.gserviceaccount.com"`

	GCPAudience string `env:"GCP_AUDIENCE" desc:"The audience of the CI job's OIDC token for FERRY_GCP_WORKLOAD_IDENTITY_PROVIDER; default the provider's own, https://iam.googleapis.com/ followed by its name." example:"https://iam.googleapis.com/projects/123456789/locations/global/workloadIdentityPools/github/providers/acme"`

	GoogleApplicationCredentials string `env:"GOOGLE_APPLICATION_CREDENTIALS" alias:"GOOGLE_APPLICATION_CREDENTIALS" desc:"A Google credentials file: a service account key or a workload identity federation configuration. In a GitHub docker action, a path in the runner's workspace is read from /github/workspace." example:"/github/workspace/gcp-credentials.json"`

	AzureClientID string `env:"AZURE_CLIENT_ID" alias:"AZURE_CLIENT_ID" desc:"The Entra ID application (or managed identity) ferry signs in as for AKS and ACR: with FERRY_AZURE_CLIENT_SECRET, or with the CI job's OIDC token through a federated credential." example:"00000000-0000-0000-0000-000000000000"`

	AzureTenantID string `env:"AZURE_TENANT_ID" alias:"AZURE_TENANT_ID" desc:"The Entra ID tenant of FERRY_AZURE_CLIENT_ID." example:"11111111-1111-1111-1111-111111111111"`

	AzureClientSecret string `env:"AZURE_CLIENT_SECRET" alias:"AZURE_CLIENT_SECRET" secret:"true" desc:"A client secret of FERRY_AZURE_CLIENT_ID; without it, the CI job's OIDC token is used as a federated credential."`

	AzureAudience string `env:"AZURE_AUDIENCE" desc:"The audience of the CI job's OIDC token exchanged with Entra ID (the federated credential's audience); default api://AzureADTokenExchange, and in CircleCI the token's own (the organization id)." example:"api://AzureADTokenExchange"`

	GitHubToken string `env:"GITHUB_TOKEN" alias:"GITHUB_TOKEN" secret:"true" desc:"A GitHub token that can read packages, for images on ghcr.io (in a workflow: github-token: ${{ github.token }} with permissions: packages: read)."`

	GitHubEnvironment string `env:"GITHUB_ENVIRONMENT" desc:"promote: record the promotion as a GitHub Deployment of the commit to this environment too: statuses in_progress, then success, failure, error or inactive, the run's URL as log URL, the image and digest in the payload. Needs FERRY_GITHUB_TOKEN with permissions: deployments: write, and the repository (GITHUB_REPOSITORY, or the CircleCI project's)." example:"production"`

	Output string `env:"OUTPUT" envDefault:"text" desc:"Report format on standard output: text or json." example:"json"`

	Timeout time.Duration `env:"TIMEOUT" envDefault:"5m" desc:"How long each target may take to roll out and pass its checks after its release; more than 0, at most 6h." example:"5m"`

	RestoreTimeout time.Duration `env:"RESTORE_TIMEOUT" envDefault:"5m" desc:"How long restoring the changed targets may take after a failure, even when the CI job is being cancelled; more than 0, at most 6h." example:"5m"`

	Parallelism int `env:"PARALLELISM" envDefault:"64" desc:"How many targets are released, verified and, after a failure, restored at the same time, 1 to 64; by default all of them, up to 64." example:"16"`

	ResolveTags bool `env:"RESOLVE_TAGS" envDefault:"false" desc:"Let a k8s source whose spec names a tag be resolved in the registry when its pods do not tell the digest (the tag may have moved since the pods started)." example:"true"`

	OnPaused string `env:"ON_PAUSED" envDefault:"refuse" desc:"What to do with a paused target Deployment: refuse (change nothing) or resume it." example:"resume"`

	OnProgressing string `env:"ON_PROGRESSING" envDefault:"refuse" desc:"What to do with a target Deployment that is still rolling out: refuse (change nothing) or wait for that rollout first." example:"wait"`

	OnOwned string `env:"ON_OWNED" envDefault:"refuse" desc:"What to do with a target workload that Helm, Argo CD or Flux manages: refuse (change nothing, and say how to promote through it); patch it anyway, knowing that the owner may put its own image back after ferry reported it promoted; or apply-as-owner, only for workloads whose images a Helm 4 server-side apply owns: write the image as Helm's field manager, so the next helm upgrade applies without a conflict (and puts the chart's image back). apply-as-owner refuses every other target." example:"patch"`

	Command string `env:"COMMAND" desc:"The command to run when none is given on the command line (the GitHub Action's way to choose): promote, plan, status, rollback or recover; in GitHub Actions it defaults to promote." example:"plan"`

	ToRevision string `env:"TO_REVISION" desc:"rollback: the Deployment revision (7) or Heroku release version (v42) to go back to; empty: the one before the current one." example:"7"`

	ChangeCause string `env:"CHANGE_CAUSE" desc:"Why the release happens, recorded as the Deployment's kubernetes.io/change-cause and the Heroku release description; default names ferry, the image and the CI run." example:"release 1.4.2"`

	LockWait time.Duration `env:"LOCK_WAIT" envDefault:"10m" desc:"promote, recover, rollback: how long to wait for another run that holds a target's lock (a Kubernetes Lease) before giving up with exit 2, nothing changed; 0 gives up at once. The default outlasts one run with the default FERRY_TIMEOUT and FERRY_RESTORE_TIMEOUT; at most 6h." example:"10m"`

	LockTTL time.Duration `env:"LOCK_TTL" envDefault:"30s" desc:"How long a target's lock outlives its holder's last renewal (a run renews it every third of this while it lives): after a killed run, the next one waits at most this long; 2s to 10m." example:"30s"`

	Recover string `env:"RECOVER" envDefault:"restore" desc:"What promote and recover do with a release an interrupted run left unproven: restore the recorded snapshot, or verify it now and keep it when healthy (restore it when not)." example:"verify"`

	HealthTimeout time.Duration `env:"HEALTH_TIMEOUT" envDefault:"2m" desc:"How long a target's HTTP health check may take to pass; more than 0, at most 6h." example:"2m"`

	HealthInterval time.Duration `env:"HEALTH_INTERVAL" envDefault:"2s" desc:"Time between two HTTP health checks; more than 0 and at most FERRY_HEALTH_TIMEOUT." example:"2s"`

	HealthThreshold int `env:"HEALTH_THRESHOLD" envDefault:"3" desc:"Consecutive failed HTTP health checks after which a target counts as unhealthy, 1 to 100." example:"3"`

	HealthSoak time.Duration `env:"HEALTH_SOAK" envDefault:"0s" desc:"How long the HTTP health check must keep passing after it first passed; 0 to 6h." example:"1m"`

	HealthStatus string `env:"HEALTH_STATUS" envDefault:"200-299" desc:"HTTP status codes that count as healthy: codes and ranges separated by commas." example:"200-299,304"`

	HealthBody string `env:"HEALTH_BODY" desc:"A regular expression (RE2) the health response body must match; empty: any body." example:"\"status\":\\s*\"ok\""`

	HealthVersion string `env:"HEALTH_VERSION" desc:"Make the HTTP health check require that the answer shows the promoted version, so that old pods and Heroku's preboot cannot pass it: header:NAME or json:FIELD.PATH, whose value must be the promoted digest (sha256:...), its hex or first 12 hex digits, or the CI commit or its first 7 characters." example:"header:X-Version"`

	VerifyKey string `env:"VERIFY_KEY" desc:"A public key (PEM, as cosign generate-key-pair writes it; a file, or the PEM itself) whose signature the source image must carry: cosign 3 bundles (OCI referrers) and cosign .sig signatures are read." example:"cosign.pub"`

	VerifyIdentity string `env:"VERIFY_IDENTITY" desc:"A regular expression (RE2, matching the whole subject) for keyless signing: the source image must carry a Sigstore signature whose certificate names a matching identity, issued by FERRY_VERIFY_ISSUER." example:"https://github\\.com/acme/shop/\\.github/workflows/release\\.yml@refs/tags/v.*"`

	VerifyIssuer string `env:"VERIFY_ISSUER" desc:"The OIDC issuer of FERRY_VERIFY_IDENTITY, exactly." example:"https://token.actions.githubusercontent.com"`

	VerifyProvenance string `env:"VERIFY_PROVENANCE" desc:"Require a SLSA provenance attestation by the same signer: builder=ID, repository=REPO and ref=REF, separated by commas; each one given must match." example:"repository=github.com/acme/shop,ref=refs/heads/main"`

	VerifyTLog bool `env:"VERIFY_TLOG" envDefault:"true" desc:"Require a transparency log (Rekor) entry for the signature and attestations; false when the signer uses none (cosign with a signing config without Rekor)." example:"false"`

	VerifyTrustedRoot string `env:"VERIFY_TRUSTED_ROOT" desc:"A Sigstore trusted_root.json replacing the public-good one built into ferry (a private or air-gapped Sigstore)." example:"trusted_root.json"`

	// Mode is where ferry runs: from GITHUB_ACTIONS=true or CIRCLECI=true,
	// overridden by FERRY_MODE=github|circleci|local.
	Mode Mode `env:"-"`

	// Env is the whole environment Load read: the rest of ferry asks it,
	// never the process environment.
	Env Env `env:"-"`

	// from maps a field's key ("TARGETS") to the variable its value came
	// from ("INPUT_TARGETS"), for naming problems.
	from map[string]string
	// loadProblems are the values Load could not convert and the
	// variables it does not know.
	loadProblems []Problem
}

// StatusRange is an inclusive range of HTTP status codes.
type StatusRange struct{ Min, Max int }

// Contains reports whether code is in r.
func (r StatusRange) Contains(code int) bool { return r.Min <= code && code <= r.Max }

// Load reads the configuration from environ, given as os.Environ returns it
// (the first of repeated names wins). It never fails because of a value:
// values that do not convert (FERRY_TIMEOUT=abc) are kept as problems that
// Validate reports together with every other one, and the field keeps its
// zero value. The error is for faults in ferry itself.
func Load(environ []string) (Settings, error) {
	all := make(map[string]string, len(environ))
	for _, kv := range environ {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			continue
		}
		if _, seen := all[k]; !seen {
			all[k] = v
		}
	}

	var c Settings
	c.Env = Env(all)
	c.Mode, c.loadProblems = detectMode(all)
	c.loadProblems = append(c.loadProblems, unknownVars(all, c.Mode)...)
	c.from = map[string]string{}
	values := map[string]string{}
	for _, f := range fields {
		for _, name := range f.sources(c.Mode) {
			v := strings.TrimSpace(all[name])
			if v == "" {
				continue
			}
			// The runner passes every input's declared default; an input
			// that only carries its default must not hide a FERRY_
			// variable the workflow set on purpose.
			if name == f.inputVar() && v == f.def && values[Prefix+f.key] != "" {
				continue
			}
			values[Prefix+f.key] = v
			c.from[f.key] = name
		}
	}

	err := env.ParseWithOptions(&c, env.Options{Environment: values, Prefix: Prefix})
	if err == nil {
		return c, nil
	}
	var agg env.AggregateError
	if !errors.As(err, &agg) {
		return Settings{}, fmt.Errorf("reading settings: %w", err)
	}
	for _, e := range agg.Errors {
		var pe env.ParseError
		if !errors.As(e, &pe) {
			return Settings{}, fmt.Errorf("reading settings: %w", e)
		}
		f, ok := fieldNamed(pe.Name)
		if !ok {
			return Settings{}, fmt.Errorf("reading settings: no variable for field %s", pe.Name)
		}
		example := f.example
		if example == "" {
			example = f.def
		}
		c.loadProblems = append(c.loadProblems, c.problem(f, typeMessage(f, values[Prefix+f.key]), example))
	}
	return c, nil
}

func detectMode(all map[string]string) (Mode, []Problem) {
	m := ModeLocal
	if all["CIRCLECI"] == "true" {
		m = ModeCircleCI
	}
	if all["GITHUB_ACTIONS"] == "true" {
		m = ModeGitHub
	}
	v := strings.TrimSpace(all[Prefix+"MODE"])
	switch Mode(v) {
	case "":
		return m, nil
	case ModeGitHub, ModeCircleCI, ModeLocal:
		return Mode(v), nil
	}
	return m, []Problem{{
		Var:     Prefix + "MODE",
		Message: fmt.Sprintf("%q is not a mode: use github, circleci or local", v),
		Example: string(ModeLocal),
		lhs:     Prefix + "MODE",
		order:   -1,
	}}
}

// typeMessage says why value did not convert to f's type. It never shows a
// secret.
func typeMessage(f field, value string) string {
	shown := fmt.Sprintf("%q ", value)
	if f.secret {
		shown = "the value "
	}
	switch {
	case f.typ == reflect.TypeFor[time.Duration]():
		return shown + "is not a duration: write a number with a unit (90s, 5m, 1h30m)"
	case f.typ.Kind() == reflect.Int:
		return shown + "is not a whole number"
	case f.typ.Kind() == reflect.Bool:
		return shown + "is not true or false"
	}
	return shown + "is not valid"
}

// Secrets returns every non-empty secret value, for masking in logs. A
// base64 FERRY_KUBECONFIG_DATA is returned decoded as well; which parts of
// a kubeconfig are credentials is pkg/kube's business.
func (c Settings) Secrets() []string {
	var out []string
	add := func(s string) {
		if s == "" {
			return
		}
		for _, o := range out {
			if o == s {
				return
			}
		}
		out = append(out, s)
	}
	for _, k := range slices.Sorted(maps.Keys(c.Env)) {
		if strings.HasPrefix(k, AppKeyPrefix) {
			add(strings.TrimSpace(c.Env[k]))
		}
	}
	for _, f := range fields {
		if !f.secret {
			continue
		}
		v := reflect.ValueOf(c).Field(f.index).String()
		add(v)
		if f.key == "KUBECONFIG_DATA" {
			if b, ok := decodeBase64(v); ok {
				add(strings.TrimSpace(string(b)))
			}
		}
	}
	return out
}

// decodeBase64 decodes s, ignoring whitespace (base64 wraps lines), with or
// without padding.
func decodeBase64(s string) ([]byte, bool) {
	compact := strings.Join(strings.Fields(s), "")
	if compact == "" {
		return nil, false
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding} {
		if b, err := enc.DecodeString(compact); err == nil {
			return b, true
		}
	}
	return nil, false
}
