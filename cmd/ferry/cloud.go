package main

import (
	"os"

	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/ferry-dev/ferry/pkg/cloud/awsauth"
	"github.com/ferry-dev/ferry/pkg/cloud/azureauth"
	"github.com/ferry-dev/ferry/pkg/cloud/ciauth"
	"github.com/ferry-dev/ferry/pkg/cloud/gcpauth"
	"github.com/ferry-dev/ferry/pkg/cloud/kubeauth"
	"github.com/ferry-dev/ferry/pkg/cloud/secret"
	"github.com/ferry-dev/ferry/pkg/config"
	"github.com/ferry-dev/ferry/pkg/keychain"
)

// credentials are where a run gets the credentials of clusters and
// registries: the clouds' (with the CI job's OIDC token where set up),
// Docker's and podman's config files, and a GitHub token. Every
// credential they yield is reported before it is used, so that it is
// masked and scrubbed like the configured secrets.
type credentials struct {
	kube     *kubeauth.Resolver
	sources  []keychain.Source
	report   secret.Reporter
	keychain authn.Keychain // sources, reporting what they yield
}

func newCredentials(cfg config.Config, report secret.Reporter, logf keychain.Logf) (*credentials, error) {
	env := cfg.Env
	exists := func(p string) bool { _, err := os.Stat(p); return err == nil }
	path := func(p string) string { return env.ContainerPath(p, exists) }
	oidc := ciauth.FromEnv(env.Lookup, nil, report)
	cloud := cfg.Cloud
	aws := awsauth.New(awsauth.Settings{
		Region: cloud.AWS.Region, RoleARN: cloud.AWS.RoleARN, Audience: cloud.AWS.Audience,
		SessionName: ciauth.SessionName(env.Lookup), OIDC: oidc, Report: report,
	})
	google := gcpauth.New(gcpauth.Settings{
		WorkloadIdentityProvider: cloud.GCP.WorkloadIdentityProvider, ServiceAccount: cloud.GCP.ServiceAccount,
		Audience: cloud.GCP.Audience, OIDC: oidc, CredentialsFile: cloud.GCP.CredentialsFile,
		ConfigDir: path(env.Get("CLOUDSDK_CONFIG")), Home: env.Get("HOME"), MetadataHost: env.Get("GCE_METADATA_HOST"),
		Report: report,
	})
	az := azureauth.Settings{
		TenantID: cloud.Azure.TenantID, ClientID: cloud.Azure.ClientID, ClientSecret: cloud.Azure.ClientSecret,
		ClientCertificate:         path(env.Get("AZURE_CLIENT_CERTIFICATE_PATH")),
		ClientCertificatePassword: env.Get("AZURE_CLIENT_CERTIFICATE_PASSWORD"),
		FederatedTokenFile:        path(env.Get("AZURE_FEDERATED_TOKEN_FILE")),
		AuthorityHost:             env.Get("AZURE_AUTHORITY_HOST"),
		Audience:                  cloud.Azure.Audience,
		Report:                    report,
	}
	if az.ClientID != "" && az.ClientSecret == "" && az.ClientCertificate == "" && az.FederatedTokenFile == "" {
		az.OIDC = oidc // a federated credential of the CI job's
	}
	policy, err := kubeauth.ParsePolicy(cloud.KubeCredentials)
	if err != nil {
		return nil, err
	}
	c := &credentials{
		kube:   &kubeauth.Resolver{Policy: policy, Env: env.Lookup, AWS: aws, Google: google, Azure: az, Report: report},
		report: report,
	}
	for _, f := range keychain.ConfigFiles(env.Get, path) {
		kc, err := keychain.ConfigFile(f)
		if err != nil {
			return nil, err
		}
		c.sources = append(c.sources, keychain.Source{Name: f, Keychain: kc})
	}
	c.sources = append(c.sources,
		keychain.Source{Name: "AWS credentials (ECR)", Keychain: aws.Keychain()},
		keychain.Source{Name: "Google credentials (Artifact Registry, GCR)", Keychain: google.Keychain()},
		keychain.Source{Name: "Entra ID credentials (ACR)", Keychain: azureauth.New(az).Keychain()},
	)
	if cloud.GitHubToken != "" {
		c.sources = append(c.sources, keychain.Source{Name: "the GitHub token", Keychain: keychain.Token("ghcr.io", "ferry", cloud.GitHubToken)})
	}
	c.keychain = secret.Keychain(keychain.New(logf, c.sources...), report)
	return c, nil
}

// with returns the credentials' keychain with more sources after its own
// (a k8s: source's pull secrets).
func (c *credentials) with(logf keychain.Logf, more ...keychain.Source) authn.Keychain {
	if len(more) == 0 {
		return c.keychain
	}
	return secret.Keychain(keychain.New(logf, append(append([]keychain.Source(nil), c.sources...), more...)...), c.report)
}
