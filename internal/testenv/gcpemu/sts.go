package gcpemu

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/ferry-dev/ferry/internal/testenv/oidcemu"
)

// Token types of STS token exchange.
const (
	tokenExchange   = "urn:ietf:params:oauth:grant-type:token-exchange"
	typeAccessToken = "urn:ietf:params:oauth:token-type:access_token"
	typeJWT         = "urn:ietf:params:oauth:token-type:jwt"
	typeIDToken     = "urn:ietf:params:oauth:token-type:id_token"
)

// Provider is an OIDC provider of a workload identity pool.
type Provider struct {
	ProjectNumber string
	Pool          string
	ID            string
	// Issuer is the OIDC issuer whose tokens the provider accepts.
	Issuer string
	// AllowedAudiences lists the accepted aud values [the provider's
	// https://iam.googleapis.com/projects/N/locations/global/workloadIdentityPools/P/providers/ID].
	AllowedAudiences []string
	// AttributeMapping maps google.subject and attribute.NAME to
	// "assertion.CLAIM" [google.subject=assertion.sub].
	AttributeMapping map[string]string
	// Condition, when set, must accept the mapped attributes (CEL is not
	// emulated: write the condition in Go).
	Condition func(attributes map[string]string) bool
}

// Audience is //iam.googleapis.com/projects/N/locations/global/workloadIdentityPools/P/providers/ID.
func (p *Provider) Audience() string { return "//iam.googleapis.com/" + p.resource() }

// PoolResource is projects/N/locations/global/workloadIdentityPools/P.
func (p *Provider) PoolResource() string {
	return "projects/" + p.ProjectNumber + "/locations/global/workloadIdentityPools/" + p.Pool
}

func (p *Provider) resource() string { return p.PoolResource() + "/providers/" + p.ID }

// Principal is the federated principal of subject.
func (p *Provider) Principal(subject string) string {
	return "principal://iam.googleapis.com/" + p.PoolResource() + "/subject/" + subject
}

// PrincipalSet is the member for every identity whose attribute has
// value (attribute "repository" → attribute.repository/VALUE).
func (p *Provider) PrincipalSet(attribute, value string) string {
	return "principalSet://iam.googleapis.com/" + p.PoolResource() + "/attribute." + attribute + "/" + value
}

// AddProvider creates a workload identity pool provider.
func (e *Emulator) AddProvider(p Provider) (*Provider, error) {
	if p.ProjectNumber == "" || p.Pool == "" || p.ID == "" || p.Issuer == "" {
		return nil, fmt.Errorf("gcpemu: provider needs ProjectNumber, Pool, ID and Issuer")
	}
	if len(p.AllowedAudiences) == 0 {
		p.AllowedAudiences = []string{"https://iam.googleapis.com/" + p.resource()}
	}
	if p.AttributeMapping == nil {
		p.AttributeMapping = map[string]string{}
	}
	if p.AttributeMapping["google.subject"] == "" {
		p.AttributeMapping["google.subject"] = "assertion.sub"
	}
	for k, v := range p.AttributeMapping {
		if !strings.HasPrefix(v, "assertion.") || (k != "google.subject" && k != "google.groups" && !strings.HasPrefix(k, "attribute.")) {
			return nil, fmt.Errorf("gcpemu: attribute mapping %s=%s: only google.subject, google.groups and attribute.NAME = assertion.CLAIM are emulated", k, v)
		}
	}
	e.mu.Lock()
	e.providers[p.Audience()] = &p
	e.mu.Unlock()
	return &p, nil
}

func (e *Emulator) serveSTS(w http.ResponseWriter, r *http.Request) {
	fail := func(status int, code, desc string) {
		e.record(Call{Endpoint: "sts", Grant: r.PostForm.Get("grant_type"), Error: code})
		writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
	}
	if r.URL.Path != "/v1/token" || r.Method != http.MethodPost {
		writeJSON(w, 404, map[string]any{"error": map[string]any{"code": 404, "message": "Not Found", "status": "NOT_FOUND"}})
		return
	}
	if err := r.ParseForm(); err != nil {
		fail(400, "invalid_request", "Invalid request body.")
		return
	}
	f := r.PostForm
	if g := f.Get("grant_type"); g != tokenExchange {
		fail(400, "unsupported_grant_type", fmt.Sprintf("Invalid value for \"grant_type\": %q.", g))
		return
	}
	if t := f.Get("requested_token_type"); t != typeAccessToken {
		fail(400, "invalid_request", fmt.Sprintf("Invalid value for \"requested_token_type\": %q.", t))
		return
	}
	if t := f.Get("subject_token_type"); t != typeJWT && t != typeIDToken {
		fail(400, "invalid_request", fmt.Sprintf("Invalid value for \"subject_token_type\": %q.", t))
		return
	}
	if f.Get("subject_token") == "" {
		fail(400, "invalid_request", "The \"subject_token\" parameter is required.")
		return
	}
	e.mu.Lock()
	p := e.providers[f.Get("audience")]
	e.mu.Unlock()
	if p == nil {
		fail(400, "invalid_target", "The target service indicated by the \"audience\" parameters is invalid. This might either be because the pool or provider is disabled or deleted or because it doesn't exist.")
		return
	}
	claims, err := oidcemu.Verify(r.Context(), e.opts.Client, f.Get("subject_token"), p.Issuer, e.opts.Leeway)
	switch oidcemu.ReasonOf(err) {
	case 0:
	case oidcemu.ReasonExpired:
		fail(400, "invalid_grant", "ID Token has expired.")
		return
	case oidcemu.ReasonIssuer:
		fail(400, "invalid_grant", "The issuer in ID Token does not match the expected issuer "+p.Issuer+".")
		return
	case oidcemu.ReasonKeys, oidcemu.ReasonUnknownKey:
		fail(400, "invalid_grant", "Unable to retrieve the public key to verify the ID Token signature.")
		return
	default:
		fail(400, "invalid_grant", "Invalid ID Token.")
		return
	}
	auds, _ := claims.GetAudience()
	if !slices.ContainsFunc(auds, func(a string) bool { return slices.Contains(p.AllowedAudiences, a) }) {
		fail(400, "invalid_grant", fmt.Sprintf("The audience in ID Token [%s] does not match the expected audience %s.",
			strings.Join(auds, ","), strings.Join(p.AllowedAudiences, ",")))
		return
	}
	attrs := map[string]string{}
	for k, v := range p.AttributeMapping {
		if s, ok := claims[strings.TrimPrefix(v, "assertion.")].(string); ok {
			attrs[k] = s
		}
	}
	if attrs["google.subject"] == "" {
		fail(400, "invalid_grant", "The mapped attribute 'google.subject' must not be empty.")
		return
	}
	if p.Condition != nil && !p.Condition(attrs) {
		fail(400, "unauthorized_client", "The given credential is rejected by the attribute condition.")
		return
	}
	id := Identity{Name: p.Principal(attrs["google.subject"]), Attributes: attrs, Pool: p.PoolResource(),
		Scopes: strings.Fields(f.Get("scope")), Expires: time.Now().Add(e.lifetime()), Kind: "federated"}
	tok, id := e.mint("ya29.d.", id)
	e.record(Call{Endpoint: "sts", Grant: tokenExchange, Identity: id.Name})
	writeJSON(w, 200, map[string]any{
		"access_token":      tok,
		"issued_token_type": typeAccessToken,
		"token_type":        "Bearer",
		"expires_in":        int(time.Until(id.Expires).Seconds()),
	})
}

// CredentialSource is where an external_account file reads the subject
// token: a file (File), or a URL (URL, Headers) whose answer is the token
// or, with JSONField, a JSON object holding it.
type CredentialSource struct {
	File      string
	URL       string
	Headers   map[string]string
	JSONField string
}

// ExternalAccountFile returns the external_account credential
// configuration that `gcloud iam workload-identity-pools
// create-cred-config` (and google-github-actions/auth) write for p:
// subject_token_type jwt, token_url https://sts.googleapis.com/v1/token,
// and, when impersonate names a service account,
// service_account_impersonation_url on iamcredentials.googleapis.com.
func (p *Provider) ExternalAccountFile(src CredentialSource, impersonate string) []byte {
	cs := map[string]any{}
	if src.File != "" {
		cs["file"] = src.File
	}
	if src.URL != "" {
		cs["url"] = src.URL
		if len(src.Headers) > 0 {
			cs["headers"] = src.Headers
		}
	}
	if src.JSONField != "" {
		cs["format"] = map[string]string{"type": "json", "subject_token_field_name": src.JSONField}
	}
	f := map[string]any{
		"type":               "external_account",
		"audience":           p.Audience(),
		"subject_token_type": typeJWT,
		"token_url":          STSTokenURL,
		"credential_source":  cs,
		"universe_domain":    "googleapis.com",
	}
	if impersonate != "" {
		f["service_account_impersonation_url"] = IAMCredentialsURL + "/v1/projects/-/serviceAccounts/" + impersonate + ":generateAccessToken"
	}
	b, _ := json.MarshalIndent(f, "", "  ")
	return b
}
