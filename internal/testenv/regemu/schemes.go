package regemu

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/ferry-dev/ferry/internal/testenv/awsemu"
	"github.com/ferry-dev/ferry/internal/testenv/azureemu"
	"github.com/ferry-dev/ferry/internal/testenv/cloudnet"
	"github.com/ferry-dev/ferry/internal/testenv/gcpemu"
)

// --- Basic (ECR, plain registries) ---

type basicAuth struct {
	host       string
	challenge  string
	credential string
	// verify returns the identity, or a deny answer.
	verify func(user, pass string) (string, func(http.ResponseWriter))
	allow  AllowFunc
}

func (b *basicAuth) hosts() []string { return []string{b.host} }

func (b *basicAuth) token(http.ResponseWriter, *http.Request) (bool, Access) { return false, Access{} }

func (b *basicAuth) check(r *http.Request, repo, action string) (Access, func(http.ResponseWriter)) {
	unauthorized := func(w http.ResponseWriter) {
		w.Header().Set("WWW-Authenticate", b.challenge)
		writeErrors(w, http.StatusUnauthorized, "UNAUTHORIZED", "authentication required", nil)
	}
	user, pass, ok := r.BasicAuth()
	if !ok {
		return Access{}, unauthorized
	}
	id, deny := b.verify(user, pass)
	if deny != nil {
		return Access{Credential: b.credential}, deny
	}
	a := Access{Identity: id, Credential: b.credential}
	if repo != "" && !b.allow(id, repo, action) {
		return a, func(w http.ResponseWriter) {
			writeErrors(w, http.StatusForbidden, "DENIED", "requested access to the resource is denied", nil)
		}
	}
	return a, nil
}

// ECR is ACCOUNT.dkr.ecr.REGION.amazonaws.com: Basic with user AWS and a
// password from GetAuthorizationToken in the region (checked by aws).
// Without credentials: 401 with `Basic realm="https://HOST/",service="ecr.amazonaws.com"`;
// an expired password: 403 DENIED "Your authorization token has
// expired. Reauthenticate and try again."; an unknown one: 401. Identity
// is "AWS:" + the ARN that asked for the token.
func ECR(aws *awsemu.Emulator, host string, allow AllowFunc) *Registry {
	if allow == nil {
		allow = allowAll
	}
	b := &basicAuth{
		host: host, credential: "ecr", allow: allow,
		challenge: fmt.Sprintf("Basic realm=%q,service=%q", "https://"+host+"/", "ecr.amazonaws.com"),
	}
	b.verify = func(user, pass string) (string, func(http.ResponseWriter)) {
		p, err := aws.CheckECRPassword(host, user, pass)
		switch {
		case err == nil:
			return "AWS:" + p.ARN, nil
		case errors.Is(err, awsemu.ErrECRExpired):
			return "", func(w http.ResponseWriter) {
				writeErrors(w, http.StatusForbidden, "DENIED", "Your authorization token has expired. Reauthenticate and try again.", nil)
			}
		default:
			return "", func(w http.ResponseWriter) {
				w.Header().Set("WWW-Authenticate", b.challenge)
				w.Header().Set("Content-Type", "text/plain; charset=utf-8")
				w.WriteHeader(http.StatusUnauthorized)
				fmt.Fprintln(w, "Not Authorized")
			}
		}
	}
	return newRegistry(host, b)
}

// Basic is a registry that takes Basic credentials from users (user →
// password), as a private registry behind a Kubernetes pull secret does.
// host may be a real-looking name routed through cloudnet, or see
// StartBasic for a loopback one.
func Basic(host string, users map[string]string, allow AllowFunc) *Registry {
	if allow == nil {
		allow = allowAll
	}
	b := &basicAuth{host: host, credential: "basic", allow: allow, challenge: fmt.Sprintf("Basic realm=%q", host)}
	b.verify = func(user, pass string) (string, func(http.ResponseWriter)) {
		if want, ok := users[user]; ok && want == pass {
			return user, nil
		}
		return "", func(w http.ResponseWriter) {
			w.Header().Set("WWW-Authenticate", b.challenge)
			writeErrors(w, http.StatusUnauthorized, "UNAUTHORIZED", "authentication required", nil)
		}
	}
	return newRegistry(host, b)
}

// --- Bearer token flow (Artifact Registry, GCR, ghcr.io, Docker Hub) ---

type tokenFlow struct {
	registry, tokenHost, tokenPath, service, credential string
	aliases                                             []string // other hosts serving the registry
	// login checks Basic credentials at the token endpoint.
	login func(user, pass string) (identity string, ok bool)
	// badLogin answers wrong credentials at the token endpoint.
	badLogin func(http.ResponseWriter)
	// deny answers a request whose token lacks the scope.
	deny     func(w http.ResponseWriter, repo, action string, anonymous bool)
	allow    AllowFunc
	public   func(repo string) bool // anonymous pull allowed
	lifetime time.Duration
	ts       tokens
}

func (f *tokenFlow) hosts() []string {
	hs := append([]string{f.registry}, f.aliases...)
	if f.tokenHost != f.registry {
		hs = append(hs, f.tokenHost)
	}
	return hs
}

func (f *tokenFlow) realm() string { return "https://" + f.tokenHost + f.tokenPath }

func (f *tokenFlow) token(w http.ResponseWriter, r *http.Request) (bool, Access) {
	if cloudnet.HostOf(r) != f.tokenHost || r.URL.Path != f.tokenPath {
		return false, Access{}
	}
	a := Access{Credential: f.credential}
	id := ""
	if user, pass, ok := r.BasicAuth(); ok {
		who, ok := f.login(user, pass)
		if !ok {
			f.badLogin(w)
			return true, a
		}
		id = who
	}
	a.Identity = id
	scopes := map[string][]string{}
	for repo, actions := range parseScopes(r) {
		for _, act := range actions {
			if (id != "" && f.allow(id, repo, act)) || (act == "pull" && f.public != nil && f.public(repo)) {
				scopes[repo] = append(scopes[repo], act)
			}
		}
	}
	tok := f.ts.issue(grant{identity: id, credential: f.credential, scopes: scopes, expires: time.Now().Add(f.lifetime)})
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"token":%q,"access_token":%q,"expires_in":%d,"issued_at":%q}`+"\n",
		tok, tok, int(f.lifetime.Seconds()), time.Now().UTC().Format(time.RFC3339))
	return true, a
}

func (f *tokenFlow) check(r *http.Request, repo, action string) (Access, func(http.ResponseWriter)) {
	challenge := func(w http.ResponseWriter) {
		w.Header().Set("WWW-Authenticate", bearerChallenge(f.realm(), f.service, repo, action))
		writeErrors(w, http.StatusUnauthorized, "UNAUTHORIZED", "authentication required", nil)
	}
	bearer, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return Access{}, challenge
	}
	g, ok := f.ts.lookup(bearer)
	if !ok {
		return Access{}, challenge
	}
	a := Access{Identity: g.identity, Credential: g.credential}
	if repo != "" && !slices.Contains(g.scopes[repo], action) {
		return a, func(w http.ResponseWriter) {
			w.Header().Set("WWW-Authenticate", bearerChallenge(f.realm(), f.service, repo, action))
			f.deny(w, repo, action, g.identity == "")
		}
	}
	return a, nil
}

// Google is an Artifact Registry (REGION-docker.pkg.dev) or Container
// Registry (gcr.io, REGION.gcr.io) host. Clients authenticate at
// https://HOST/v2/token with Basic oauth2accesstoken (or _token) and a
// Google access token the gcp emulator issued, and use the bearer token
// they get; without rights: 403 DENIED "Permission
// \"artifactregistry.repositories.downloadArtifacts\" denied on resource
// ...". Identity is "oauth2accesstoken:" + the token's identity.
func Google(gcp *gcpemu.Emulator, host string, allow AllowFunc) *Registry {
	if allow == nil {
		allow = allowAll
	}
	f := &tokenFlow{registry: host, tokenHost: host, tokenPath: "/v2/token", service: host, credential: "google",
		allow: allow, lifetime: time.Hour}
	f.login = func(user, pass string) (string, bool) {
		if user != "oauth2accesstoken" && user != "_token" {
			return "", false
		}
		id, err := gcp.Lookup(pass)
		if err != nil {
			return "", false
		}
		return "oauth2accesstoken:" + id.Name, true
	}
	f.badLogin = func(w http.ResponseWriter) {
		writeErrors(w, http.StatusUnauthorized, "UNAUTHORIZED", "failed authentication", nil)
	}
	f.deny = func(w http.ResponseWriter, repo, action string, anonymous bool) {
		perm := "artifactregistry.repositories.downloadArtifacts"
		if action == "push" {
			perm = "artifactregistry.repositories.uploadArtifacts"
		}
		if anonymous {
			writeErrors(w, http.StatusUnauthorized, "UNAUTHORIZED", "authentication required", nil)
			return
		}
		writeErrors(w, http.StatusForbidden, "DENIED", fmt.Sprintf("Permission %q denied on resource %q (or it may not exist).", perm, repo), nil)
	}
	return newRegistry(host, f)
}

// GHCR is ghcr.io: tokens from https://ghcr.io/token with Basic
// USER:TOKEN, where TOKEN is one given to AddToken (a GITHUB_TOKEN or a
// PAT; the user name is not checked, as with GITHUB_TOKEN). Wrong
// credentials: 401 {"errors":[{"code":"UNAUTHORIZED",...}]}; a token
// without rights: 403 DENIED "requested access to the resource is
// denied". Public repositories (public(repo)) are pulled anonymously.
// Identity is the token's GitHub login.
func GHCR(logins map[string]string, allow AllowFunc, public func(string) bool) *Registry {
	if allow == nil {
		allow = allowAll
	}
	f := &tokenFlow{registry: "ghcr.io", tokenHost: "ghcr.io", tokenPath: "/token", service: "ghcr.io", credential: "github",
		allow: allow, public: public, lifetime: 5 * time.Minute}
	f.login = func(_, pass string) (string, bool) {
		login, ok := logins[pass]
		return login, ok
	}
	f.badLogin = func(w http.ResponseWriter) {
		writeErrors(w, http.StatusUnauthorized, "UNAUTHORIZED", "authentication required", nil)
	}
	f.deny = func(w http.ResponseWriter, _, _ string, anonymous bool) {
		if anonymous {
			writeErrors(w, http.StatusUnauthorized, "UNAUTHORIZED", "authentication required", nil)
			return
		}
		writeErrors(w, http.StatusForbidden, "DENIED", "requested access to the resource is denied", nil)
	}
	return newRegistry("ghcr.io", f)
}

// DockerHub is registry-1.docker.io (and index.docker.io, the name
// go-containerregistry and docker configs use) with its token service
// auth.docker.io/token (service registry.docker.io): Basic USER:PASSWORD
// (or an access token) from users; wrong ones get 401 {"details":
// "incorrect username or password"}; a token without rights gets 401
// UNAUTHORIZED "authentication required" with the repository in detail,
// as Docker Hub answers for private repositories. Identity is the user.
func DockerHub(users map[string]string, allow AllowFunc, public func(string) bool) *Registry {
	if allow == nil {
		allow = allowAll
	}
	f := &tokenFlow{registry: "registry-1.docker.io", tokenHost: "auth.docker.io", tokenPath: "/token", service: "registry.docker.io",
		credential: "dockerhub", allow: allow, public: public, lifetime: 300 * time.Second,
		// go-containerregistry and docker name Docker Hub index.docker.io.
		aliases: []string{"index.docker.io"}}
	f.login = func(user, pass string) (string, bool) {
		want, ok := users[user]
		return user, ok && want == pass
	}
	f.badLogin = func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprintln(w, `{"details":"incorrect username or password"}`)
	}
	f.deny = func(w http.ResponseWriter, repo, action string, _ bool) {
		writeErrors(w, http.StatusUnauthorized, "UNAUTHORIZED", "authentication required",
			[]map[string]string{{"Type": "repository", "Class": "", "Name": repo, "Action": action}})
	}
	return newRegistry("registry-1.docker.io", f)
}

// --- ACR ---

type acrAuth struct {
	host  string
	az    *azureemu.Emulator
	allow AllowFunc
}

func (a *acrAuth) hosts() []string { return []string{a.host} }

func (a *acrAuth) token(w http.ResponseWriter, r *http.Request) (bool, Access) {
	if !strings.HasPrefix(r.URL.Path, "/oauth2/") {
		return false, Access{}
	}
	return a.az.ServeACR(w, r), Access{Credential: "acr"}
}

func (a *acrAuth) check(r *http.Request, repo, action string) (Access, func(http.ResponseWriter)) {
	challenge := func(w http.ResponseWriter) {
		w.Header().Set("WWW-Authenticate", bearerChallenge("https://"+a.host+"/oauth2/token", a.host, repo, action))
		writeErrors(w, http.StatusUnauthorized, "UNAUTHORIZED", "authentication required, visit https://aka.ms/acr/authorization for more information.", nil)
	}
	bearer, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return Access{}, challenge
	}
	who, scopes, err := a.az.CheckACRAccess(a.host, bearer)
	if err != nil {
		return Access{}, challenge
	}
	acc := Access{Identity: who, Credential: "acr"}
	if repo == "" {
		return acc, nil
	}
	granted := slices.ContainsFunc(scopes, func(s string) bool {
		f := strings.Split(s, ":")
		return len(f) == 3 && f[0] == "repository" && f[1] == repo && slices.Contains(strings.Split(f[2], ","), action)
	})
	if !granted || !a.allow(who, repo, action) {
		return acc, func(w http.ResponseWriter) {
			writeErrors(w, http.StatusUnauthorized, "UNAUTHORIZED", "authentication required, visit https://aka.ms/acr/authorization for more information.",
				[]map[string]string{{"Type": "repository", "Name": repo, "Action": action}})
		}
	}
	return acc, nil
}

// ACR is NAME.azurecr.io: the bearer flow of ACR's token service (served
// by the Azure emulator: /oauth2/exchange, /oauth2/token), realm
// https://NAME.azurecr.io/oauth2/token. A client with Basic
// 00000000-0000-0000-0000-000000000000:REFRESH_TOKEN gets its access
// token from the realm, as docker does. Identity is the service
// principal's object id.
func ACR(az *azureemu.Emulator, name string, allow AllowFunc) *Registry {
	if allow == nil {
		allow = allowAll
	}
	host := name + ".azurecr.io"
	return newRegistry(host, &acrAuth{host: host, az: az, allow: allow})
}
