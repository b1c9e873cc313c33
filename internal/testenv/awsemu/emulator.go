package awsemu

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ferry-dev/ferry/internal/testenv/cloudnet"
)

// DefaultAccount is the account of users and roles added without one.
const DefaultAccount = "111122223333"

// Options configure the emulator. Zero values take the defaults in
// brackets.
type Options struct {
	// Account is the account of users and roles added without one
	// [DefaultAccount].
	Account string
	// Client reaches the OIDC issuers' discovery documents and JWKS for
	// AssumeRoleWithWebIdentity; cloudnet.Net.Client() does.
	Client *http.Client
	// CredentialLifetime, when set, caps the life of every session
	// credential STS issues, whatever DurationSeconds asked (real STS
	// refuses less than 900 s): token-expiry tests use 20 s.
	CredentialLifetime time.Duration
	// ECRTokenLifetime is the life of ECR authorization tokens [12h].
	ECRTokenLifetime time.Duration
	// Leeway is the clock skew allowed on web identity tokens [0].
	Leeway time.Duration
	// PresignedURLLifetime is how long STS honours a presigned URL after
	// its X-Amz-Date [15m].
	PresignedURLLifetime time.Duration
}

// AccessKey is a credential: a static IAM user key (no SessionToken, no
// Expiration) or session credentials STS issued.
type AccessKey struct {
	ID, Secret, SessionToken string
	Expiration               time.Time
}

// Env returns AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and, for session
// credentials, AWS_SESSION_TOKEN.
func (k AccessKey) Env() []string {
	env := []string{"AWS_ACCESS_KEY_ID=" + k.ID, "AWS_SECRET_ACCESS_KEY=" + k.Secret}
	if k.SessionToken != "" {
		env = append(env, "AWS_SESSION_TOKEN="+k.SessionToken)
	}
	return env
}

// Principal is who signed a request, as GetCallerIdentity reports it.
type Principal struct {
	Account string
	// ARN is arn:aws:iam::ACCOUNT:user/NAME or
	// arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION.
	ARN string
	// UserID is AIDA... for users and AROA...:SESSION for roles.
	UserID string
}

// CanonicalARN is the ARN a cluster maps: the user ARN, or the role ARN
// arn:aws:iam::ACCOUNT:role/ROLE for an assumed role, as
// aws-iam-authenticator canonicalises it.
func (p Principal) CanonicalARN() string {
	rest, ok := strings.CutPrefix(p.ARN, "arn:aws:sts::"+p.Account+":assumed-role/")
	if !ok {
		return p.ARN
	}
	role, _, _ := strings.Cut(rest, "/")
	return "arn:aws:iam::" + p.Account + ":role/" + role
}

// SessionName is the session of an assumed role, or "".
func (p Principal) SessionName() string {
	_, s, _ := strings.Cut(p.UserID, ":")
	return s
}

// Role is an IAM role and its trust policy.
type Role struct {
	Name    string
	Account string // [Options.Account]
	// MaxSessionDuration bounds DurationSeconds [1h].
	MaxSessionDuration time.Duration
	// WebIdentity lists the federated principals that may
	// AssumeRoleWithWebIdentity.
	WebIdentity []WebIdentityTrust
	// Principals lists the ARNs (users, or roles as
	// arn:aws:iam::A:role/R) that may AssumeRole.
	Principals []string

	id string
}

// ARN is arn:aws:iam::ACCOUNT:role/NAME.
func (r *Role) ARN() string { return "arn:aws:iam::" + r.Account + ":role/" + r.Name }

// WebIdentityTrust is one statement of a role's trust policy:
// Federated arn:aws:iam::ACCOUNT:oidc-provider/ISSUER-HOST-PATH, action
// sts:AssumeRoleWithWebIdentity, with StringEquals on ISSUER:aud and
// StringLike on ISSUER:sub.
type WebIdentityTrust struct {
	Issuer   string // https://token.actions.githubusercontent.com
	Audience string // [sts.amazonaws.com]
	// Subject is a StringLike pattern ('*' and '?'); "" allows any.
	Subject string
}

// Call is one API call the emulator answered.
type Call struct {
	Service   string // sts, ecr, ecr-public
	Action    string
	Principal string // caller's ARN, or for web identity the role session's
	Error     string // error code, "" on success
}

type credential struct {
	secret, token string
	principal     Principal
	expires       time.Time // zero: never
}

type provider struct {
	clientIDs []string
}

type ecrToken struct {
	principal Principal
	region    string
	public    bool
	expires   time.Time
}

// Emulator is AWS STS, ECR and ECR Public. It is safe for concurrent use.
type Emulator struct {
	opts Options

	mu        sync.Mutex
	keys      map[string]*credential
	roles     map[string]*Role
	providers map[string]*provider // account + " " + issuer
	ecr       map[string]*ecrToken // password
	calls     []Call
}

// New makes an empty emulator.
func New(opts Options) *Emulator {
	if opts.Account == "" {
		opts.Account = DefaultAccount
	}
	if opts.ECRTokenLifetime == 0 {
		opts.ECRTokenLifetime = 12 * time.Hour
	}
	if opts.PresignedURLLifetime == 0 {
		opts.PresignedURLLifetime = 15 * time.Minute
	}
	if opts.Client == nil {
		opts.Client = &http.Client{Timeout: 10 * time.Second}
	}
	return &Emulator{
		opts:      opts,
		keys:      map[string]*credential{},
		roles:     map[string]*Role{},
		providers: map[string]*provider{},
		ecr:       map[string]*ecrToken{},
	}
}

// Hosts served by Install.
var hosts = []string{
	"sts.amazonaws.com",
	"sts.*.amazonaws.com",
	"api.ecr.*.amazonaws.com",
	"api.ecr-public.*.amazonaws.com",
}

// Install serves STS (global and regional), ECR and ECR Public on n.
func (e *Emulator) Install(n *cloudnet.Net) {
	for _, h := range hosts {
		n.Handle(h, e)
	}
}

// ServeHTTP dispatches by host.
func (e *Emulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	host := cloudnet.HostOf(r)
	switch {
	case host == "sts.amazonaws.com":
		e.serveSTS(w, r, "us-east-1")
	case strings.HasPrefix(host, "sts.") && strings.HasSuffix(host, ".amazonaws.com"):
		e.serveSTS(w, r, strings.TrimSuffix(strings.TrimPrefix(host, "sts."), ".amazonaws.com"))
	case strings.HasPrefix(host, "api.ecr-public."):
		e.serveECR(w, r, strings.TrimSuffix(strings.TrimPrefix(host, "api.ecr-public."), ".amazonaws.com"), true)
	case strings.HasPrefix(host, "api.ecr."):
		e.serveECR(w, r, strings.TrimSuffix(strings.TrimPrefix(host, "api.ecr."), ".amazonaws.com"), false)
	default:
		http.NotFound(w, r)
	}
}

// AddUser creates IAM user name in the default account with one access
// key, and returns the key.
func (e *Emulator) AddUser(name string) AccessKey {
	return e.AddUserIn(e.opts.Account, name)
}

// AddUserIn creates IAM user name in account.
func (e *Emulator) AddUserIn(account, name string) AccessKey {
	k := AccessKey{ID: "AKIA" + upperID(16), Secret: secret()}
	p := Principal{Account: account, ARN: "arn:aws:iam::" + account + ":user/" + name, UserID: "AIDA" + upperID(17)}
	e.mu.Lock()
	e.keys[k.ID] = &credential{secret: k.Secret, principal: p}
	e.mu.Unlock()
	return k
}

// AddRole creates a role (and, for each web identity issuer it trusts, the
// IAM OIDC provider with the trusted audience as client id, unless
// AddOIDCProvider made one) and returns its ARN.
func (e *Emulator) AddRole(r Role) string {
	if r.Account == "" {
		r.Account = e.opts.Account
	}
	if r.MaxSessionDuration == 0 {
		r.MaxSessionDuration = time.Hour
	}
	r.id = "AROA" + upperID(17)
	for i, t := range r.WebIdentity {
		if t.Audience == "" {
			r.WebIdentity[i].Audience = "sts.amazonaws.com"
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	role := r
	e.roles[role.ARN()] = &role
	for _, t := range role.WebIdentity {
		k := role.Account + " " + t.Issuer
		if e.providers[k] == nil {
			e.providers[k] = &provider{clientIDs: []string{t.Audience}}
		}
	}
	return role.ARN()
}

// AddOIDCProvider creates the IAM OIDC identity provider for issuer in
// account ("" for the default) with its client id list (the audiences
// AWS accepts; default sts.amazonaws.com).
func (e *Emulator) AddOIDCProvider(account, issuer string, clientIDs ...string) {
	if account == "" {
		account = e.opts.Account
	}
	if len(clientIDs) == 0 {
		clientIDs = []string{"sts.amazonaws.com"}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.providers[account+" "+issuer] = &provider{clientIDs: clientIDs}
}

// RemoveOIDCProvider deletes an IAM OIDC provider.
func (e *Emulator) RemoveOIDCProvider(account, issuer string) {
	if account == "" {
		account = e.opts.Account
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.providers, account+" "+issuer)
}

// Calls returns the API calls answered so far.
func (e *Emulator) Calls() []Call {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.calls)
}

// CallsOf returns the calls of one action.
func (e *Emulator) CallsOf(action string) []Call {
	var out []Call
	for _, c := range e.Calls() {
		if c.Action == action {
			out = append(out, c)
		}
	}
	return out
}

func (e *Emulator) record(c Call) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.calls = append(e.calls, c)
}

// authenticate verifies a SigV4 signature for service in region and
// returns the signer.
func (e *Emulator) authenticate(r *http.Request, body []byte, service, region string) (Principal, *apiError) {
	sig, aerr := parseSignature(r)
	if aerr != nil {
		return Principal{}, aerr
	}
	if sig == nil {
		return Principal{}, errMissingAuth()
	}
	if sig.service != service {
		return Principal{}, sender(http.StatusForbidden, "SignatureDoesNotMatch",
			fmt.Sprintf("Credential should be scoped to correct service: '%s'. ", service))
	}
	if sig.region != region {
		return Principal{}, sender(http.StatusForbidden, "SignatureDoesNotMatch",
			fmt.Sprintf("Credential should be scoped to a valid region, not '%s'. ", sig.region))
	}
	if sig.scopeDate != sig.date.Format("20060102") {
		return Principal{}, sender(http.StatusForbidden, "SignatureDoesNotMatch",
			fmt.Sprintf("Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '%s' != '%s', from '%s'.",
				sig.scopeDate, sig.date.Format("20060102"), sig.date.Format(amzDateFormat)))
	}
	if !slices.Contains(sig.signedHeaders, "host") {
		return Principal{}, sender(http.StatusForbidden, "SignatureDoesNotMatch", "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.")
	}
	e.mu.Lock()
	cred := e.keys[sig.accessKey]
	e.mu.Unlock()
	if cred == nil {
		return Principal{}, errInvalidClientTokenID()
	}
	if subtle.ConstantTimeCompare([]byte(cred.token), []byte(sig.securityToken)) != 1 {
		return Principal{}, errInvalidClientTokenID()
	}
	now := time.Now().UTC()
	if sig.presigned {
		// STS honours a presigned URL for a fixed time after X-Amz-Date,
		// whatever X-Amz-Expires says (aws-iam-authenticator's
		// pkg/token/token.go relies on it and says so).
		e.mu.Lock()
		life := e.opts.PresignedURLLifetime
		e.mu.Unlock()
		if now.After(sig.date.Add(life)) {
			return Principal{}, sender(http.StatusForbidden, "AccessDenied", "Request has expired")
		}
	} else {
		if sig.date.Before(now.Add(-maxSkew)) {
			return Principal{}, sender(http.StatusForbidden, "SignatureDoesNotMatch", fmt.Sprintf(
				"Signature expired: %s is now earlier than %s (%s - 15 min.)",
				sig.date.Format(amzDateFormat), now.Add(-maxSkew).Format(amzDateFormat), now.Format(amzDateFormat)))
		}
		if sig.date.After(now.Add(maxSkew)) {
			return Principal{}, sender(http.StatusForbidden, "SignatureDoesNotMatch", fmt.Sprintf(
				"Signature not yet current: %s is still later than %s (%s + 15 min.)",
				sig.date.Format(amzDateFormat), now.Add(maxSkew).Format(amzDateFormat), now.Format(amzDateFormat)))
		}
	}
	want := sig.expected(r, body, cred.secret)
	if subtle.ConstantTimeCompare([]byte(want), []byte(sig.signature)) != 1 {
		return Principal{}, errSignatureMismatch()
	}
	if !cred.expires.IsZero() && !now.Before(cred.expires) {
		return Principal{}, errExpiredToken()
	}
	return cred.principal, nil
}

// issue mints session credentials for p that expire after d (capped by
// Options.CredentialLifetime).
func (e *Emulator) issue(p Principal, d time.Duration) AccessKey {
	e.mu.Lock()
	if limit := e.opts.CredentialLifetime; limit > 0 && d > limit {
		d = limit
	}
	e.mu.Unlock()
	k := AccessKey{
		ID:           "ASIA" + upperID(16),
		Secret:       secret(),
		SessionToken: sessionToken(),
		Expiration:   time.Now().Add(d).UTC().Truncate(time.Second),
	}
	e.mu.Lock()
	e.keys[k.ID] = &credential{secret: k.Secret, token: k.SessionToken, principal: p, expires: k.Expiration}
	e.mu.Unlock()
	return k
}

// stringLike is IAM's StringLike: '*' any run of characters, '?' one.
func stringLike(pattern, s string) bool {
	if pattern == "" {
		return true
	}
	// path.Match treats '/' specially; IAM does not.
	p := strings.ReplaceAll(regexp.QuoteMeta(pattern), `\*`, ".*")
	p = strings.ReplaceAll(p, `\?`, ".")
	ok, _ := regexp.MatchString("^"+p+"$", s)
	return ok
}

func readBody(r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("reading request body: %w", err)
	}
	return b, nil
}

const upper = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"

func upperID(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	for i := range b {
		b[i] = upper[int(b[i])%len(upper)]
	}
	return string(b)
}

func secret() string {
	b := make([]byte, 30)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return base64.StdEncoding.EncodeToString(b) // 40 characters
}

func sessionToken() string {
	b := make([]byte, 300)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return "IQoJb3JpZ2luX2Vj" + base64.StdEncoding.EncodeToString(b)
}

func requestID() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// Minted returns every secret the emulator has handed out: the secret
// keys and session tokens of the session credentials STS issued, and the
// ECR passwords with the base64 authorization tokens that carry them. A
// test asserts that none of them appears in what a client printed.
func (e *Emulator) Minted() []string { return e.MintedFor("") }

// MintedFor is Minted for the credentials issued to one principal (its
// ARN as GetCallerIdentity reports it: arn:aws:sts::A:assumed-role/R/S),
// or to everyone when arn is "".
func (e *Emulator) MintedFor(arn string) []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []string
	for _, c := range e.keys {
		if c.token != "" && (arn == "" || c.principal.ARN == arn) { // session credentials, not the test's own keys
			out = append(out, c.secret, c.token)
		}
	}
	for p, t := range e.ecr {
		if arn == "" || t.principal.ARN == arn {
			out = append(out, p, base64.StdEncoding.EncodeToString([]byte("AWS:"+p)))
		}
	}
	return out
}

// SetCredentialLifetime changes Options.CredentialLifetime for credentials
// issued from now on.
func (e *Emulator) SetCredentialLifetime(d time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.opts.CredentialLifetime = d
}
