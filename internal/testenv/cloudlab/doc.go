// Package cloudlab starts every cloud emulator of internal/testenv on one
// cloudnet.Net, wired to each other the way the clouds are: AWS STS,
// Google STS and Entra ID fetch the GitHub Actions and CircleCI issuers'
// keys over HTTPS through the proxy, and the kube webhook asks the STS
// emulator about EKS tokens. It is a convenience for end-to-end tests;
// each emulator's own package documents what it covers and what not.
//
//	lab, err := cloudlab.Start(cloudlab.Options{})
//	defer lab.Close()
//	cmd.Env = lab.Env(os.Environ())              // HTTPS_PROXY, SSL_CERT_FILE
//	wh, err := lab.Webhook(cloudlab.WebhookOptions{ClusterID: "prod", ...})
//	c, err := testenv.StartClusterWith(ctx, "production", testenv.ClusterOptions{TokenWebhook: wh.Config()})
//
// Registries (internal/testenv/regemu) are added per test with the
// emulator that issues their credentials (lab.AWS, lab.Google,
// lab.Azure) and Install(lab.Net).
package cloudlab
