// Package awsauth gives ferry AWS credentials in process: the SDK's default
// chain, a role assumed with the CI job's OIDC token, a role per cluster,
// EKS bearer tokens, and an ECR keychain — so no AWS CLI,
// aws-iam-authenticator or docker-credential-ecr-login is needed.
//
// [New] returns a [Provider]. Its base configuration is aws-sdk-go-v2's
// default chain (config.LoadDefaultConfig): AWS_ACCESS_KEY_ID and friends,
// the shared config and credentials files with AWS_PROFILE, SSO, a web
// identity token file (AWS_ROLE_ARN + AWS_WEB_IDENTITY_TOKEN_FILE), the
// ECS and EC2 metadata services. The SDK reads those variables itself, and
// also its endpoint settings (AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_STS,
// AWS_ENDPOINT_URL_ECR, AWS_ENDPOINT_URL_ECR_PUBLIC), AWS_REGION,
// AWS_CA_BUNDLE, and through Go's default transport HTTPS_PROXY and
// SSL_CERT_FILE. When [Settings].RoleARN is set, the role is assumed on top
// of that: with the CI's OIDC token (AssumeRoleWithWebIdentity, audience
// sts.amazonaws.com unless set) when a [ciauth.Source] is given, else with
// the base credentials (AssumeRole).
//
// [Provider.EKS] mints the tokens `aws eks get-token` and
// aws-iam-authenticator print: an STS GetCallerIdentity request for the
// cluster's region, presigned by the SDK with the x-k8s-aws-id header
// (the cluster name or id) signed and X-Amz-Expires=60, base64url-encoded
// without padding behind "k8s-aws-v1.". STS honours such a URL for 15
// minutes after signing; the token is said to expire after 14, or when the
// credentials that signed it do, whichever comes first. A role per cluster
// (`--role-arn`, `-r`) is assumed with the provider's credentials.
//
// [Provider.Keychain] answers for ECR registries
// (ACCOUNT.dkr.ecr[-fips].REGION.amazonaws.com[.cn] and the other
// partitions' names, see [ParseRegistry]) with ECR GetAuthorizationToken
// and for public.ecr.aws with ECR Public's, caching each until shortly
// before it expires. Every credential resolved or minted — secret keys,
// session tokens, EKS tokens, registry passwords — is reported to
// [Settings].Report before it is used.
package awsauth
