package azureauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/ferry-dev/ferry/pkg/cloud/ciauth"
	"github.com/ferry-dev/ferry/pkg/promote"
)

// ACRUser is the user name that goes with an ACR refresh token.
const ACRUser = "00000000-0000-0000-0000-000000000000"

var acrHost = regexp.MustCompile(`^[a-z0-9]{5,50}\.azurecr\.(io|cn|us)$`)

// IsRegistry tells whether host is an Azure Container Registry login
// server (NAME.azurecr.io, .azurecr.cn, .azurecr.us), with or without a
// port.
func IsRegistry(host string) bool {
	h := strings.ToLower(host)
	if i := strings.LastIndexByte(h, ':'); i >= 0 {
		h = h[:i]
	}
	return acrHost.MatchString(h)
}

// acrScope is the Entra scope of tokens exchanged at a registry: ACR's own
// audience in the public cloud (accepted even where ARM-audience tokens
// are turned off), the resource manager's elsewhere, as `az acr login`.
func acrScope(host string, c cloud.Configuration) string {
	if strings.HasSuffix(strings.ToLower(strings.Split(host, ":")[0]), ".azurecr.io") {
		return "https://containerregistry.azure.net/.default"
	}
	if c.ActiveDirectoryAuthorityHost == cloud.AzureChina.ActiveDirectoryAuthorityHost {
		return "https://management.chinacloudapi.cn/.default"
	}
	return "https://management.usgovcloudapi.net/.default"
}

// Keychain answers for ACR registries with a refresh token exchanged for
// an Entra token, and leaves other registries to the next keychain
// (authn.Anonymous).
func (p *Provider) Keychain() authn.Keychain { return keychain{p} }

type keychain struct{ p *Provider }

func (k keychain) Resolve(r authn.Resource) (authn.Authenticator, error) {
	return k.ResolveContext(context.Background(), r)
}

func (k keychain) ResolveContext(ctx context.Context, r authn.Resource) (authn.Authenticator, error) {
	host := r.RegistryStr()
	if !IsRegistry(host) {
		return authn.Anonymous, nil
	}
	tok, err := k.p.acrRefreshToken(ctx, host)
	if err != nil {
		return nil, err
	}
	return authn.FromConfig(authn.AuthConfig{Username: ACRUser, Password: tok}), nil
}

// acrRefreshToken is host's refresh token, kept until shortly before it
// expires.
func (p *Provider) acrRefreshToken(ctx context.Context, host string) (string, error) {
	return p.acr.Get(host, func() (string, time.Time, error) { return p.exchange(ctx, host) })
}

// exchange trades an Entra token for an ACR refresh token.
func (p *Provider) exchange(ctx context.Context, host string) (string, time.Time, error) {
	c, err := Cloud(p.s.Cloud)
	if err != nil {
		return "", time.Time{}, err
	}
	aad, err := p.Token(ctx, acrScope(host, c))
	if err != nil {
		return "", time.Time{}, fmt.Errorf("registry %s: %w", host, err)
	}
	form := url.Values{"grant_type": {"access_token"}, "service": {host}, "access_token": {aad.Token}}
	if p.s.TenantID != "" {
		form.Set("tenant", p.s.TenantID)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "https://"+host+"/oauth2/exchange", strings.NewReader(form.Encode()))
	if err != nil {
		return "", time.Time{}, fmt.Errorf("registry %s: %w", host, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	client := p.s.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: time.Minute}
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("registry %s: exchanging the Entra token: %w", host, urlErr(err))
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return "", time.Time{}, promote.Input(fmt.Errorf("registry %s refused the Entra token of %s (%s): give that identity the AcrPull role on the registry", host, p.from, resp.Status))
	case resp.StatusCode != http.StatusOK:
		return "", time.Time{}, fmt.Errorf("registry %s: the token exchange answered %s", host, resp.Status)
	}
	var out struct {
		RefreshToken string `json:"refresh_token"`
	}
	if err := json.Unmarshal(body, &out); err != nil || out.RefreshToken == "" {
		return "", time.Time{}, fmt.Errorf("registry %s: the token exchange answered without a refresh token", host)
	}
	p.s.Report.Report(out.RefreshToken)
	exp := ciauth.Expiry(out.RefreshToken)
	if exp.IsZero() {
		exp = time.Now().Add(time.Hour) // ACR's tokens are JWTs; be safe if not
	}
	return out.RefreshToken, exp, nil
}

// urlErr drops the URL from a transport error.
func urlErr(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
