package cloudlab

import (
	"context"
	"crypto/rsa"
	"errors"
	"fmt"
	"time"

	"github.com/ferry-dev/ferry/internal/testenv/awsemu"
	"github.com/ferry-dev/ferry/internal/testenv/azureemu"
	"github.com/ferry-dev/ferry/internal/testenv/cloudnet"
	"github.com/ferry-dev/ferry/internal/testenv/gcpemu"
	"github.com/ferry-dev/ferry/internal/testenv/kubeauth"
	"github.com/ferry-dev/ferry/internal/testenv/oidcemu"
)

// Options configure Start. Zero values take the defaults in brackets.
type Options struct {
	// CircleCIOrg is the CircleCI organisation id [a fixed UUID].
	CircleCIOrg string
	// AzureTenant is the Entra ID tenant [a random GUID].
	AzureTenant string
	// AWS, Google and Azure are passed to the emulators; their Client is
	// always the lab's.
	AWS    awsemu.Options
	Google gcpemu.Options
	Azure  azureemu.Options
}

// Lab is the running emulators.
type Lab struct {
	Net         *cloudnet.Net
	GitHub      *oidcemu.GitHub
	CircleCI    *oidcemu.CircleCI
	AWS         *awsemu.Emulator
	Google      *gcpemu.Emulator
	Azure       *azureemu.Emulator
	AzureTenant string

	webhooks []*kubeauth.Webhook
}

// Start starts the proxy and installs every emulator on it.
func Start(opts Options) (*Lab, error) {
	if opts.CircleCIOrg == "" {
		opts.CircleCIOrg = "c1c1c1c1-0000-4000-8000-00000000f3e7"
	}
	if opts.AzureTenant == "" {
		opts.AzureTenant = azureemu.NewGUID()
	}
	n, err := cloudnet.Start()
	if err != nil {
		return nil, err
	}
	l := &Lab{Net: n, AzureTenant: opts.AzureTenant}
	fail := func(err error) (*Lab, error) {
		return nil, errors.Join(fmt.Errorf("starting cloud lab: %w", err), n.Close())
	}
	if l.GitHub, err = oidcemu.NewGitHub(); err != nil {
		return fail(err)
	}
	if l.CircleCI, err = oidcemu.NewCircleCI(opts.CircleCIOrg); err != nil {
		return fail(err)
	}
	opts.AWS.Client, opts.Google.Client, opts.Azure.Client = n.Client(), n.Client(), n.Client()
	l.AWS = awsemu.New(opts.AWS)
	l.Google = gcpemu.New(opts.Google)
	if l.Azure, err = azureemu.New(opts.Azure); err != nil {
		return fail(err)
	}
	l.GitHub.Install(n)
	oidcemu.Serve(n, l.CircleCI.Issuer)
	l.AWS.Install(n)
	l.Google.Install(n)
	l.Azure.Install(n)
	return l, nil
}

// Env returns base (os.Environ() for a subprocess) with the lab's
// HTTPS_PROXY and SSL_CERT_FILE, and without settings that would
// override them (cloudnet.Overriding).
func (l *Lab) Env(base []string) []string { return l.Net.ProcessEnv(base) }

// WebhookOptions configure Webhook.
type WebhookOptions struct {
	// ClusterID is the EKS cluster name tokens must be minted for.
	ClusterID string
	// EKSMappings maps canonical ARNs to users (see kubeauth.EKS).
	EKSMappings map[string]kubeauth.Mapping
	// EKSMaxAge is how old an EKS token may be [15m].
	EKSMaxAge time.Duration
}

// Webhook starts a token webhook that accepts the lab's EKS tokens for
// the cluster, Google access tokens and Entra ID tokens of the lab's
// tenant for the AKS server application. Close stops it.
func (l *Lab) Webhook(o WebhookOptions) (*kubeauth.Webhook, error) {
	google := l.Google
	azure := l.Azure
	wh, err := kubeauth.StartWebhook(
		&kubeauth.EKS{ClusterID: o.ClusterID, Client: l.Net.Client(), MaxAge: o.EKSMaxAge, Mappings: o.EKSMappings},
		&kubeauth.GKE{Lookup: func(_ context.Context, tok string) (string, time.Time, error) {
			id, err := google.Lookup(tok)
			return id.Name, id.Expires, err
		}},
		&kubeauth.AKS{Issuers: azureemu.Issuers(l.AzureTenant),
			Keys: func(context.Context) (map[string]*rsa.PublicKey, error) { return azure.SigningKeys(), nil }},
	)
	if err != nil {
		return nil, err
	}
	l.webhooks = append(l.webhooks, wh)
	return wh, nil
}

// Close stops the webhooks and the proxy.
func (l *Lab) Close() error {
	var errs []error
	for _, w := range l.webhooks {
		errs = append(errs, w.Close())
	}
	return errors.Join(append(errs, l.Net.Close())...)
}
