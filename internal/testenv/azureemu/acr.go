package azureemu

import (
	"crypto/subtle"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/ferry-dev/ferry/internal/testenv/cloudnet"
)

// ACRUser is the user name docker and the ACR tooling pair with an ACR
// refresh token.
const ACRUser = "00000000-0000-0000-0000-000000000000"

// acrAudiences are the Entra ID token audiences ACR's exchange accepts.
var acrAudiences = []string{"https://management.azure.com", "https://management.azure.com/",
	"https://management.core.windows.net/", "https://containerregistry.azure.net"}

type acrGrant struct {
	registry string
	identity string // the service principal's object id
	refresh  bool
	scopes   []string
	expires  time.Time
}

// ServeACR answers an ACR registry's token service, as documented in
// Azure/acr docs/AAD-OAuth.md: POST /oauth2/exchange (grant_type
// access_token, service, tenant, access_token = an Entra ID token for
// ARM) → {"refresh_token"}; POST /oauth2/token (grant_type
// refresh_token, service, scope, refresh_token) and GET /oauth2/token
// (?service&scope, Basic 00000000-0000-0000-0000-000000000000:REFRESH) →
// {"access_token"}. It returns false for other paths, which the registry
// serves.
func (e *Emulator) ServeACR(w http.ResponseWriter, r *http.Request) bool {
	host := cloudnet.HostOf(r)
	switch r.URL.Path {
	case "/oauth2/exchange":
		e.acrExchange(w, r, host)
	case "/oauth2/token":
		e.acrToken(w, r, host)
	default:
		return false
	}
	return true
}

func acrError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]any{"errors": []map[string]string{{"code": code, "message": msg}}})
}

func acrUnauthorized(w http.ResponseWriter) {
	acrError(w, http.StatusUnauthorized, "UNAUTHORIZED", "authentication required, visit https://aka.ms/acr/authorization for more information.")
}

func (e *Emulator) acrExchange(w http.ResponseWriter, r *http.Request, host string) {
	if r.Method != http.MethodPost || r.ParseForm() != nil {
		acrError(w, http.StatusBadRequest, "UNSUPPORTED", "The operation is unsupported.")
		return
	}
	f := r.PostForm
	if f.Get("grant_type") != "access_token" && f.Get("grant_type") != "access_token_refresh_token" {
		acrError(w, http.StatusBadRequest, "UNSUPPORTED", "grant type is not supported")
		return
	}
	if f.Get("service") != host {
		acrUnauthorized(w)
		return
	}
	tok, err := e.ValidateToken(f.Get("access_token"))
	if err != nil || !slices.Contains(acrAudiences, tok.Audience) || (f.Get("tenant") != "" && f.Get("tenant") != tok.Tenant) {
		acrUnauthorized(w)
		return
	}
	life := min(3*time.Hour, e.lifetime(), time.Until(tok.Expires))
	rt := "acr-refresh." + randB64(60)
	e.mu.Lock()
	e.acr[rt] = &acrGrant{registry: host, identity: tok.ObjectID, refresh: true, expires: time.Now().Add(life)}
	e.mu.Unlock()
	writeJSON(w, 200, map[string]string{"refresh_token": rt})
}

func (e *Emulator) acrToken(w http.ResponseWriter, r *http.Request, host string) {
	var refresh, scope, service string
	switch r.Method {
	case http.MethodPost:
		if r.ParseForm() != nil || r.PostForm.Get("grant_type") != "refresh_token" {
			acrError(w, http.StatusBadRequest, "UNSUPPORTED", "grant type is not supported")
			return
		}
		refresh, scope, service = r.PostForm.Get("refresh_token"), strings.Join(r.PostForm["scope"], " "), r.PostForm.Get("service")
	case http.MethodGet:
		user, pass, ok := r.BasicAuth()
		if !ok || user != ACRUser {
			acrUnauthorized(w)
			return
		}
		refresh, scope, service = pass, strings.Join(r.URL.Query()["scope"], " "), r.URL.Query().Get("service")
	default:
		acrError(w, http.StatusMethodNotAllowed, "UNSUPPORTED", "The operation is unsupported.")
		return
	}
	g, err := e.acrGrant(host, refresh, true)
	if err != nil || service != host {
		acrUnauthorized(w)
		return
	}
	at := "acr-access." + randB64(60)
	e.mu.Lock()
	e.acr[at] = &acrGrant{registry: host, identity: g.identity, scopes: strings.Fields(scope),
		expires: time.Now().Add(min(75*time.Minute, time.Until(g.expires)))}
	e.mu.Unlock()
	writeJSON(w, 200, map[string]string{"access_token": at})
}

// Errors of CheckACRAccess.
var (
	ErrACRUnknown = errors.New("unknown ACR token")
	ErrACRExpired = errors.New("ACR token expired")
)

func (e *Emulator) acrGrant(registry, tok string, refresh bool) (*acrGrant, error) {
	e.mu.Lock()
	var g *acrGrant
	for t, x := range e.acr {
		if subtle.ConstantTimeCompare([]byte(t), []byte(tok)) == 1 {
			g = x
		}
	}
	e.mu.Unlock()
	if g == nil || g.refresh != refresh || g.registry != registry {
		return nil, ErrACRUnknown
	}
	if !time.Now().Before(g.expires) {
		return nil, ErrACRExpired
	}
	return g, nil
}

// CheckACRAccess checks a bearer token the registry got: an ACR access
// token for this registry, not expired. It returns the service
// principal's object id and the granted scopes
// (repository:NAME:pull,push).
func (e *Emulator) CheckACRAccess(registry, token string) (string, []string, error) {
	g, err := e.acrGrant(registry, token, false)
	if err != nil {
		return "", nil, err
	}
	return g.identity, g.scopes, nil
}
