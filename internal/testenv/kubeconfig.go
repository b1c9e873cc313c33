package testenv

import (
	"fmt"
	"slices"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// KubeconfigOption changes what Kubeconfig writes.
type KubeconfigOption func(*clientcmdapi.Config)

// CurrentContext sets current-context (default: the first context name in
// sorted order). The name need not be one of the contexts, so a test can
// exercise a dangling current-context.
func CurrentContext(name string) KubeconfigOption {
	return func(c *clientcmdapi.Config) { c.CurrentContext = name }
}

// Impersonate makes every user entry act as user in groups (FerryUser
// may impersonate), so that what ferry may do is what RBAC grants them;
// the audit log still names FerryUser.
func Impersonate(user string, groups ...string) KubeconfigOption {
	return func(c *clientcmdapi.Config) {
		for _, a := range c.AuthInfos {
			a.Impersonate, a.ImpersonateGroups = user, groups
		}
	}
}

// Kubeconfig returns a kubeconfig for the code under test with one context
// per map key; context names may hold ':', '/' and '@' (EKS ARNs, GKE
// names). Each context has its own cluster and user entry of the same name:
// the cluster's server and CA (TLS is verified), and a static token of
// FerryUser, so the audit log tells ferry's requests from the harness's.
func Kubeconfig(contexts map[string]*Cluster, opts ...KubeconfigOption) []byte {
	cfg := clientcmdapi.NewConfig()
	names := make([]string, 0, len(contexts))
	for name, c := range contexts {
		names = append(names, name)
		cfg.Clusters[name] = &clientcmdapi.Cluster{Server: c.Server, CertificateAuthorityData: c.caPEM}
		cfg.AuthInfos[name] = &clientcmdapi.AuthInfo{Token: c.ferryToken}
		cfg.Contexts[name] = &clientcmdapi.Context{Cluster: name, AuthInfo: name}
	}
	slices.Sort(names)
	if len(names) > 0 {
		cfg.CurrentContext = names[0]
	}
	for _, opt := range opts {
		opt(cfg)
	}
	data, err := clientcmd.Write(*cfg)
	if err != nil {
		// Only a type the YAML encoder cannot handle gets here, and the
		// config holds none.
		panic(fmt.Sprintf("testenv: encoding kubeconfig: %v", err))
	}
	return data
}
