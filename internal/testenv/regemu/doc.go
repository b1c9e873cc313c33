// Package regemu serves container registries that demand the
// credentials real registries demand, built on go-containerregistry's
// pkg/registry (through internal/testenv/images, with per-repository
// blobs and cross-repository mounts). Each registry is routed on a
// cloudnet.Net under its real host name, so clients reach it with
// HTTPS_PROXY and SSL_CERT_FILE, and records which credential served
// each request (Served, Identities), never the credential itself.
//
//	ecr := regemu.ECR(aws, "111122223333.dkr.ecr.eu-west-1.amazonaws.com", nil)
//	ecr.Install(net)
//	ecr.Seed(ctx, "shop/web:1.4.2", img)
//
// # What each one follows
//
//   - ECR (ACCOUNT.dkr.ecr.REGION.amazonaws.com): Basic AWS:PASSWORD with
//     a password from the AWS emulator's GetAuthorizationToken for the
//     region, as `docker login` after `aws ecr get-login-password` sends
//     it; 401 with `Basic realm="https://HOST/",service="ecr.amazonaws.com"`
//     without or with a wrong password ("Not Authorized"), 403 DENIED for
//     an expired one (the text users report).
//   - Artifact Registry (REGION-docker.pkg.dev) and Container Registry
//     (gcr.io): the bearer flow with realm https://HOST/v2/token; the
//     token endpoint takes Basic oauth2accesstoken (or _token, as
//     go-containerregistry's google keychain sends) with a Google access
//     token from the Google emulator; 403 DENIED "Permission
//     \"artifactregistry.repositories.downloadArtifacts\" denied on
//     resource ..." without rights.
//   - ghcr.io: realm https://ghcr.io/token, service ghcr.io, scope in the
//     challenge; Basic USER:TOKEN at the token endpoint (GITHUB_TOKEN or a
//     PAT, user not checked); anonymous tokens for public repositories; 403
//     DENIED without rights.
//   - Docker Hub: registry-1.docker.io, realm https://auth.docker.io/token,
//     service registry.docker.io; wrong credentials 401 {"details":
//     "incorrect username or password"}; a private repository without
//     rights 401 UNAUTHORIZED with the repository in detail.
//   - ACR (NAME.azurecr.io): realm https://NAME.azurecr.io/oauth2/token;
//     the token service is the Azure emulator's (exchange of an Entra ID
//     token for a refresh token; GET with Basic
//     00000000-0000-0000-0000-000000000000:REFRESH or POST refresh_token
//     grant for an access token).
//   - Basic: any host with Basic users, as a private registry behind a
//     Kubernetes pull secret; StartBasic serves one on loopback http.
//
// Who may do what: an AllowFunc per registry (default: any authenticated
// identity may pull and push everywhere).
//
// # What it does not cover
//
// Repository creation rules (ECR needs repositories created first; here
// any name works), lifecycle policies, immutability, scanning, the
// registries' catalog and referrers extensions, Docker Hub rate limits,
// ECR Public's registry (public.ecr.aws), GAR's _json_key login,
// ghcr.io's package visibility API, and token expiry inside a registry
// token's lifetime beyond what the issuing emulator enforces at exchange.
package regemu
