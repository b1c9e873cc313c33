// Package azureauth gives ferry Entra ID (Azure AD) credentials in process:
// tokens for AKS (what kubelogin prints) and an Azure Container Registry
// keychain (what docker-credential-acr-env or `az acr login` give), with
// no kubelogin or Azure CLI needed.
//
// [New] returns a [Provider] over azidentity (v1.15.0). Its [Settings]
// name one way to sign in, or, with [Settings].Mode empty, the first one
// their values allow, in this order:
//
//   - a client secret (AZURE_CLIENT_ID, AZURE_TENANT_ID, AZURE_CLIENT_SECRET);
//   - a client certificate, PEM or PKCS#12 (AZURE_CLIENT_CERTIFICATE_PATH,
//     AZURE_CLIENT_CERTIFICATE_PASSWORD);
//   - workload identity: a federated token file (AZURE_FEDERATED_TOKEN_FILE);
//   - the CI job's OIDC token as a federated client assertion (audience
//     api://AzureADTokenExchange unless set), so GitHub Actions and CircleCI
//     need no azure/login step;
//   - a managed identity, when asked for;
//   - the Azure CLI's login, when `az` is installed.
//
// Settings are passed in; this package reads no environment variable
// itself (azidentity gets every value explicitly). The authority host
// follows [Settings].Cloud or [Settings].AuthorityHost (AZURE_AUTHORITY_HOST);
// requests go through [Settings].HTTPClient or azcore's default transport,
// which honours HTTPS_PROXY and SSL_CERT_FILE. MSAL first reads the
// authority's instance discovery and OpenID configuration documents unless
// [Settings].DisableInstanceDiscovery is set.
//
// [Provider.Token] returns a token for a scope: [AKSScope] for AKS, or
// [ScopeFor] of a kubeconfig's --server-id. [Provider.Keychain] answers for
// NAME.azurecr.io (and the sovereign clouds' azurecr.cn and azurecr.us): an
// Entra token is exchanged at https://NAME.azurecr.io/oauth2/exchange for
// an ACR refresh token, which is the password of the user
// 00000000-0000-0000-0000-000000000000, cached until shortly before it
// expires. Every token is reported to [Settings].Report before use.
package azureauth
