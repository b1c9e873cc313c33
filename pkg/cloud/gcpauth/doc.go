// Package gcpauth gives ferry Google credentials in process: OAuth2 access
// tokens for GKE (what gke-gcloud-auth-plugin prints) and an Artifact
// Registry / Container Registry keychain (what docker-credential-gcloud
// answers), with no gcloud installed.
//
// [New] returns a [Provider], which finds credentials in this order:
//
//  1. Workload identity federation built from [Settings] alone: the
//     provider's resource name, an optional service account to
//     impersonate, and the CI job's OIDC token as subject token (a
//     [ciauth.Source]); no credential configuration file is needed.
//  2. The file [Settings].CredentialsFile names (what
//     GOOGLE_APPLICATION_CREDENTIALS says): a service account key
//     (service_account), `gcloud auth application-default login`'s
//     authorized_user, an external_account configuration (workload or
//     workforce identity federation with a file, URL or executable
//     credential_source and an optional service_account_impersonation_url),
//     or an impersonated_service_account.
//  3. gcloud's application default credentials file,
//     application_default_credentials.json in [Settings].ConfigDir
//     (CLOUDSDK_CONFIG, else ~/.config/gcloud).
//  4. The metadata server, when GCE_METADATA_HOST is set or the machine is
//     a Google Compute Engine VM (GKE nodes are).
//
// The files' own URLs (token_uri, token_url, service_account_impersonation_url)
// are followed, and every request goes through [Settings].HTTPClient or a
// client on Go's default transport (HTTPS_PROXY, SSL_CERT_FILE).
//
// Tokens carry the scopes gke-gcloud-auth-plugin asks for, cloud-platform
// and userinfo.email. [Provider.Mint] gets a new token on every call, so a
// caller that caches tokens (pkg/cloud/kubeauth) decides when to renew;
// [Provider.TokenSource] caches and renews five minutes before expiry.
// Every token is reported to [Settings].Report before it is returned.
//
// The keychain ([Provider.Keychain]) answers for gcr.io, *.gcr.io and
// *-docker.pkg.dev ([IsRegistry]) with user "oauth2accesstoken" and an
// access token as password. go-containerregistry's own google keychain is
// not used: it reads GOOGLE_APPLICATION_CREDENTIALS itself and shells out
// to gcloud, so it would ignore ferry's federation settings and translated
// paths, and it cannot report the tokens it mints.
package gcpauth
