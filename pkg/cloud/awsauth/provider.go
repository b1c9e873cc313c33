package awsauth

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/ferry-dev/ferry/pkg/cloud/ciauth"
	"github.com/ferry-dev/ferry/pkg/cloud/credcache"
	"github.com/ferry-dev/ferry/pkg/cloud/secret"
	"github.com/ferry-dev/ferry/pkg/promote"
)

// DefaultAudience is the audience asked of a CI token for
// AssumeRoleWithWebIdentity, as aws-actions/configure-aws-credentials does.
const DefaultAudience = "sts.amazonaws.com"

// fallbackRegion is used when nothing names a region, as
// aws-iam-authenticator does.
const fallbackRegion = "us-east-1"

// expiryWindow makes cached credentials refresh this long before they
// expire, so a token signed with them still has a useful life.
const expiryWindow = 5 * time.Minute

// Settings configure a Provider. All are optional.
type Settings struct {
	// Region is used when neither the request (a plugin's --region) nor
	// the SDK's chain (AWS_REGION, the profile) names one.
	Region string
	// Profile is the shared config profile; "" leaves it to the SDK
	// (AWS_PROFILE, else "default").
	Profile string
	// RoleARN is a role to assume on top of the base credentials: with
	// the OIDC token when OIDC is set, else with AssumeRole.
	RoleARN string
	// Audience is asked of the OIDC source; "" means the source's fixed
	// audience (CircleCI) or DefaultAudience.
	Audience string
	// SessionName names the role session; "" means "ferry".
	SessionName string
	// Duration of the role session; 0 leaves it to STS (one hour).
	Duration time.Duration
	// OIDC supplies the CI job's ID token for RoleARN.
	OIDC ciauth.Source
	// HTTPClient sends every request; nil means the SDK's default, which
	// honours HTTPS_PROXY and SSL_CERT_FILE.
	HTTPClient aws.HTTPClient
	// Report is told every credential before it is used.
	Report secret.Reporter
}

// Provider hands out AWS configurations, EKS tokens and an ECR keychain.
// It is safe for concurrent use.
type Provider struct {
	s Settings

	mu      sync.Mutex
	configs map[string]*lazyConfig // by profile and region
	ecr     credcache.Cache[basic]
}

type lazyConfig struct {
	once sync.Once
	cfg  aws.Config
	err  error
}

// New returns a Provider. Nothing is loaded or asked until first use.
func New(s Settings) *Provider {
	if s.SessionName == "" {
		s.SessionName = "ferry"
	}
	return &Provider{s: s, configs: map[string]*lazyConfig{}}
}

// Config returns the configuration for profile ("" = the settings' or the
// SDK's) and region ("" = the settings', the SDK's, else us-east-1), with
// the settings' role assumed when one is set. When that role is assumed
// with the CI's OIDC token, profile is ignored: the token, not a local
// profile, is the identity.
func (p *Provider) Config(ctx context.Context, profile, region string) (aws.Config, error) {
	if p.s.RoleARN != "" && p.s.OIDC != nil {
		profile = ""
	}
	if profile == "" {
		profile = p.s.Profile
	}
	key := profile + "\x00" + region
	p.mu.Lock()
	lc, ok := p.configs[key]
	if !ok {
		lc = &lazyConfig{}
		p.configs[key] = lc
	}
	p.mu.Unlock()
	lc.once.Do(func() { lc.cfg, lc.err = p.load(ctx, profile, region) })
	return lc.cfg, lc.err
}

func (p *Provider) load(ctx context.Context, profile, region string) (aws.Config, error) {
	opts := []func(*config.LoadOptions) error{
		config.WithCredentialsCacheOptions(func(o *aws.CredentialsCacheOptions) { o.ExpiryWindow = expiryWindow }),
	}
	if profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(profile))
	}
	if region != "" {
		opts = append(opts, config.WithRegion(region))
	}
	if p.s.HTTPClient != nil {
		opts = append(opts, config.WithHTTPClient(p.s.HTTPClient))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		var missing config.SharedConfigProfileNotExistError
		if errors.As(err, &missing) {
			return aws.Config{}, promote.Input(fmt.Errorf("aws profile %q is not in the shared config or credentials files: name a profile they define, or drop AWS_PROFILE and give credentials another way", profile))
		}
		return aws.Config{}, promote.Input(fmt.Errorf("loading the aws configuration: %w", err))
	}
	if cfg.Region == "" {
		cfg.Region = p.s.Region
	}
	if cfg.Region == "" {
		cfg.Region = fallbackRegion
	}
	if p.s.RoleARN != "" {
		cfg.Credentials = p.roleCredentials(cfg)
	}
	cfg.Credentials = reporting{p: cfg.Credentials, r: p.s.Report}
	return cfg, nil
}

// roleCredentials assumes the settings' role on top of cfg's credentials.
func (p *Provider) roleCredentials(cfg aws.Config) aws.CredentialsProvider {
	client := sts.NewFromConfig(cfg)
	var prov aws.CredentialsProvider
	if p.s.OIDC != nil {
		prov = &webIdentity{
			inner: stscreds.NewWebIdentityRoleProvider(client, p.s.RoleARN, tokenRetriever{p: p}, func(o *stscreds.WebIdentityRoleOptions) {
				o.RoleSessionName = p.s.SessionName
				o.Duration = p.s.Duration
			}),
			role: p.s.RoleARN,
			src:  p.s.OIDC,
		}
	} else {
		prov = &assumed{
			inner: stscreds.NewAssumeRoleProvider(client, p.s.RoleARN, func(o *stscreds.AssumeRoleOptions) {
				o.RoleSessionName = p.s.SessionName
				o.Duration = p.s.Duration
			}),
			role:    p.s.RoleARN,
			setting: "the role to assume",
		}
	}
	return aws.NewCredentialsCache(prov, func(o *aws.CredentialsCacheOptions) { o.ExpiryWindow = expiryWindow })
}

// RoleOptions describe a role assumed for one cluster, as `aws eks
// get-token --role-arn` and `aws-iam-authenticator token -r` do.
type RoleOptions struct {
	ARN         string
	ExternalID  string
	SessionName string
	// ForwardSessionName takes the session name from the caller's own
	// session (aws-iam-authenticator --forward-session-name).
	ForwardSessionName bool
}

// AssumeRole returns cfg with credentials of the role, assumed with cfg's
// credentials and refreshed before they expire.
func (p *Provider) AssumeRole(ctx context.Context, cfg aws.Config, role RoleOptions) (aws.Config, error) {
	client := sts.NewFromConfig(cfg)
	session := role.SessionName
	if role.ForwardSessionName {
		out, err := client.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		if err != nil {
			return aws.Config{}, classify(err, "finding the caller's session name to forward")
		}
		if parts := strings.Split(aws.ToString(out.UserId), ":"); len(parts) == 2 {
			session = parts[1]
		}
	}
	if session == "" {
		session = p.s.SessionName
	}
	prov := &assumed{
		inner: stscreds.NewAssumeRoleProvider(client, role.ARN, func(o *stscreds.AssumeRoleOptions) {
			o.RoleSessionName = session
			if role.ExternalID != "" {
				o.ExternalID = aws.String(role.ExternalID)
			}
		}),
		role:    role.ARN,
		setting: "the kubeconfig's role",
	}
	out := cfg.Copy()
	out.Credentials = reporting{p: aws.NewCredentialsCache(prov, func(o *aws.CredentialsCacheOptions) { o.ExpiryWindow = expiryWindow }), r: p.s.Report}
	return out, nil
}

// tokenRetriever hands the CI's OIDC token to the SDK's web identity
// provider, which asks without a context.
type tokenRetriever struct{ p *Provider }

func (t tokenRetriever) GetIdentityToken() ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	aud := ciauth.Audience(ctx, t.p.s.OIDC, t.p.s.Audience, DefaultAudience)
	tok, err := t.p.s.OIDC.Token(ctx, aud)
	if err != nil {
		return nil, err
	}
	return []byte(tok), nil
}

type webIdentity struct {
	inner aws.CredentialsProvider
	role  string
	src   ciauth.Source
}

func (w *webIdentity) Retrieve(ctx context.Context) (aws.Credentials, error) {
	c, err := w.inner.Retrieve(ctx)
	if err == nil {
		return c, nil
	}
	if promote.IsInput(err) { // the CI gave no token
		return c, err
	}
	var api smithy.APIError
	if errors.As(err, &api) {
		switch api.ErrorCode() {
		case "AccessDenied", "InvalidIdentityToken", "IDPRejectedClaim", "ExpiredTokenException", "InvalidParameterValue", "ValidationError":
			return c, promote.Input(fmt.Errorf("aws role %s: STS refused the %s token (%s: %s): set FERRY_AWS_ROLE_ARN to a role whose trust policy accepts this job's token (its federated principal and sub condition), and FERRY_AWS_AUDIENCE to a client id of the account's OIDC identity provider for it",
				w.role, w.src, api.ErrorCode(), api.ErrorMessage()))
		}
	}
	return c, fmt.Errorf("aws role %s: assuming it with the %s token: %w", w.role, w.src, err)
}

type assumed struct {
	inner   aws.CredentialsProvider
	role    string
	setting string
}

func (a *assumed) Retrieve(ctx context.Context) (aws.Credentials, error) {
	c, err := a.inner.Retrieve(ctx)
	if err != nil {
		return c, classify(err, fmt.Sprintf("assuming %s %s", a.setting, a.role))
	}
	return c, nil
}

// classify turns refusals that the user must settle (no credentials, a
// role the caller may not assume, expired keys) into input errors.
func classify(err error, doing string) error {
	if promote.IsInput(err) {
		return err
	}
	var api smithy.APIError
	if errors.As(err, &api) {
		switch api.ErrorCode() {
		case "AccessDenied", "AccessDeniedException", "InvalidClientTokenId", "SignatureDoesNotMatch", "ExpiredToken", "ExpiredTokenException", "UnrecognizedClientException", "ValidationError":
			return promote.Input(fmt.Errorf("aws: %s: %s: %s: check the credentials and that they may do this", doing, api.ErrorCode(), api.ErrorMessage()))
		}
	}
	if isNoCredentials(err) {
		return promote.Input(&noCredentials{doing: doing})
	}
	return fmt.Errorf("aws: %s: %w", doing, err)
}

// noCredentials says that the SDK's chain found nothing.
type noCredentials struct{ doing string }

func (e *noCredentials) Error() string {
	return "aws: " + e.doing + ": no AWS credentials found: set FERRY_AWS_ROLE_ARN to a role to assume with the CI's OIDC token, or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or AWS_ROLE_ARN with AWS_WEB_IDENTITY_TOKEN_FILE"
}

// isNoCredentials reports the SDK's "nothing in the chain" failure: the
// last provider it tries is the EC2 metadata service, which is either
// disabled or has no role.
func isNoCredentials(err error) bool {
	var nc *noCredentials
	if errors.As(err, &nc) || errors.Is(err, errNoCredentials) {
		return true
	}
	s := err.Error()
	return strings.Contains(s, "no EC2 IMDS role found") || strings.Contains(s, "access disabled to EC2 IMDS") || strings.Contains(s, "ec2imds")
}

var errNoCredentials = errors.New("no credentials provider")

// reporting reports each credential it passes on.
type reporting struct {
	p aws.CredentialsProvider
	r secret.Reporter
}

func (r reporting) Retrieve(ctx context.Context) (aws.Credentials, error) {
	if r.p == nil {
		return aws.Credentials{}, classify(errNoCredentials, "signing")
	}
	c, err := r.p.Retrieve(ctx)
	if err != nil {
		return c, classify(err, "getting credentials")
	}
	r.r.Report(c.SecretAccessKey, c.SessionToken)
	return c, nil
}
