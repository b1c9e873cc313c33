// Package awsemu emulates the parts of AWS that ferry's credentials touch:
// STS (GetCallerIdentity, AssumeRoleWithWebIdentity, AssumeRole), ECR's
// and ECR Public's GetAuthorizationToken, and the check a registry makes
// of an ECR password. Install puts it on a cloudnet.Net under the real
// host names; clients reach it through HTTPS_PROXY and SSL_CERT_FILE, or
// through AWS_ENDPOINT_URL_STS / AWS_ENDPOINT_URL_ECR pointing at
// cloudnet's Direct listeners.
//
//	e := awsemu.New(awsemu.Options{Client: net.Client()})
//	e.Install(net)
//	key := e.AddUser("deployer")                  // AWS_ACCESS_KEY_ID, ...
//	arn := e.AddRole(awsemu.Role{Name: "ferry", WebIdentity: []awsemu.WebIdentityTrust{{
//		Issuer: oidcemu.GitHubIssuer, Subject: "repo:acme/shop:*"}}})
//
// # What it follows
//
// Sources: the STS and ECR API references (docs.aws.amazon.com/STS/latest/APIReference,
// .../AmazonECR/latest/APIReference, .../AmazonECRPublic/latest/APIReference),
// the SigV4 specification (docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html),
// IAM's OIDC federation guide, and what aws-sdk-go-v2 (sts, ecr,
// ecrpublic, credentials/stscreds) and aws-iam-authenticator
// (pkg/token/token.go) send and parse. The package's tests drive it with
// aws-sdk-go-v2's own clients.
//
//   - Hosts: sts.amazonaws.com (signing region us-east-1),
//     sts.REGION.amazonaws.com, api.ecr.REGION.amazonaws.com,
//     api.ecr-public.us-east-1.amazonaws.com.
//   - SigV4, header-signed and presigned (X-Amz-* query parameters): the
//     canonical request (path segments encoded again, sorted query,
//     signed headers with host and content-length taken from the request,
//     payload hash of the body or X-Amz-Content-Sha256), scope service and
//     region, scope date, X-Amz-Security-Token for session credentials,
//     15 minutes of allowed skew for header-signed requests. A presigned
//     URL is honoured for Options.PresignedURLLifetime (15 minutes) after
//     its X-Amz-Date whatever its X-Amz-Expires (which may be absent, and
//     if present must be 0..604800), as STS does according to
//     aws-iam-authenticator's pkg/token/token.go. Signatures are compared
//     in constant time.
//   - Query protocol (STS): POST form or GET query, Version 2011-06-15;
//     XML answers and <ErrorResponse><Error><Type>Sender</Type><Code>..
//     bodies with RequestId, or the JSON rendering of both when the client
//     sends Accept: application/json (aws-iam-authenticator does).
//   - GetCallerIdentity: Account, Arn, UserId (AIDA... for users,
//     AROA...:SESSION for assumed roles).
//   - AssumeRoleWithWebIdentity (unsigned): RoleArn, RoleSessionName
//     ([\w+=,.@-]{2,64}), DurationSeconds (900..43200, and at most the
//     role's MaxSessionDuration), WebIdentityToken. The token's issuer must
//     be an IAM OIDC provider of the role's account (AddOIDCProvider, or
//     implied by AddRole); its keys are fetched as AWS does, from the
//     issuer's /.well-known/openid-configuration and jwks_uri over HTTPS
//     (through Options.Client); aud must be one of the provider's client
//     ids; the role's trust policy must have a statement for the issuer
//     whose aud equals and whose sub StringLike-matches. Answers
//     SubjectFromWebIdentityToken, Audience, AssumedRoleUser
//     (arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION), Credentials (ASIA
//     key, secret, session token, Expiration) and Provider.
//   - AssumeRole (signed): the caller's canonical ARN must be in the role's
//     Principals.
//   - Errors: InvalidIdentityToken (400: "Incorrect token audience", "No
//     OpenIDConnect provider found in your account for ISS", an invalid
//     signature or JWT), ExpiredTokenException (400, "Token expired:
//     current date/time N must be before the expiration date/timeM", sic),
//     AccessDenied (403, "Not authorized to perform
//     sts:AssumeRoleWithWebIdentity"; for AssumeRole "User: ARN is not
//     authorized to perform: sts:AssumeRole on resource: ROLE"),
//     ValidationError (400), SignatureDoesNotMatch (403, also for wrong
//     scope and skew), InvalidClientTokenId (403, unknown key or session
//     token), ExpiredToken (403, expired session credentials),
//     IncompleteSignature (400), MissingAuthenticationToken (403).
//   - ECR GetAuthorizationToken: JSON 1.1 (X-Amz-Target
//     AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken, signing
//     name ecr) answering authorizationData [{authorizationToken:
//     base64("AWS:"+password), expiresAt (epoch seconds), proxyEndpoint
//     https://ACCOUNT.dkr.ecr.REGION.amazonaws.com}]; ECR Public
//     (SpencerFrontendService.GetAuthorizationToken, signing name
//     ecr-public, us-east-1 only) answering one authorizationData object.
//     JSON errors carry __type and X-Amzn-ErrorType:
//     InvalidSignatureException, UnrecognizedClientException,
//     ExpiredTokenException, MissingAuthenticationTokenException,
//     UnknownOperationException. Passwords look like ECR's (base64 of a
//     JSON envelope with payload, datakey, version, type, expiration) and
//     live Options.ECRTokenLifetime (12 h as on AWS).
//   - CheckECRPassword / CheckECRPublicPassword: user AWS, a password this
//     emulator issued for the registry's region (or for ECR Public), not
//     expired; they return the principal that asked for it.
//
// Minted (and MintedFor a principal) lists the session credentials and
// ECR passwords handed out, so a test can assert that none leaked.
//
// # Deliberate deviations
//
//   - Options.CredentialLifetime caps session credentials below STS's
//     900-second minimum, so tests can watch credentials expire.
//   - Every authenticated principal may call GetAuthorizationToken and
//     GetCallerIdentity (no IAM policies are evaluated), and an ECR
//     password opens every registry of its region.
//
// # Chosen where the public material is silent
//
// A presigned URL used too late answers 403 AccessDenied "Request has
// expired". The Provider element of
// AssumeRoleWithWebIdentity holds the token's iss.
//
// # What it does not cover
//
// IAM policies and permission boundaries, session policies and tags,
// source identity, MFA, AssumeRoleWithSAML, GetSessionToken,
// GetFederationToken, STS's regional endpoint activation, SigV4a,
// chunked (streaming) payloads, the ECR API beyond GetAuthorizationToken
// (repositories, images, lifecycle), and every other AWS service.
package awsemu
