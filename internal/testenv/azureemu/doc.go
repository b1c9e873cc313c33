// Package azureemu emulates Microsoft Entra ID's token service as MSAL
// and azidentity use it, and the token service of Azure Container
// Registry. Install puts login.microsoftonline.com on a cloudnet.Net;
// clients reach it through HTTPS_PROXY and SSL_CERT_FILE with the default
// authority host (AzurePublicCloud).
//
//	az, _ := azureemu.New(azureemu.Options{Client: net.Client()})
//	az.Install(net)
//	app := az.AddApp(azureemu.App{Tenant: tenant, ClientID: id, Secrets: []string{secret},
//		Federated: []azureemu.FederatedCredential{{Issuer: oidcemu.GitHubIssuer, Subject: "repo:acme/shop:environment:production"}}})
//
// # What it follows
//
// Sources: learn.microsoft.com's "Microsoft identity platform and the
// OAuth 2.0 client credentials flow", "certificate credentials",
// "workload identity federation", the AADSTS error code reference, and
// what MSAL Go (apps/internal/oauth: resolvers.go, authority.go,
// accesstokens.go) and azidentity send and parse; the tests drive the
// emulator with azidentity's credentials. ACR's token service follows
// Azure/acr docs/AAD-OAuth.md.
//
//   - GET /common/discovery/instance (instance discovery; MSAL skips it
//     for this trusted host but other clients call it),
//     /TENANT/v2.0/.well-known/openid-configuration (issuer
//     https://login.microsoftonline.com/TENANT/v2.0, token, authorization
//     and jwks endpoints, as MSAL validates them),
//     /TENANT/.well-known/openid-configuration (v1, issuer
//     https://sts.windows.net/TENANT/), /common/discovery/keys and
//     /TENANT/discovery/v2.0/keys (kid = x5t, x5c).
//   - POST /TENANT/oauth2/v2.0/token, grant_type client_credentials, scope
//     RESOURCE/.default, authenticated by client_secret, by a certificate
//     assertion (client_assertion_type jwt-bearer; PS256 with x5t#S256 as
//     MSAL sends, or RS256 with x5t, thumbprints in standard base64 as
//     MSAL writes them or base64url; iss = sub = client_id, aud = the token
//     endpoint) or by a federated assertion (an OIDC token from GitHub or
//     CircleCI, verified through its issuer's discovery and JWKS and
//     matched on issuer, subject and audience — default
//     api://AzureADTokenExchange — against the app's federated identity
//     credentials). Answers {token_type, expires_in, ext_expires_in,
//     access_token}: an RS256 v1 access token (aud RESOURCE, iss
//     https://sts.windows.net/TENANT/, appid, appidacr, idtyp app, oid =
//     sub = the service principal, tid, ver 1.0; header kid and x5t).
//   - Errors are AADSTS bodies {error, error_description "AADSTSn: ...
//     Trace ID: ... Correlation ID: ... Timestamp: ...", error_codes,
//     timestamp, trace_id, correlation_id, error_uri}: 90002 (unknown
//     tenant, also for its metadata), 700016 (unknown app), 7000215 (wrong
//     secret, 401), 7000218 (no credential), 1002012 (scope without
//     /.default), 70021 (no matching federated identity record), 700212
//     (assertion audience), 700024 (assertion outside its time range),
//     700027 (assertion signature), 70003 (grant type).
//   - ACR (ServeACR, on NAME.azurecr.io through the registry emulator):
//     /oauth2/exchange turns an Entra ID token for ARM into an ACR refresh
//     token; /oauth2/token turns that (POST refresh_token grant, or GET
//     with Basic 00000000-0000-0000-0000-000000000000) into an access
//     token for the requested scope; CheckACRAccess checks what the
//     registry is sent.
//
// Minted (and MintedFor an app) lists the access tokens and ACR tokens
// handed out, so a test can assert that none leaked.
//
// # Deliberate deviations
//
// MSAL adds openid, profile and offline_access to every scope; they are
// ignored, as Entra ID does in the client credentials flow.
// Options.TokenLifetime (SetTokenLifetime) sets every token's life, and
// ACR's refresh (3 h) and access (75 min) tokens never outlive it, so
// expiry can be tested in seconds. Every app may get a token for every
// resource (no app roles, no consent).
//
// # Chosen where the public material is silent
//
// The error key ("invalid_client" or "invalid_request") of the
// federated-credential errors; ACR's token and error body texts; the
// token strings of ACR (opaque here, JWTs on Azure).
//
// # What it does not cover
//
// Delegated flows (device code, authorization code, ROPC, on-behalf-of),
// refresh tokens, ID tokens, v2 access tokens, managed identity (IMDS),
// Azure CLI token caches, PoP tokens, claims challenges, CAE, regional
// endpoints, national clouds, token caching headers, and ACR's admin user
// and repository-scoped tokens.
package azureemu
