package kubeauth

import (
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"

	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/ferry-dev/ferry/pkg/cloud/awsauth"
	"github.com/ferry-dev/ferry/pkg/cloud/ciauth"
	"github.com/ferry-dev/ferry/pkg/promote"
)

// Kind names a recognized plugin.
type Kind string

// The plugins ferry can stand in for.
const (
	AWSCLI              Kind = "aws eks get-token"
	IAMAuthenticator    Kind = "aws-iam-authenticator"
	GKEPlugin           Kind = "gke-gcloud-auth-plugin"
	Kubelogin           Kind = "kubelogin"
	supportedPluginList      = "aws (eks get-token), aws-iam-authenticator, gke-gcloud-auth-plugin and kubelogin (get-token)"
)

// Plugin is a recognized exec plugin and what its arguments ask for.
type Plugin struct {
	Kind Kind
	// Command is the exec config's command, as written.
	Command string

	// EKS: the x-k8s-aws-id value, the region, profile and role.
	Cluster string
	Region  string
	Profile string
	Role    awsauth.RoleOptions

	// AKS: kubelogin's login method (after AAD_LOGIN_METHOD) and the
	// values it reads from flags and variables.
	Login                     string
	ServerID                  string
	ClientID, TenantID        string
	ClientSecret              string
	ClientCertificate         string
	ClientCertificatePassword string
	FederatedTokenFile        string
	AuthorityHost             string
	Environment               string
	IdentityResourceID        string
	DisableInstanceDiscovery  bool
}

// execEnv is what the plugin would see: the exec config's env over the
// process environment.
func execEnv(ec *clientcmdapi.ExecConfig, env ciauth.Lookup) ciauth.Lookup {
	return func(k string) (string, bool) {
		for i := len(ec.Env) - 1; i >= 0; i-- {
			if ec.Env[i].Name == k {
				return ec.Env[i].Value, true
			}
		}
		if env == nil {
			return "", false
		}
		return env(k)
	}
}

// ownEnv is only the exec config's env (the process environment reaches
// the cloud SDKs by itself).
func ownEnv(ec *clientcmdapi.ExecConfig) ciauth.Lookup { return execEnv(ec, nil) }

// flags parses GNU-style arguments: --name value, --name=value, -n value;
// names in valued take a value, others are booleans. Positional arguments
// are returned in order.
func flags(args []string, valued map[string]bool) (map[string]string, []string, error) {
	set := map[string]string{}
	var pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			pos = append(pos, args[i+1:]...)
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			pos = append(pos, a)
			continue
		}
		name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if valued[name] && !hasVal {
			if i+1 >= len(args) {
				return nil, nil, fmt.Errorf("%s needs a value", a)
			}
			i++
			val = args[i]
		} else if !hasVal {
			val = "true"
		}
		set[name] = val
	}
	return set, pos, nil
}

// first returns the first non-empty value among keys of m.
func first(m map[string]string, keys ...string) string {
	for _, k := range keys {
		if v := m[k]; v != "" {
			return v
		}
	}
	return ""
}

// pick returns the first non-empty value.
func pick(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

func commandName(cmd string) string {
	return strings.TrimSuffix(filepath.Base(cmd), ".exe")
}

// Parse recognizes ec's plugin. ok is false for a plugin ferry does not
// know (its error, if any, is nil then); err is an input error when a
// known plugin's arguments cannot be served. env is the process
// environment; the exec config's own env is laid over it.
func Parse(ec *clientcmdapi.ExecConfig, env ciauth.Lookup) (p Plugin, ok bool, err error) {
	if ec == nil {
		return Plugin{}, false, nil
	}
	switch commandName(ec.Command) {
	case "aws":
		return parseAWSCLI(ec)
	case "aws-iam-authenticator":
		p, err := parseIAMAuthenticator(ec)
		return p, true, err
	case "gke-gcloud-auth-plugin":
		p, err := parseGKE(ec)
		return p, true, err
	case "kubelogin":
		return parseKubelogin(ec, env)
	}
	return Plugin{}, false, nil
}

var awsValued = map[string]bool{
	"region": true, "profile": true, "output": true, "query": true, "endpoint-url": true, "color": true,
	"ca-bundle": true, "cli-read-timeout": true, "cli-connect-timeout": true, "cli-binary-format": true,
	"cluster-name": true, "cluster-id": true, "role-arn": true,
	// `aws eks update-kubeconfig --role-arn ARN` writes `--role ARN`, which
	// get-token's argument parser takes as short for --role-arn.
	"role": true,
}

func parseAWSCLI(ec *clientcmdapi.ExecConfig) (Plugin, bool, error) {
	set, pos, err := flags(ec.Args, awsValued)
	if err != nil {
		return Plugin{}, true, inputf(ec, "%v", err)
	}
	if len(pos) < 2 || pos[0] != "eks" || pos[1] != "get-token" {
		return Plugin{}, false, nil // another aws command: not a token ferry knows
	}
	if set["endpoint-url"] != "" {
		return Plugin{}, true, inputf(ec, "--endpoint-url is not supported; remove it and set AWS_ENDPOINT_URL_STS instead")
	}
	e := ownEnv(ec)
	p := Plugin{
		Kind: AWSCLI, Command: ec.Command,
		Cluster: first(set, "cluster-id", "cluster-name"),
		Region:  pick(set["region"], e.Get("AWS_REGION"), e.Get("AWS_DEFAULT_REGION")),
		Profile: pick(set["profile"], e.Get("AWS_PROFILE"), e.Get("AWS_DEFAULT_PROFILE")),
		Role:    awsauth.RoleOptions{ARN: first(set, "role-arn", "role"), SessionName: "EKSGetTokenAuth"},
	}
	if p.Cluster == "" {
		return Plugin{}, true, inputf(ec, "`aws eks get-token` names no cluster: add --cluster-name NAME to its args")
	}
	return p, true, nil
}

var iamValued = map[string]bool{
	"i": true, "cluster-id": true, "r": true, "role": true, "region": true, "s": true, "session-name": true,
	"e": true, "external-id": true, "c": true, "config": true, "l": true, "log-format": true, "v": true, "log-verbosity": true,
	"feature-gates": true,
}

func parseIAMAuthenticator(ec *clientcmdapi.ExecConfig) (Plugin, error) {
	set, pos, err := flags(ec.Args, iamValued)
	if err != nil {
		return Plugin{}, inputf(ec, "%v", err)
	}
	if len(pos) == 0 || pos[0] != "token" {
		return Plugin{}, inputf(ec, "ferry stands in for `aws-iam-authenticator token` only, not %q", strings.Join(pos, " "))
	}
	if set["c"] != "" || set["config"] != "" {
		return Plugin{}, inputf(ec, "--config is not supported; give the cluster with -i CLUSTER_ID")
	}
	e := ownEnv(ec)
	p := Plugin{
		Kind: IAMAuthenticator, Command: ec.Command,
		Cluster: pick(first(set, "cluster-id", "i"), e.Get("KUBERNETES_AWS_AUTHENTICATOR_CLUSTER_ID")),
		Region:  pick(set["region"], e.Get("AWS_REGION"), e.Get("AWS_DEFAULT_REGION")),
		Profile: e.Get("AWS_PROFILE"),
		Role: awsauth.RoleOptions{
			ARN:                pick(first(set, "role", "r"), e.Get("DEFAULT_ROLE")),
			ExternalID:         first(set, "external-id", "e"),
			SessionName:        first(set, "session-name", "s"),
			ForwardSessionName: set["forward-session-name"] == "true",
		},
	}
	if p.Cluster == "" {
		return Plugin{}, inputf(ec, "`aws-iam-authenticator token` names no cluster: add -i CLUSTER_ID to its args")
	}
	return p, nil
}

func parseGKE(ec *clientcmdapi.ExecConfig) (Plugin, error) {
	set, _, err := flags(ec.Args, map[string]bool{"location": true, "cluster": true, "verbosity": true, "v": true})
	if err != nil {
		return Plugin{}, inputf(ec, "%v", err)
	}
	if set["use_edge_cloud"] == "true" {
		return Plugin{}, inputf(ec, "--use_edge_cloud (Distributed Cloud) is not supported; ferry mints GKE tokens from Google application default credentials")
	}
	return Plugin{Kind: GKEPlugin, Command: ec.Command}, nil
}

var kubeloginValued = map[string]bool{
	"l": true, "login": true, "server-id": true, "client-id": true, "client-secret": true, "client-certificate": true,
	"client-certificate-password": true, "t": true, "tenant-id": true, "e": true, "environment": true, "federated-token-file": true,
	"authority-host": true, "identity-resource-id": true, "username": true, "password": true, "token-cache-dir": true,
	"cache-dir": true, "pop-claims": true, "timeout": true, "azure-pipelines-service-connection-id": true, "v": true,
}

func parseKubelogin(ec *clientcmdapi.ExecConfig, env ciauth.Lookup) (Plugin, bool, error) {
	set, pos, err := flags(ec.Args, kubeloginValued)
	if err != nil {
		return Plugin{}, true, inputf(ec, "%v", err)
	}
	if len(pos) == 0 || pos[0] != "get-token" {
		return Plugin{}, true, inputf(ec, "ferry stands in for `kubelogin get-token` only, not %q", strings.Join(pos, " "))
	}
	e := execEnv(ec, env)
	// kubelogin lets its variables override its flags, AZURE_* last.
	over := func(flag string, vars ...string) string {
		v := set[flag]
		for _, name := range vars {
			if x, ok := e(name); ok && x != "" {
				v = x
			}
		}
		return v
	}
	p := Plugin{
		Kind: Kubelogin, Command: ec.Command,
		Login:                    pick(e.Get("AAD_LOGIN_METHOD"), first(set, "login", "l"), "devicecode"),
		ServerID:                 set["server-id"],
		TenantID:                 over("tenant-id", "AZURE_TENANT_ID"),
		Environment:              first(set, "environment", "e"),
		IdentityResourceID:       set["identity-resource-id"],
		DisableInstanceDiscovery: set["disable-instance-discovery"] == "true",
	}
	if p.TenantID == "" {
		p.TenantID = set["t"]
	}
	if set["use-azurerm-env-vars"] == "true" {
		p.ClientID = over("client-id", "ARM_CLIENT_ID")
		p.ClientSecret = over("client-secret", "ARM_CLIENT_SECRET")
		p.ClientCertificate = over("client-certificate", "ARM_CLIENT_CERTIFICATE_PATH")
		p.ClientCertificatePassword = over("client-certificate-password", "ARM_CLIENT_CERTIFICATE_PASSWORD")
		p.TenantID = over("tenant-id", "ARM_TENANT_ID")
	} else {
		p.ClientID = over("client-id", "AAD_SERVICE_PRINCIPAL_CLIENT_ID", "AZURE_CLIENT_ID")
		p.ClientSecret = over("client-secret", "AAD_SERVICE_PRINCIPAL_CLIENT_SECRET", "AZURE_CLIENT_SECRET")
		p.ClientCertificate = over("client-certificate", "AAD_SERVICE_PRINCIPAL_CLIENT_CERTIFICATE", "AZURE_CLIENT_CERTIFICATE_PATH")
		p.ClientCertificatePassword = over("client-certificate-password", "AAD_SERVICE_PRINCIPAL_CLIENT_CERTIFICATE_PASSWORD", "AZURE_CLIENT_CERTIFICATE_PASSWORD")
	}
	if p.Login == "workloadidentity" {
		p.ClientID = over("client-id", "AZURE_CLIENT_ID")
		p.FederatedTokenFile = over("federated-token-file", "AZURE_FEDERATED_TOKEN_FILE")
		p.AuthorityHost = over("authority-host", "AZURE_AUTHORITY_HOST")
	} else {
		p.FederatedTokenFile = set["federated-token-file"]
		p.AuthorityHost = set["authority-host"]
	}
	switch {
	case set["pop-enabled"] == "true":
		return Plugin{}, true, inputf(ec, "--pop-enabled (proof-of-possession tokens) is not supported; remove it to use bearer tokens")
	case set["legacy"] == "true":
		return Plugin{}, true, inputf(ec, "--legacy (\"spn:\" audiences) is not supported; remove it")
	case p.ServerID == "":
		return Plugin{}, true, inputf(ec, "`kubelogin get-token` names no --server-id; add --server-id %s for AKS-managed Entra ID", "6dae42f8-4368-4678-94ff-3960e28e3630")
	}
	return p, true, nil
}

var eksServer = regexp.MustCompile(`\.([a-z]{2}(?:-[a-z]+)+-[0-9]+)\.eks\.amazonaws\.com(?:\.cn)?(?::[0-9]+)?$`)

// RegionFromServer reads the region out of an EKS API server URL
// (https://ID.gr7.REGION.eks.amazonaws.com); "" for other servers.
func RegionFromServer(server string) string {
	s := strings.TrimSuffix(strings.ToLower(server), "/")
	if m := eksServer.FindStringSubmatch(s); m != nil {
		return m[1]
	}
	return ""
}

func inputf(ec *clientcmdapi.ExecConfig, format string, a ...any) error {
	return promote.Input(fmt.Errorf("credential plugin %q: "+format, append([]any{ec.Command}, a...)...))
}

// ErrUnsupported is wrapped by the error Decide returns for a plugin ferry
// cannot stand in for.
var ErrUnsupported = errors.New("unsupported credential plugin")
