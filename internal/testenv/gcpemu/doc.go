// Package gcpemu emulates the Google endpoints that application default
// credentials and workload identity federation call:
// oauth2.googleapis.com (/token and /tokeninfo), sts.googleapis.com
// (/v1/token) and iamcredentials.googleapis.com
// (generateAccessToken). Install puts it on a cloudnet.Net; clients reach
// it through HTTPS_PROXY and SSL_CERT_FILE with the real URLs that key
// files name (token_uri, token_url, service_account_impersonation_url).
//
//	g := gcpemu.New(gcpemu.Options{Client: net.Client()})
//	g.Install(net)
//	sa, _ := g.AddServiceAccount("shop-prod", "ferry")   // sa.KeyFile()
//	p, _ := g.AddProvider(gcpemu.Provider{ProjectNumber: "123456789012", Pool: "github", ID: "github",
//		Issuer: oidcemu.GitHubIssuer, AttributeMapping: map[string]string{"attribute.repository": "assertion.repository"}})
//	sa.AllowImpersonation(p.PrincipalSet("repository", "acme/shop"))
//	file := p.ExternalAccountFile(gcpemu.CredentialSource{File: tokenPath}, sa.Email)
//
// # What it follows
//
// Sources: developers.google.com/identity/protocols/oauth2/service-account
// (the JWT-bearer grant), cloud.google.com/iam/docs/reference/sts/rest/v1/TopLevel/token,
// cloud.google.com/iam/docs/reference/credentials/rest/v1/projects.serviceAccounts/generateAccessToken,
// the workload identity federation guides, and what golang.org/x/oauth2
// (google, jwt, google/externalaccount) sends and parses; the tests drive
// the emulator with that library.
//
//   - POST /token, grant_type urn:ietf:params:oauth:grant-type:jwt-bearer:
//     the assertion must be RS256-signed by the service account's key
//     (kid = private_key_id), iss its e-mail, aud
//     https://oauth2.googleapis.com/token (or the old .../oauth2/v4/token),
//     exp at most an hour after iat and now between them, and carry a
//     scope. grant_type refresh_token: client_id, client_secret and
//     refresh_token of an authorized_user. Answers {access_token ("ya29."
//     ...), expires_in, scope, token_type Bearer}; errors are
//     {"error","error_description"}: invalid_grant ("Invalid JWT
//     Signature.", "Invalid grant: account not found", "Invalid JWT: Token
//     must be a short-lived token (60 minutes) and in a reasonable
//     timeframe..."), invalid_scope, invalid_client (401),
//     unsupported_grant_type.
//   - GET /tokeninfo?access_token=T: scope, exp, expires_in, email.
//   - POST sts.googleapis.com/v1/token (form): grant_type token-exchange,
//     requested_token_type access_token, subject_token_type jwt or
//     id_token, audience //iam.googleapis.com/projects/N/locations/global/workloadIdentityPools/P/providers/ID.
//     The subject token is verified against the provider's issuer
//     through its discovery document and JWKS, its aud against the
//     provider's allowed audiences (by default https://iam.googleapis.com/
//     followed by the provider's resource name), attributes are mapped
//     (assertion.CLAIM only) and the condition applied. Answers
//     {access_token, issued_token_type, token_type, expires_in} for the
//     principal://.../subject/SUB; errors invalid_target (unknown
//     provider), invalid_grant (audience: "The audience in ID Token [A]
//     does not match the expected audience B."; expiry, signature),
//     unauthorized_client ("The given credential is rejected by the
//     attribute condition."), invalid_request, unsupported_grant_type.
//   - POST iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/EMAIL:generateAccessToken
//     with a bearer token: {scope, lifetime ≤ 3600s, delegates}; the
//     caller must be a member allowed by AllowImpersonation (e-mail,
//     principal://, principalSet://.../attribute.NAME/VALUE or /*).
//     Answers {accessToken, expireTime}; errors in Google's API shape
//     {"error":{"code","message","status"[,"details"]}}: 401
//     UNAUTHENTICATED, 403 PERMISSION_DENIED ("Permission
//     'iam.serviceAccounts.getAccessToken' denied on resource (or it may
//     not exist).", with an ErrorInfo detail), 400 INVALID_ARGUMENT.
//   - Lookup: access token → identity (e-mail or principal) and expiry,
//     for the GKE webhook and the registries.
//
// Key files: ServiceAccount.KeyFile is the JSON key as downloaded
// (type service_account, PKCS#8 private_key, token_uri the real URL);
// User.KeyFile is gcloud's application_default_credentials.json
// (authorized_user); Provider.ExternalAccountFile is a credential
// configuration (external_account) with a file or url credential_source
// and optional service_account_impersonation_url.
//
// Minted (and MintedFor an identity) lists the access tokens handed out,
// so a test can assert that none leaked.
//
// # Deliberate deviations
//
// Options.TokenLifetime (and SetTokenLifetime) shortens every token's
// life, so expiry can be tested in seconds. Attribute conditions are Go
// functions, not CEL. No IAM policy beyond AllowImpersonation is
// evaluated: every token may be used anywhere.
//
// # Chosen where the public material is silent
//
// The exact error_description texts for an expired or badly signed
// subject token at STS, and the token prefixes (ya29.c. for service
// accounts, ya29.a0 for users, ya29.d. for federated tokens).
//
// # What it does not cover
//
// The GCE metadata server, ID tokens (target_audience), self-signed JWT
// access (no token endpoint), domain-wide delegation checks, workforce
// pools, external_account_authorized_user, AWS and executable credential
// sources, mTLS endpoints, downscoping, delegates chains, signBlob and
// signJwt, quota projects, and every Google API beyond these.
package gcpemu
