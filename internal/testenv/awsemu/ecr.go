package awsemu

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// X-Amz-Target values and signing names of ECR and ECR Public.
const (
	ecrTarget       = "AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken"
	ecrPublicTarget = "SpencerFrontendService.GetAuthorizationToken"
)

// jsonCode maps the query protocol's authentication error codes to the
// JSON protocol's.
var jsonCode = map[string]string{
	"SignatureDoesNotMatch":      "InvalidSignatureException",
	"IncompleteSignature":        "IncompleteSignatureException",
	"InvalidClientTokenId":       "UnrecognizedClientException",
	"ExpiredToken":               "ExpiredTokenException",
	"MissingAuthenticationToken": "MissingAuthenticationTokenException",
}

func (e *Emulator) serveECR(w http.ResponseWriter, r *http.Request, region string, public bool) {
	rid := requestID()
	service, target := "ecr", ecrTarget
	if public {
		service, target = "ecr-public", ecrPublicTarget
	}
	call := Call{Service: service, Action: r.Header.Get("X-Amz-Target")}
	if i := strings.LastIndex(call.Action, "."); i >= 0 {
		call.Action = call.Action[i+1:]
	}
	fail := func(aerr *apiError) {
		if c, ok := jsonCode[aerr.Code]; ok {
			aerr = &apiError{Status: aerr.Status, Code: c, Message: aerr.Message, Type: aerr.Type}
		}
		call.Error = aerr.Code
		e.record(call)
		writeJSONError(w, aerr, rid)
	}
	body, err := readBody(r)
	if err != nil {
		fail(&apiError{Status: 500, Code: "InternalFailure", Message: err.Error()})
		return
	}
	if r.Method != http.MethodPost || r.URL.Path != "/" {
		fail(sender(404, "UnknownOperationException", ""))
		return
	}
	if public && region != "us-east-1" {
		fail(sender(400, "UnsupportedCommandException", "ECR Public's API is served in us-east-1 only"))
		return
	}
	p, aerr := e.authenticate(r, body, service, region)
	if aerr != nil {
		fail(aerr)
		return
	}
	call.Principal = p.ARN
	if r.Header.Get("X-Amz-Target") != target {
		fail(sender(400, "UnknownOperationException", ""))
		return
	}
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-amz-json-1.1") {
		fail(sender(400, "SerializationException", "Start of structure or map found where not expected."))
		return
	}
	var in map[string]any
	if len(body) > 0 {
		if err := json.Unmarshal(body, &in); err != nil {
			fail(sender(400, "SerializationException", "Start of structure or map found where not expected."))
			return
		}
	}
	expires := time.Now().Add(e.opts.ECRTokenLifetime).Truncate(time.Second)
	password := ecrPassword(expires)
	e.mu.Lock()
	e.ecr[password] = &ecrToken{principal: p, region: region, public: public, expires: expires}
	e.mu.Unlock()
	token := base64.StdEncoding.EncodeToString([]byte("AWS:" + password))
	w.Header().Set("X-Amzn-Requestid", rid)
	if public {
		writeJSON(w, 200, "application/x-amz-json-1.1", map[string]any{
			"authorizationData": map[string]any{"authorizationToken": token, "expiresAt": expires.Unix()},
		})
	} else {
		writeJSON(w, 200, "application/x-amz-json-1.1", map[string]any{
			"authorizationData": []map[string]any{{
				"authorizationToken": token,
				"expiresAt":          expires.Unix(),
				"proxyEndpoint":      "https://" + p.Account + ".dkr.ecr." + region + ".amazonaws.com",
			}},
		})
	}
	e.record(call)
}

// ecrPassword looks like ECR's: base64 of a JSON envelope with an
// encrypted payload and data key.
func ecrPassword(expires time.Time) string {
	payload := make([]byte, 900)
	datakey := make([]byte, 180)
	if _, err := rand.Read(payload); err != nil {
		panic(err)
	}
	if _, err := rand.Read(datakey); err != nil {
		panic(err)
	}
	env, _ := json.Marshal(map[string]any{
		"payload":    base64.StdEncoding.EncodeToString(payload),
		"datakey":    base64.StdEncoding.EncodeToString(datakey),
		"version":    "2",
		"type":       "DATA_KEY",
		"expiration": expires.Unix(),
	})
	return base64.StdEncoding.EncodeToString(env)
}

// Errors of the ECR password checks.
var (
	ErrECRInvalid = errors.New("your authorization token is invalid")
	ErrECRExpired = errors.New("your authorization token has expired")
)

// CheckECRPassword checks Basic credentials sent to a private registry,
// ACCOUNT.dkr.ecr.REGION.amazonaws.com: user AWS and a password from
// GetAuthorizationToken in REGION that has not expired. It returns who
// asked for the token.
func (e *Emulator) CheckECRPassword(registryHost, user, password string) (Principal, error) {
	region := ""
	if parts := strings.Split(registryHost, "."); len(parts) == 6 && parts[1] == "dkr" && parts[2] == "ecr" {
		region = parts[3]
	}
	return e.checkPassword(user, password, func(t *ecrToken) bool { return !t.public && t.region == region })
}

// CheckECRPublicPassword checks credentials sent to public.ecr.aws: user
// AWS and a password from ECR Public's GetAuthorizationToken.
func (e *Emulator) CheckECRPublicPassword(user, password string) (Principal, error) {
	return e.checkPassword(user, password, func(t *ecrToken) bool { return t.public })
}

func (e *Emulator) checkPassword(user, password string, fits func(*ecrToken) bool) (Principal, error) {
	if user != "AWS" {
		return Principal{}, fmt.Errorf("user %q: %w", user, ErrECRInvalid)
	}
	e.mu.Lock()
	var tok *ecrToken
	for pw, t := range e.ecr {
		if subtle.ConstantTimeCompare([]byte(pw), []byte(password)) == 1 {
			tok = t
		}
	}
	e.mu.Unlock()
	if tok == nil || !fits(tok) {
		return Principal{}, ErrECRInvalid
	}
	if !time.Now().Before(tok.expires) {
		return Principal{}, ErrECRExpired
	}
	return tok.principal, nil
}
