package gcpemu

import (
	"crypto/subtle"
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const jwtBearer = "urn:ietf:params:oauth:grant-type:jwt-bearer"

// oauthError is Google's OAuth2 (and STS) error body.
type oauthError struct {
	status int
	code   string
	desc   string
}

func (e *Emulator) serveOAuth(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == "/token" && r.Method == http.MethodPost:
		e.serveToken(w, r)
	case r.URL.Path == "/tokeninfo":
		e.serveTokenInfo(w, r)
	default:
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "not_found"})
	}
}

func (e *Emulator) serveToken(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		writeJSON(w, 400, map[string]string{"error": "invalid_request", "error_description": "Bad Request"})
		return
	}
	grant := r.PostForm.Get("grant_type")
	call := Call{Endpoint: "token", Grant: grant}
	var (
		id   Identity
		oerr *oauthError
	)
	switch grant {
	case jwtBearer:
		id, oerr = e.jwtGrant(r.PostForm.Get("assertion"))
	case "refresh_token":
		id, oerr = e.refreshGrant(r.PostForm.Get("client_id"), r.PostForm.Get("client_secret"), r.PostForm.Get("refresh_token"), r.PostForm.Get("scope"))
	default:
		oerr = &oauthError{400, "unsupported_grant_type", "Invalid grant_type: " + grant}
	}
	if oerr != nil {
		call.Error = oerr.code
		e.record(call)
		writeJSON(w, oerr.status, map[string]string{"error": oerr.code, "error_description": oerr.desc})
		return
	}
	prefix := "ya29.c."
	if id.Kind == "user" {
		prefix = "ya29.a0"
	}
	tok, id := e.mint(prefix, id)
	call.Identity = id.Name
	e.record(call)
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": tok,
		"expires_in":   int(time.Until(id.Expires).Seconds()),
		"scope":        strings.Join(id.Scopes, " "),
		"token_type":   "Bearer",
	})
}

// jwtGrant checks a service account's signed assertion as
// oauth2.googleapis.com does.
func (e *Emulator) jwtGrant(assertion string) (Identity, *oauthError) {
	notFound := &oauthError{400, "invalid_grant", "Invalid grant: account not found"}
	badSig := &oauthError{400, "invalid_grant", "Invalid JWT Signature."}
	claims := jwt.MapClaims{}
	tok, _, err := jwt.NewParser().ParseUnverified(assertion, claims)
	if err != nil {
		return Identity{}, &oauthError{400, "invalid_grant", "Invalid JWT: Malformed assertion."}
	}
	iss, _ := claims.GetIssuer()
	e.mu.Lock()
	sa := e.accounts[iss]
	e.mu.Unlock()
	if sa == nil {
		return Identity{}, notFound
	}
	if kid, _ := tok.Header["kid"].(string); kid != "" && kid != sa.KeyID {
		return Identity{}, badSig
	}
	if _, err := jwt.NewParser(jwt.WithValidMethods([]string{"RS256"}), jwt.WithoutClaimsValidation()).
		Parse(assertion, func(*jwt.Token) (any, error) { return &sa.key.PublicKey, nil }); err != nil {
		return Identity{}, badSig
	}
	auds, _ := claims.GetAudience()
	if len(auds) != 1 || (auds[0] != TokenURL && auds[0] != "https://www.googleapis.com/oauth2/v4/token") {
		return Identity{}, &oauthError{400, "invalid_grant", "Invalid JWT: Failed audience check. The right audience is " + TokenURL}
	}
	iat, _ := claims.GetIssuedAt()
	exp, _ := claims.GetExpirationTime()
	now, lee := time.Now(), e.opts.Leeway
	if iat == nil || exp == nil || exp.Sub(iat.Time) > time.Hour || now.Add(lee).Before(iat.Time) || !now.Before(exp.Add(lee)) {
		return Identity{}, &oauthError{400, "invalid_grant",
			"Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim."}
	}
	scope, _ := claims["scope"].(string)
	if scope == "" {
		return Identity{}, &oauthError{400, "invalid_scope", "Invalid OAuth scope or ID token audience provided."}
	}
	name := sa.Email
	if sub, _ := claims.GetSubject(); sub != "" && sub != sa.Email {
		name = sub // domain-wide delegation
	}
	return Identity{Name: name, Scopes: strings.Fields(scope), Expires: now.Add(e.lifetime()), Kind: "service_account"}, nil
}

func (e *Emulator) refreshGrant(clientID, secret, refresh, scope string) (Identity, *oauthError) {
	e.mu.Lock()
	var u *User
	for t, x := range e.users {
		if subtle.ConstantTimeCompare([]byte(t), []byte(refresh)) == 1 {
			u = x
		}
	}
	e.mu.Unlock()
	if u == nil {
		return Identity{}, &oauthError{400, "invalid_grant", "Bad Request"}
	}
	if clientID != u.ClientID || subtle.ConstantTimeCompare([]byte(secret), []byte(u.ClientSecret)) != 1 {
		return Identity{}, &oauthError{401, "invalid_client", "Unauthorized"}
	}
	scopes := strings.Fields(scope)
	if len(scopes) == 0 {
		scopes = []string{"openid", "https://www.googleapis.com/auth/userinfo.email", "https://www.googleapis.com/auth/cloud-platform"}
	}
	return Identity{Name: u.Email, Scopes: scopes, Expires: time.Now().Add(e.lifetime()), Kind: "user"}, nil
}

// serveTokenInfo answers GET /tokeninfo?access_token=T as Google does.
func (e *Emulator) serveTokenInfo(w http.ResponseWriter, r *http.Request) {
	tok := r.URL.Query().Get("access_token")
	if tok == "" && r.Method == http.MethodPost && r.ParseForm() == nil {
		tok = r.PostForm.Get("access_token")
	}
	id, err := e.Lookup(tok)
	call := Call{Endpoint: "tokeninfo"}
	if err != nil {
		call.Error = "invalid_token"
		e.record(call)
		writeJSON(w, 400, map[string]string{"error": "invalid_token", "error_description": "Invalid Value"})
		return
	}
	call.Identity = id.Name
	e.record(call)
	info := map[string]any{
		"scope":       strings.Join(id.Scopes, " "),
		"exp":         id.Expires.Unix(),
		"expires_in":  int(time.Until(id.Expires).Seconds()),
		"access_type": map[bool]string{true: "offline", false: "online"}[id.Kind == "user"],
	}
	if strings.Contains(id.Name, "@") {
		info["email"], info["email_verified"] = id.Name, "true"
	}
	writeJSON(w, 200, info)
}
