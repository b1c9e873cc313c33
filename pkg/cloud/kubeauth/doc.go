// Package kubeauth lets ferry reach clusters whose kubeconfig users run an
// exec credential plugin that is not installed where ferry runs (ferry's
// image has none): it recognizes the plugins the managed clusters'
// `get-credentials` commands write and mints their tokens in process.
//
//   - `aws [--region R] [--profile P] eks get-token --cluster-name N
//     [--cluster-id ID] [--role-arn ARN]` (AWS_PROFILE, AWS_REGION and
//     AWS_DEFAULT_REGION in the plugin's env) and
//     `aws-iam-authenticator token -i ID [-r ARN] [--region R]
//     [-s SESSION] [-e EXTERNAL_ID] [--forward-session-name]`: an EKS token
//     from pkg/cloud/awsauth;
//   - `gke-gcloud-auth-plugin` with or without
//     --use_application_default_credentials: an access token from
//     pkg/cloud/gcpauth;
//   - `kubelogin get-token --server-id S --login spn|workloadidentity|msi|azurecli
//     ...` with kubelogin's flags and its variables (AAD_SERVICE_PRINCIPAL_*,
//     AZURE_*, AAD_LOGIN_METHOD; the variables win over the flags, as in
//     kubelogin): an Entra ID token from pkg/cloud/azureauth. The
//     interactive methods (devicecode, the default, interactive, and ropc,
//     azd, azurepipelines) are served with ferry's own Azure settings when
//     they name a credential, and are an input error otherwise.
//
// [Parse] reads an exec config into a [Plugin]; [Decide] is the pure
// choice between the plugin and ferry's own token under a [Policy] (by
// default ferry mints only when the plugin's command is not on PATH).
// [Resolver.Source] returns the token source, and [Configure] puts it into
// a client-go rest.Config in place of the exec provider.
//
// The configured transport keeps one token and renews it before it
// expires: when less than min(max(life/4, 30s), life/2) of its life is
// left ([Renew]). A quarter of the life leaves a 14-minute EKS token
// 3.5 minutes and a one-hour GKE or AKS token 15 minutes of slack for a
// failing renewal to be retried while the old token still works; the
// 30-second floor covers clock skew and a request in flight; the half-life
// cap keeps a very short token (tests use 20 s) from being renewed on
// every request. A renewal that fails while the token is still valid
// keeps the token. A 401 answer makes it mint once more and retry the
// request when its body can be replayed (req.GetBody).
package kubeauth
