package gcpemu

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

func iamError(w http.ResponseWriter, code int, status, msg string, details ...any) {
	body := map[string]any{"code": code, "message": msg, "status": status}
	if len(details) > 0 {
		body["details"] = details
	}
	writeJSON(w, code, map[string]any{"error": body})
}

// serveIAM answers POST /v1/projects/-/serviceAccounts/EMAIL:generateAccessToken.
func (e *Emulator) serveIAM(w http.ResponseWriter, r *http.Request) {
	call := Call{Endpoint: "generateAccessToken"}
	rest, ok := strings.CutPrefix(r.URL.Path, "/v1/projects/")
	_, rest, ok2 := strings.Cut(rest, "/serviceAccounts/")
	email, ok3 := strings.CutSuffix(rest, ":generateAccessToken")
	if !ok || !ok2 || !ok3 || r.Method != http.MethodPost {
		iamError(w, 404, "NOT_FOUND", "Not Found")
		return
	}
	bearer, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	caller, err := e.Lookup(bearer)
	if err != nil {
		call.Error = "UNAUTHENTICATED"
		e.record(call)
		iamError(w, 401, "UNAUTHENTICATED", "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.")
		return
	}
	call.Identity = caller.Name
	var in struct {
		Scope     []string `json:"scope"`
		Lifetime  string   `json:"lifetime"`
		Delegates []string `json:"delegates"`
	}
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err := json.Unmarshal(body, &in); err != nil {
		call.Error = "INVALID_ARGUMENT"
		e.record(call)
		iamError(w, 400, "INVALID_ARGUMENT", "Invalid JSON payload received.")
		return
	}
	e.mu.Lock()
	sa := e.accounts[email]
	e.mu.Unlock()
	if sa == nil || !sa.mayImpersonate(&caller) || len(in.Delegates) > 0 {
		call.Error = "PERMISSION_DENIED"
		e.record(call)
		iamError(w, 403, "PERMISSION_DENIED", "Permission 'iam.serviceAccounts.getAccessToken' denied on resource (or it may not exist).",
			map[string]any{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "IAM_PERMISSION_DENIED",
				"domain": "iam.googleapis.com", "metadata": map[string]string{"permission": "iam.serviceAccounts.getAccessToken"}})
		return
	}
	if len(in.Scope) == 0 {
		call.Error = "INVALID_ARGUMENT"
		e.record(call)
		iamError(w, 400, "INVALID_ARGUMENT", "Scope required.")
		return
	}
	life := time.Hour
	if in.Lifetime != "" {
		d, err := time.ParseDuration(in.Lifetime)
		if err != nil || d <= 0 || d > time.Hour {
			call.Error = "INVALID_ARGUMENT"
			e.record(call)
			iamError(w, 400, "INVALID_ARGUMENT", fmt.Sprintf("The lifetime of the token must be less than or equal to 3600s, got %q.", in.Lifetime))
			return
		}
		life = d
	}
	if l := e.lifetime(); l < life {
		life = l
	}
	tok, id := e.mint("ya29.c.", Identity{Name: sa.Email, Scopes: in.Scope, Expires: time.Now().Add(life), Kind: "impersonated"})
	e.record(call)
	writeJSON(w, 200, map[string]string{"accessToken": tok, "expireTime": id.Expires.UTC().Format(time.RFC3339)})
}
