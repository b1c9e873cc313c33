package awsauth

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecrpublic"
	"github.com/google/go-containerregistry/pkg/authn"
)

// PublicHost is ECR Public's registry.
const PublicHost = "public.ecr.aws"

// publicRegion is the only region ECR Public's API answers in.
const publicRegion = "us-east-1"

// Registry is an ECR registry named by its host.
type Registry struct {
	// Public is true for public.ecr.aws; the other fields are then empty.
	Public  bool
	Account string
	Region  string
	FIPS    bool
}

// ecrHost matches private ECR registry hosts in every partition:
// ACCOUNT.dkr.ecr[-fips].REGION.<suffix>, and the dual-stack
// ACCOUNT.dkr-ecr[-fips].REGION.on.aws names.
var ecrHost = regexp.MustCompile(`^([0-9]{12})\.dkr[.-]ecr(-fips)?\.([a-z0-9][a-z0-9-]*)\.` +
	`(?:amazonaws\.com|amazonaws\.com\.cn|amazonaws\.eu|on\.aws|on\.amazonwebservices\.com\.cn|sc2s\.sgov\.gov|c2s\.ic\.gov|cloud\.adc-e\.uk|csp\.hci\.ic\.gov)$`)

// ParseRegistry tells whether host (with or without a port) is an ECR
// registry, and which.
func ParseRegistry(host string) (Registry, bool) {
	h := strings.ToLower(host)
	if i := strings.LastIndexByte(h, ':'); i >= 0 && !strings.Contains(h[i:], "]") {
		h = h[:i]
	}
	if h == PublicHost {
		return Registry{Public: true}, true
	}
	m := ecrHost.FindStringSubmatch(h)
	if m == nil {
		return Registry{}, false
	}
	return Registry{Account: m[1], FIPS: m[2] != "", Region: m[3]}, true
}

// basic is a registry's user name and password.
type basic struct{ user, pass string }

// Keychain returns a keychain that answers for ECR registries with
// credentials from GetAuthorizationToken and leaves every other registry
// to the next keychain (it answers authn.Anonymous). A public.ecr.aws pull
// with no AWS credentials at all stays anonymous, as ECR Public allows.
func (p *Provider) Keychain() authn.Keychain { return keychain{p: p} }

type keychain struct{ p *Provider }

func (k keychain) Resolve(r authn.Resource) (authn.Authenticator, error) {
	return k.ResolveContext(context.Background(), r)
}

func (k keychain) ResolveContext(ctx context.Context, r authn.Resource) (authn.Authenticator, error) {
	reg, ok := ParseRegistry(r.RegistryStr())
	if !ok {
		return authn.Anonymous, nil
	}
	user, pass, err := k.p.registryCredentials(ctx, r.RegistryStr(), reg)
	if err != nil {
		if reg.Public && errors.Is(err, errNoCredentials) {
			return authn.Anonymous, nil
		}
		return nil, err
	}
	return authn.FromConfig(authn.AuthConfig{Username: user, Password: pass}), nil
}

// registryCredentials are host's user and password, kept until shortly
// before they expire.
func (p *Provider) registryCredentials(ctx context.Context, host string, reg Registry) (string, string, error) {
	b, err := p.ecr.Get(host, func() (basic, time.Time, error) { return p.mintRegistry(ctx, host, reg) })
	return b.user, b.pass, err
}

// mintRegistry asks ECR (or ECR Public) for host's credentials.
func (p *Provider) mintRegistry(ctx context.Context, host string, reg Registry) (basic, time.Time, error) {
	region := reg.Region
	if reg.Public {
		region = publicRegion
	}
	cfg, err := p.Config(ctx, "", region)
	if err != nil {
		return basic{}, time.Time{}, err
	}
	if _, err := cfg.Credentials.Retrieve(ctx); err != nil {
		if reg.Public && isNoCredentials(err) {
			return basic{}, time.Time{}, errNoCredentials
		}
		return basic{}, time.Time{}, err
	}
	var token string
	var exp time.Time
	if reg.Public {
		out, err := ecrpublic.NewFromConfig(cfg).GetAuthorizationToken(ctx, &ecrpublic.GetAuthorizationTokenInput{})
		if err != nil {
			return basic{}, time.Time{}, classify(err, "getting an ECR Public token for "+host)
		}
		if out.AuthorizationData == nil {
			return basic{}, time.Time{}, fmt.Errorf("registry %s: ECR Public answered without authorization data", host)
		}
		token, exp = aws.ToString(out.AuthorizationData.AuthorizationToken), aws.ToTime(out.AuthorizationData.ExpiresAt)
	} else {
		out, err := ecr.NewFromConfig(cfg, func(o *ecr.Options) {
			if reg.FIPS {
				o.EndpointOptions.UseFIPSEndpoint = aws.FIPSEndpointStateEnabled
			}
		}).GetAuthorizationToken(ctx, &ecr.GetAuthorizationTokenInput{})
		if err != nil {
			return basic{}, time.Time{}, classify(err, "getting an ECR token for "+host)
		}
		if len(out.AuthorizationData) == 0 {
			return basic{}, time.Time{}, fmt.Errorf("registry %s: ECR answered without authorization data", host)
		}
		token, exp = aws.ToString(out.AuthorizationData[0].AuthorizationToken), aws.ToTime(out.AuthorizationData[0].ExpiresAt)
	}
	user, pass, err := decodeAuthorizationToken(token)
	if err != nil {
		return basic{}, time.Time{}, fmt.Errorf("registry %s: %w", host, err)
	}
	p.s.Report.Report(pass, token)
	return basic{user, pass}, exp, nil
}

// decodeAuthorizationToken splits ECR's base64("user:password").
func decodeAuthorizationToken(tok string) (string, string, error) {
	b, err := base64.StdEncoding.DecodeString(tok)
	if err != nil {
		return "", "", errors.New("the ECR authorization token is not base64")
	}
	user, pass, ok := strings.Cut(string(b), ":")
	if !ok || user == "" || pass == "" {
		return "", "", errors.New("the ECR authorization token is not user:password")
	}
	return user, pass, nil
}
