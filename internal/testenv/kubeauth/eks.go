package kubeauth

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// EKS token format, as aws-iam-authenticator's pkg/token/token.go defines
// it.
const (
	eksPrefix      = "k8s-aws-v1."
	eksMaxTokenLen = 4096
	clusterIDHdr   = "x-k8s-aws-id"
)

// eksParams are the only query parameters an EKS token's URL may hold
// (lower-cased).
var eksParams = map[string]bool{
	"action": true, "version": true, "x-amz-algorithm": true, "x-amz-credential": true, "x-amz-date": true,
	"x-amz-expires": true, "x-amz-security-token": true, "x-amz-signature": true, "x-amz-signedheaders": true,
}

var stsHost = regexp.MustCompile(`^sts(\.[a-z0-9-]+)?\.amazonaws\.com$`)

// Mapping maps an AWS principal to a Kubernetes user, like an EKS access
// entry or an aws-auth mapRoles/mapUsers item. Username may hold
// {{AccountID}} and {{SessionName}}.
type Mapping struct {
	Username string
	Groups   []string
}

// EKS authenticates tokens the way aws-iam-authenticator (and so EKS)
// does: "k8s-aws-v1." + base64url(presigned STS GetCallerIdentity URL).
type EKS struct {
	// ClusterID is the value the token must have signed as x-k8s-aws-id
	// (the cluster name).
	ClusterID string
	// Client calls STS (through cloudnet: Net.Client()).
	Client *http.Client
	// MaxAge is how long after its X-Amz-Date a token is accepted [15m].
	MaxAge time.Duration
	// Mappings is keyed by canonical ARN: arn:aws:iam::ACCOUNT:user/NAME
	// or arn:aws:iam::ACCOUNT:role/NAME. Unmapped principals are refused.
	Mappings map[string]Mapping
}

// Name implements Authenticator.
func (*EKS) Name() string { return "eks" }

// Authenticate implements Authenticator.
func (a *EKS) Authenticate(ctx context.Context, token string) (Identity, error) {
	if !strings.HasPrefix(token, eksPrefix) {
		return Identity{}, ErrNotMine
	}
	u, err := a.check(token)
	if err != nil {
		return Identity{}, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return Identity{}, err
	}
	req.Header.Set(clusterIDHdr, a.ClusterID)
	req.Header.Set("accept", "application/json")
	c := *a.Client
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // never log the presigned URL
		}
		return Identity{}, fmt.Errorf("sts getCallerIdentity failed: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return Identity{}, fmt.Errorf("sts getCallerIdentity failed: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return Identity{}, fmt.Errorf("sts getCallerIdentity failed: error from AWS (expected 200, got %d). Body: %s", resp.StatusCode, body)
	}
	var out struct {
		GetCallerIdentityResponse struct {
			GetCallerIdentityResult struct {
				Account string `json:"Account"`
				Arn     string `json:"Arn"`
				UserID  string `json:"UserId"`
			} `json:"GetCallerIdentityResult"`
		} `json:"GetCallerIdentityResponse"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		return Identity{}, fmt.Errorf("sts getCallerIdentity failed: %w", err)
	}
	r := out.GetCallerIdentityResponse.GetCallerIdentityResult
	canonical, session, err := canonicalize(r.Arn, r.UserID)
	if err != nil {
		return Identity{}, err
	}
	m, ok := a.Mappings[canonical]
	if !ok {
		return Identity{}, fmt.Errorf("ARN is not mapped: %s", canonical)
	}
	name := strings.NewReplacer("{{AccountID}}", r.Account, "{{SessionName}}", session).Replace(m.Username)
	return Identity{Username: name, UID: "aws-iam-authenticator:" + r.Account + ":" + strings.Split(r.UserID, ":")[0],
		Groups: m.Groups, Extra: map[string][]string{"arn": {r.Arn}, "canonicalArn": {canonical}, "sessionName": {session}, "accountId": {r.Account}}}, nil
}

// check validates the token's URL before it is used, as
// aws-iam-authenticator's Verify does.
func (a *EKS) check(token string) (*url.URL, error) {
	if len(token) > eksMaxTokenLen {
		return nil, errors.New("token is too large")
	}
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(token, eksPrefix))
	if err != nil {
		return nil, fmt.Errorf("input token was not properly formatted: %w", err)
	}
	u, err := url.Parse(string(raw))
	if err != nil {
		return nil, errors.New("input token was not properly formatted: malformed URL")
	}
	if u.Scheme != "https" {
		return nil, fmt.Errorf("unexpected scheme %q in pre-signed URL", u.Scheme)
	}
	if !stsHost.MatchString(u.Host) {
		return nil, fmt.Errorf("unexpected hostname %q in pre-signed URL", u.Host)
	}
	if u.Path != "/" {
		return nil, errors.New("unexpected path in pre-signed URL")
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return nil, errors.New("malformed query parameter")
	}
	lower := url.Values{}
	for k, vs := range q {
		if !eksParams[strings.ToLower(k)] {
			return nil, fmt.Errorf("non-whitelisted query parameter %q", k)
		}
		if len(vs) != 1 {
			return nil, errors.New("query parameter with multiple values not supported")
		}
		lower.Set(strings.ToLower(k), vs[0])
	}
	if lower.Get("action") != "GetCallerIdentity" {
		return nil, errors.New("unexpected action parameter in pre-signed URL")
	}
	signed := false
	for h := range strings.SplitSeq(lower.Get("x-amz-signedheaders"), ";") {
		signed = signed || strings.EqualFold(h, clusterIDHdr)
	}
	if !signed {
		return nil, fmt.Errorf("client did not sign the %s header in the pre-signed URL", clusterIDHdr)
	}
	expires, err := strconv.Atoi(lower.Get("x-amz-expires"))
	if err != nil || expires < 0 || expires > 900 {
		return nil, fmt.Errorf("invalid X-Amz-Expires parameter in pre-signed URL: %d", expires)
	}
	date, err := time.Parse("20060102T150405Z", lower.Get("x-amz-date"))
	if err != nil {
		return nil, errors.New("X-Amz-Date parameter must be present in pre-signed URL")
	}
	maxAge := a.MaxAge
	if maxAge == 0 {
		maxAge = 15 * time.Minute
	}
	if time.Now().After(date.Add(maxAge)) {
		return nil, fmt.Errorf("X-Amz-Date parameter is expired (%s expiration) %s", maxAge, date)
	}
	return u, nil
}

// canonicalize turns an assumed-role ARN into its role ARN and returns
// the session name, as aws-iam-authenticator's arn.Canonicalize does.
func canonicalize(arn, userID string) (string, string, error) {
	parts := strings.Split(arn, ":")
	if len(parts) != 6 || parts[0] != "arn" {
		return "", "", fmt.Errorf("malformed ARN %q", arn)
	}
	_, session, _ := strings.Cut(userID, ":")
	account, resource := parts[4], parts[5]
	switch {
	case parts[2] == "iam" && (strings.HasPrefix(resource, "user/") || strings.HasPrefix(resource, "role/")):
		return arn, session, nil
	case parts[2] == "sts" && strings.HasPrefix(resource, "assumed-role/"):
		f := strings.Split(resource, "/")
		if len(f) < 3 {
			return "", "", fmt.Errorf("assumed-role ARN %q has no session", arn)
		}
		return "arn:aws:iam::" + account + ":role/" + f[1], session, nil
	}
	return "", "", fmt.Errorf("unsupported ARN %q", arn)
}
