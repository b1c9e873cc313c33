package awsauth

import (
	"context"
	"encoding/base64"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

const (
	// TokenPrefix starts every EKS token.
	TokenPrefix = "k8s-aws-v1."
	// ClusterHeader carries the cluster name or id in the signed request.
	ClusterHeader = "x-k8s-aws-id"
	// presignExpires is the X-Amz-Expires the plugins send; STS ignores
	// it and honours a presigned GetCallerIdentity for 15 minutes.
	presignExpires = 60
	// tokenLife is how long the plugins say a token lives: a minute less
	// than STS honours it.
	tokenLife = 14 * time.Minute
)

// Token is a bearer token and when it stops working.
type Token struct {
	Value  string
	Expiry time.Time
}

// EKSRequest names the cluster and how to sign for it, as the arguments
// of `aws eks get-token` and `aws-iam-authenticator token` do.
type EKSRequest struct {
	// Cluster is the value of x-k8s-aws-id: the cluster name (aws eks
	// get-token --cluster-name), or the id given by --cluster-id / -i.
	Cluster string
	// Region selects STS's regional endpoint; "" means the provider's.
	Region string
	// Profile is a shared config profile ("" = the provider's).
	Profile string
	// Role is assumed for this cluster when its ARN is set.
	Role RoleOptions
}

// EKS mints tokens for one cluster.
type EKS struct {
	p       *Provider
	cluster string
	cfg     aws.Config
	now     func() time.Time
}

// EKS returns a token minter for the cluster in req. It loads the
// configuration and sets up the role, but asks nothing yet.
func (p *Provider) EKS(ctx context.Context, req EKSRequest) (*EKS, error) {
	if req.Cluster == "" {
		return nil, fmt.Errorf("eks token: no cluster name or id")
	}
	cfg, err := p.Config(ctx, req.Profile, req.Region)
	if err != nil {
		return nil, err
	}
	if req.Role.ARN != "" {
		if cfg, err = p.AssumeRole(ctx, cfg, req.Role); err != nil {
			return nil, err
		}
	}
	return &EKS{p: p, cluster: req.Cluster, cfg: cfg, now: time.Now}, nil
}

// Token presigns an STS GetCallerIdentity request for the cluster and
// returns it as an EKS bearer token.
func (e *EKS) Token(ctx context.Context) (Token, error) {
	creds, err := e.cfg.Credentials.Retrieve(ctx)
	if err != nil {
		return Token{}, classify(err, "signing an EKS token for cluster "+e.cluster)
	}
	now := e.now()
	cfg := e.cfg.Copy()
	// Sign with exactly the credentials whose expiry bounds the token's.
	cfg.Credentials = aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) { return creds, nil })
	presigner := sts.NewPresignClient(sts.NewFromConfig(cfg))
	req, err := presigner.PresignGetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}, func(o *sts.PresignOptions) {
		o.ClientOptions = append(o.ClientOptions, func(so *sts.Options) {
			so.APIOptions = append(so.APIOptions,
				smithyhttp.SetHeaderValue(ClusterHeader, e.cluster),
				smithyhttp.SetHeaderValue("X-Amz-Expires", strconv.Itoa(presignExpires)),
			)
		})
	})
	if err != nil {
		return Token{}, classify(err, "presigning an EKS token for cluster "+e.cluster)
	}
	tok := TokenPrefix + base64.RawURLEncoding.EncodeToString([]byte(req.URL))
	e.p.s.Report.Report(tok)
	return Token{Value: tok, Expiry: TokenExpiry(now, creds)}, nil
}

// TokenExpiry is when a token signed at now with creds stops being
// usable: 14 minutes on, or when the credentials expire if that is
// sooner.
func TokenExpiry(now time.Time, creds aws.Credentials) time.Time {
	exp := now.Add(tokenLife)
	if creds.CanExpire && !creds.Expires.IsZero() && creds.Expires.Before(exp) {
		return creds.Expires
	}
	return exp
}
