package azureemu

import (
	"crypto/rsa"
	"crypto/subtle"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/ferry-dev/ferry/internal/testenv/oidcemu"
)

const assertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// aadError is an AADSTS error answer.
type aadError struct {
	status int
	err    string
	code   int
	desc   string
}

func (e *Emulator) writeAADError(w http.ResponseWriter, a *aadError) {
	now := time.Now().UTC()
	trace, corr := NewGUID(), NewGUID()
	writeJSON(w, a.status, map[string]any{
		"error": a.err,
		"error_description": fmt.Sprintf("AADSTS%d: %s Trace ID: %s Correlation ID: %s Timestamp: %s",
			a.code, a.desc, trace, corr, now.Format("2006-01-02 15:04:05Z")),
		"error_codes":    []int{a.code},
		"timestamp":      now.Format("2006-01-02 15:04:05Z"),
		"trace_id":       trace,
		"correlation_id": corr,
		"error_uri":      fmt.Sprintf("https://%s/error?code=%d", Host, a.code),
	})
}

func tenantNotFound(tenant string) *aadError {
	return &aadError{400, "invalid_request", 90002, fmt.Sprintf("Tenant '%s' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.", tenant)}
}

// serveLogin routes login.microsoftonline.com.
func (e *Emulator) serveLogin(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if len(parts) < 2 {
		http.NotFound(w, r)
		return
	}
	tenant, rest := parts[0], strings.Join(parts[1:], "/")
	switch {
	case tenant == "common" && rest == "discovery/instance":
		e.serveInstanceDiscovery(w, r)
	case rest == "discovery/keys" || rest == "discovery/v2.0/keys":
		e.serveKeys(w)
	case rest == "v2.0/.well-known/openid-configuration" || rest == ".well-known/openid-configuration":
		if tenant != "common" && tenant != "organizations" && !e.tenantKnown(tenant) {
			e.writeAADError(w, tenantNotFound(tenant))
			return
		}
		e.serveMetadata(w, tenant, strings.HasPrefix(rest, "v2.0/"))
	case rest == "oauth2/v2.0/token" && r.Method == http.MethodPost:
		e.serveToken(w, r, tenant)
	default:
		http.NotFound(w, r)
	}
}

func (e *Emulator) serveInstanceDiscovery(w http.ResponseWriter, r *http.Request) {
	auth := r.URL.Query().Get("authorization_endpoint")
	u, err := url.Parse(auth)
	tenant := "common"
	if err == nil {
		if p := strings.Split(strings.Trim(u.Path, "/"), "/"); len(p) > 0 && p[0] != "" {
			tenant = p[0]
		}
	}
	writeJSON(w, 200, map[string]any{
		"tenant_discovery_endpoint": "https://" + Host + "/" + tenant + "/v2.0/.well-known/openid-configuration",
		"api-version":               "1.1",
		"metadata": []map[string]any{
			{"preferred_network": Host, "preferred_cache": "login.windows.net",
				"aliases": []string{Host, "login.windows.net", "login.microsoft.com", "sts.windows.net"}},
		},
	})
}

func (e *Emulator) serveMetadata(w http.ResponseWriter, tenant string, v2 bool) {
	base := "https://" + Host + "/" + tenant
	if v2 {
		writeJSON(w, 200, map[string]any{
			"token_endpoint":                        base + "/oauth2/v2.0/token",
			"token_endpoint_auth_methods_supported": []string{"client_secret_post", "private_key_jwt", "client_secret_basic"},
			"jwks_uri":                              base + "/discovery/v2.0/keys",
			"response_modes_supported":              []string{"query", "fragment", "form_post"},
			"subject_types_supported":               []string{"pairwise"},
			"id_token_signing_alg_values_supported": []string{"RS256"},
			"response_types_supported":              []string{"code", "id_token", "code id_token", "id_token token"},
			"scopes_supported":                      []string{"openid", "profile", "email", "offline_access"},
			"issuer":                                base + "/v2.0",
			"request_uri_parameter_supported":       false,
			"userinfo_endpoint":                     "https://graph.microsoft.com/oidc/userinfo",
			"authorization_endpoint":                base + "/oauth2/v2.0/authorize",
			"device_authorization_endpoint":         base + "/oauth2/v2.0/devicecode",
			"http_logout_supported":                 true,
			"frontchannel_logout_supported":         true,
			"end_session_endpoint":                  base + "/oauth2/v2.0/logout",
			"claims_supported": []string{"sub", "iss", "cloud_instance_name", "cloud_instance_host_name", "cloud_graph_host_name",
				"msgraph_host", "aud", "exp", "iat", "auth_time", "acr", "nonce", "preferred_username", "name", "tid", "ver", "at_hash",
				"c_hash", "email"},
			"kerberos_endpoint":     base + "/kerberos",
			"tenant_region_scope":   "EU",
			"cloud_instance_name":   "microsoftonline.com",
			"cloud_graph_host_name": "graph.windows.net",
			"msgraph_host":          "graph.microsoft.com",
			"rbac_url":              "https://pas.windows.net",
		})
		return
	}
	writeJSON(w, 200, map[string]any{
		"token_endpoint":                        base + "/oauth2/token",
		"jwks_uri":                              "https://" + Host + "/common/discovery/keys",
		"issuer":                                "https://sts.windows.net/" + tenant + "/",
		"authorization_endpoint":                base + "/oauth2/authorize",
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"response_types_supported":              []string{"code", "id_token", "code id_token", "token id_token", "token"},
		"subject_types_supported":               []string{"pairwise"},
	})
}

func (e *Emulator) serveKeys(w http.ResponseWriter) {
	k := oidcemu.PublicJWK(&e.key.PublicKey, e.kid)
	k.Alg = ""
	k.X5t = e.kid
	k.X5c = []string{base64.StdEncoding.EncodeToString(e.cert.Raw)}
	writeJSON(w, 200, map[string]any{"keys": []oidcemu.JWK{k}})
}

func (e *Emulator) serveToken(w http.ResponseWriter, r *http.Request, tenant string) {
	if err := r.ParseForm(); err != nil {
		e.writeAADError(w, &aadError{400, "invalid_request", 900144, "The request body must contain the following parameter: 'grant_type'."})
		return
	}
	f := r.PostForm
	call := Call{Tenant: tenant, ClientID: f.Get("client_id"), Scope: f.Get("scope")}
	tok, method, aerr := e.clientCredentials(r, tenant, f)
	call.Method = method
	if aerr != nil {
		call.Error = fmt.Sprintf("AADSTS%d", aerr.code)
		e.record(call)
		e.writeAADError(w, aerr)
		return
	}
	e.record(call)
	secs := int(e.lifetime().Seconds())
	writeJSON(w, 200, map[string]any{"token_type": "Bearer", "expires_in": secs, "ext_expires_in": secs, "access_token": tok})
}

func (e *Emulator) clientCredentials(r *http.Request, tenant string, f url.Values) (string, string, *aadError) {
	if g := f.Get("grant_type"); g != "client_credentials" {
		return "", "", &aadError{400, "unsupported_grant_type", 70003, fmt.Sprintf("The app requested an unsupported grant type '%s'.", g)}
	}
	if !e.tenantKnown(tenant) {
		return "", "", tenantNotFound(tenant)
	}
	clientID := f.Get("client_id")
	e.mu.Lock()
	app := e.apps[tenant+" "+clientID]
	e.mu.Unlock()
	if app == nil {
		return "", "", &aadError{400, "unauthorized_client", 700016, fmt.Sprintf("Application with identifier '%s' was not found in the directory '%s'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.", clientID, tenant)}
	}
	scope := f.Get("scope")
	// MSAL adds the OIDC scopes to every request; Entra ID ignores them
	// in the client credentials flow.
	var rest []string
	for _, s := range strings.Fields(scope) {
		if s != "openid" && s != "offline_access" && s != "profile" && s != "email" {
			rest = append(rest, s)
		}
	}
	var resource string
	ok := len(rest) == 1
	if ok {
		resource, ok = strings.CutSuffix(rest[0], "/.default")
	}
	if !ok || resource == "" {
		return "", "", &aadError{400, "invalid_scope", 1002012, fmt.Sprintf("The provided value for scope %s is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).", scope)}
	}
	var method string
	switch {
	case f.Get("client_secret") != "":
		method = "secret"
		if !slices.ContainsFunc(app.Secrets, func(s string) bool { return subtle.ConstantTimeCompare([]byte(s), []byte(f.Get("client_secret"))) == 1 }) {
			return "", method, &aadError{401, "invalid_client", 7000215, fmt.Sprintf("Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '%s'.", clientID)}
		}
	case f.Get("client_assertion") != "":
		if f.Get("client_assertion_type") != assertionType {
			return "", "", &aadError{400, "invalid_request", 90014, "The required field 'client_assertion_type' is missing from the credential. Ensure that you have all the necessary parameters for the login request."}
		}
		var aerr *aadError
		method, aerr = e.checkAssertion(r, app, f.Get("client_assertion"))
		if aerr != nil {
			return "", method, aerr
		}
	default:
		return "", "", &aadError{401, "invalid_client", 7000218, "The request body must contain the following parameter: 'client_assertion' or 'client_secret'."}
	}
	acr := "1"
	if method != "secret" {
		acr = "2"
	}
	tok, err := e.accessToken(app, resource, acr)
	if err != nil {
		return "", method, &aadError{500, "server_error", 90100, err.Error()}
	}
	return tok, method, nil
}

// checkAssertion verifies a certificate assertion (MSAL: PS256 with
// x5t#S256, or RS256 with x5t) or a federated one (an external OIDC
// token matched against the app's federated identity credentials).
func (e *Emulator) checkAssertion(r *http.Request, app *App, assertion string) (string, *aadError) {
	claims := jwt.MapClaims{}
	tok, _, err := jwt.NewParser().ParseUnverified(assertion, claims)
	if err != nil {
		return "", &aadError{400, "invalid_request", 50027, "JWT token is invalid or malformed."}
	}
	iss, _ := claims.GetIssuer()
	if iss == app.ClientID {
		return "certificate", e.checkCertificateAssertion(app, tok, assertion, claims)
	}
	sub, _ := claims.GetSubject()
	auds, _ := claims.GetAudience()
	var match *FederatedCredential
	for i, fc := range app.Federated {
		if fc.Issuer == iss && fc.Subject == sub {
			match = &app.Federated[i]
		}
	}
	if match == nil {
		return "federated", &aadError{400, "invalid_client", 70021, fmt.Sprintf("No matching federated identity record found for presented assertion. Assertion Issuer: '%s'. Assertion Subject: '%s'. Assertion Audience: '%s'.", iss, sub, strings.Join(auds, ","))}
	}
	if !slices.ContainsFunc(auds, func(a string) bool { return slices.Contains(match.Audiences, a) }) {
		return "federated", &aadError{400, "invalid_client", 700212, fmt.Sprintf("No matching federated identity record found for presented assertion audience '%s'.", strings.Join(auds, ","))}
	}
	_, err = oidcemu.Verify(r.Context(), e.opts.Client, assertion, iss, e.opts.Leeway)
	switch oidcemu.ReasonOf(err) {
	case 0:
		return "federated", nil
	case oidcemu.ReasonExpired, oidcemu.ReasonNotYetValid:
		return "federated", e.timeRange(claims)
	case oidcemu.ReasonKeys:
		return "federated", &aadError{400, "invalid_client", 50166, fmt.Sprintf("Request to External OIDC endpoint failed. Issuer: '%s'.", iss)}
	default:
		return "federated", &aadError{400, "invalid_client", 700027, "Client assertion failed signature validation."}
	}
}

func (e *Emulator) timeRange(claims jwt.MapClaims) *aadError {
	nbf, _ := claims.GetNotBefore()
	exp, _ := claims.GetExpirationTime()
	f := func(t *jwt.NumericDate) string {
		if t == nil {
			return "unknown"
		}
		return t.UTC().Format("01/02/2006 15:04:05")
	}
	return &aadError{400, "invalid_client", 700024, fmt.Sprintf("Client assertion is not within its valid time range. Current time: %s, assertion valid from %s, expiry time of assertion %s.",
		time.Now().UTC().Format("2006-01-02T15:04:05.0000000Z"), f(nbf), f(exp))}
}

func (e *Emulator) checkCertificateAssertion(app *App, tok *jwt.Token, assertion string, claims jwt.MapClaims) *aadError {
	x5t, _ := tok.Header["x5t"].(string)
	x5t256, _ := tok.Header["x5t#S256"].(string)
	var cert *x509.Certificate
	for _, c := range app.Certificates {
		s1, s256 := thumbprints(c)
		if (x5t256 != "" && sameThumbprint(x5t256, s256)) || (x5t != "" && sameThumbprint(x5t, s1)) {
			cert = c
		}
	}
	if cert == nil {
		return &aadError{401, "invalid_client", 700027, fmt.Sprintf("Client assertion contains an invalid signature. [Reason - The key was not found., Thumbprint of key used by client: '%s%s']", x5t, x5t256)}
	}
	if sub, _ := claims.GetSubject(); sub != app.ClientID {
		return &aadError{401, "invalid_client", 700021, "Client assertion application identifier doesn't match 'client_id' parameter."}
	}
	auds, _ := claims.GetAudience()
	want := "https://" + Host + "/" + app.Tenant + "/oauth2/v2.0/token"
	if !slices.Contains(auds, want) {
		return &aadError{401, "invalid_client", 700016, fmt.Sprintf("Client assertion audience claim does not match Realm issuer. Review the documentation at https://learn.microsoft.com/entra/identity-platform/certificate-credentials. Expected: %s", want)}
	}
	_, err := jwt.NewParser(jwt.WithValidMethods([]string{"PS256", "RS256"}), jwt.WithExpirationRequired(), jwt.WithLeeway(e.opts.Leeway)).
		Parse(assertion, func(*jwt.Token) (any, error) {
			pub, ok := cert.PublicKey.(*rsa.PublicKey)
			if !ok {
				return nil, fmt.Errorf("certificate key is %T, not RSA", cert.PublicKey)
			}
			return pub, nil
		})
	switch {
	case err == nil:
		return nil
	case strings.Contains(err.Error(), "expired") || strings.Contains(err.Error(), "not valid yet"):
		return e.timeRange(claims)
	default:
		return &aadError{401, "invalid_client", 700027, "Client assertion contains an invalid signature."}
	}
}

// accessToken mints a v1 access token for resource (an app id GUID or an
// application ID URI) to app.
func (e *Emulator) accessToken(app *App, resource, appidacr string) (string, error) {
	now := time.Now()
	claims := map[string]any{
		"aud":      resource,
		"iss":      "https://sts.windows.net/" + app.Tenant + "/",
		"iat":      now.Unix(),
		"nbf":      now.Unix(),
		"exp":      now.Add(e.lifetime()).Unix(),
		"aio":      randB64(40),
		"appid":    app.ClientID,
		"appidacr": appidacr,
		"idp":      "https://sts.windows.net/" + app.Tenant + "/",
		"idtyp":    "app",
		"oid":      app.ObjectID,
		"rh":       "0." + randB64(40) + ".",
		"sub":      app.ObjectID,
		"tid":      app.Tenant,
		"uti":      randB64(22),
		"ver":      "1.0",
	}
	t := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims(claims))
	t.Header["kid"], t.Header["x5t"] = e.kid, e.kid
	s, err := t.SignedString(e.key)
	if err == nil {
		e.mu.Lock()
		if e.minted == nil {
			e.minted = map[string]string{}
		}
		e.minted[s] = app.ClientID
		e.mu.Unlock()
	}
	return s, err
}

// Token is a validated Entra ID access token's claims.
type Token struct {
	Tenant, AppID, ObjectID, Audience string
	Expires                           time.Time
}

// ValidateToken checks an access token this emulator issued (signature,
// expiry) and returns its claims.
func (e *Emulator) ValidateToken(tok string) (Token, error) {
	claims := jwt.MapClaims{}
	_, err := jwt.NewParser(jwt.WithValidMethods([]string{"RS256"}), jwt.WithExpirationRequired()).
		ParseWithClaims(tok, claims, func(*jwt.Token) (any, error) { return &e.key.PublicKey, nil })
	if err != nil {
		return Token{}, fmt.Errorf("invalid Entra ID token: %w", err)
	}
	exp, _ := claims.GetExpirationTime()
	s := func(k string) string { v, _ := claims[k].(string); return v }
	return Token{Tenant: s("tid"), AppID: s("appid"), ObjectID: s("oid"), Audience: s("aud"), Expires: exp.Time}, nil
}

func randB64(n int) string {
	b := []byte(NewGUID() + NewGUID() + NewGUID())
	return base64.RawURLEncoding.EncodeToString(b)[:n]
}

// sameThumbprint compares a thumbprint header with a digest. RFC 7515
// says base64url; MSAL sends standard base64 and Entra ID accepts both.
func sameThumbprint(header string, digest []byte) bool {
	for _, enc := range []*base64.Encoding{base64.RawURLEncoding, base64.URLEncoding, base64.StdEncoding, base64.RawStdEncoding} {
		if b, err := enc.DecodeString(header); err == nil && subtle.ConstantTimeCompare(b, digest) == 1 {
			return true
		}
	}
	return false
}
