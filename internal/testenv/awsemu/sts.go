package awsemu

import (
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ferry-dev/ferry/internal/testenv/oidcemu"
)

const stsNamespace = "https://sts.amazonaws.com/doc/2011-06-15/"

type responseMetadata struct {
	RequestID string `xml:"RequestId" json:"RequestId"`
}

type xmlCredentials struct {
	AccessKeyID     string `xml:"AccessKeyId"`
	SecretAccessKey string `xml:"SecretAccessKey"`
	SessionToken    string `xml:"SessionToken"`
	Expiration      string `xml:"Expiration"`
}

type assumedRoleUser struct {
	Arn           string `xml:"Arn"`
	AssumedRoleID string `xml:"AssumedRoleId"`
}

func (e *Emulator) serveSTS(w http.ResponseWriter, r *http.Request, region string) {
	rid := requestID()
	w.Header().Set("X-Amzn-Requestid", rid)
	body, err := readBody(r)
	if err != nil {
		writeQueryError(w, r, &apiError{Status: 500, Code: "InternalFailure", Message: err.Error(), Type: "Receiver"}, rid)
		return
	}
	params, _ := url.ParseQuery(r.URL.RawQuery)
	if r.Method == http.MethodPost {
		form, err := url.ParseQuery(string(body))
		if err != nil {
			writeQueryError(w, r, sender(400, "MalformedQueryString", "The query string is malformed."), rid)
			return
		}
		for k, v := range form {
			params[k] = append(params[k], v...)
		}
	} else if r.Method != http.MethodGet {
		writeQueryError(w, r, sender(400, "InvalidAction", "Only GET and POST are supported."), rid)
		return
	}
	action := params.Get("Action")
	if v := params.Get("Version"); v != "2011-06-15" {
		writeQueryError(w, r, sender(400, "InvalidAction", fmt.Sprintf("Could not find operation %s for version %s", action, v)), rid)
		return
	}
	call := Call{Service: "sts", Action: action}
	var aerr *apiError
	switch action {
	case "AssumeRoleWithWebIdentity":
		call.Principal, aerr = e.assumeRoleWithWebIdentity(w, r, params, rid)
	case "GetCallerIdentity", "AssumeRole":
		p, perr := e.authenticate(r, body, "sts", region)
		if perr != nil {
			aerr = perr
			break
		}
		call.Principal = p.ARN
		if action == "GetCallerIdentity" {
			e.getCallerIdentity(w, r, p, rid)
		} else {
			aerr = e.assumeRole(w, p, params, rid)
		}
	default:
		aerr = sender(400, "InvalidAction", fmt.Sprintf("Could not find operation %s for version 2011-06-15", action))
	}
	if aerr != nil {
		call.Error = aerr.Code
		writeQueryError(w, r, aerr, rid)
	}
	e.record(call)
}

func (e *Emulator) getCallerIdentity(w http.ResponseWriter, r *http.Request, p Principal, rid string) {
	if wantsJSON(r) {
		writeJSON(w, http.StatusOK, "application/json", map[string]any{
			"GetCallerIdentityResponse": map[string]any{
				"GetCallerIdentityResult": map[string]string{"Account": p.Account, "Arn": p.ARN, "UserId": p.UserID},
				"ResponseMetadata":        responseMetadata{rid},
			},
		})
		return
	}
	type result struct {
		Arn     string `xml:"Arn"`
		UserID  string `xml:"UserId"`
		Account string `xml:"Account"`
	}
	type response struct {
		XMLName  xml.Name         `xml:"GetCallerIdentityResponse"`
		Xmlns    string           `xml:"xmlns,attr"`
		Result   result           `xml:"GetCallerIdentityResult"`
		Metadata responseMetadata `xml:"ResponseMetadata"`
	}
	writeXML(w, http.StatusOK, response{Xmlns: stsNamespace, Result: result{p.ARN, p.UserID, p.Account}, Metadata: responseMetadata{rid}})
}

var sessionNameRE = regexp.MustCompile(`^[\w+=,.@-]{2,64}$`)

func validationError(field, constraint string, value any) *apiError {
	v := "null"
	if value != nil {
		v = fmt.Sprintf("'%v'", value)
	}
	return sender(400, "ValidationError", fmt.Sprintf("1 validation error detected: Value %s at '%s' failed to satisfy constraint: %s", v, field, constraint))
}

// sessionParams checks RoleArn, RoleSessionName and DurationSeconds.
func (e *Emulator) sessionParams(params url.Values) (*Role, string, time.Duration, *apiError) {
	arn := params.Get("RoleArn")
	if arn == "" {
		return nil, "", 0, validationError("roleArn", "Member must not be null", nil)
	}
	session := params.Get("RoleSessionName")
	if session == "" {
		return nil, "", 0, validationError("roleSessionName", "Member must not be null", nil)
	}
	if !sessionNameRE.MatchString(session) {
		return nil, "", 0, validationError("roleSessionName", `Member must satisfy regular expression pattern: [\w+=,.@-]*`, session)
	}
	d := time.Hour
	if s := params.Get("DurationSeconds"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 900 {
			return nil, "", 0, validationError("durationSeconds", "Member must have value greater than or equal to 900", s)
		}
		if n > 43200 {
			return nil, "", 0, validationError("durationSeconds", "Member must have value less than or equal to 43200", s)
		}
		d = time.Duration(n) * time.Second
	}
	e.mu.Lock()
	role := e.roles[arn]
	e.mu.Unlock()
	if role != nil && d > role.MaxSessionDuration {
		return nil, "", 0, sender(400, "ValidationError", "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.")
	}
	return role, session, d, nil
}

func (e *Emulator) assumeRoleWithWebIdentity(w http.ResponseWriter, r *http.Request, params url.Values, rid string) (string, *apiError) {
	role, session, d, aerr := e.sessionParams(params)
	if aerr != nil {
		return "", aerr
	}
	token := params.Get("WebIdentityToken")
	if token == "" {
		return "", validationError("webIdentityToken", "Member must not be null", nil)
	}
	denied := sender(http.StatusForbidden, "AccessDenied", "Not authorized to perform sts:AssumeRoleWithWebIdentity")
	peek, err := oidcemu.Peek(token)
	if err != nil {
		return "", sender(400, "InvalidIdentityToken", "The ID Token provided is not a valid JWT. (You may see this error if you sent an Access Token)")
	}
	iss, _ := peek["iss"].(string)
	account := accountOf(params.Get("RoleArn"))
	e.mu.Lock()
	prov := e.providers[account+" "+iss]
	e.mu.Unlock()
	if prov == nil {
		return "", sender(400, "InvalidIdentityToken", "No OpenIDConnect provider found in your account for "+iss)
	}
	claims, err := oidcemu.Verify(r.Context(), e.opts.Client, token, iss, e.opts.Leeway)
	switch oidcemu.ReasonOf(err) {
	case 0:
	case oidcemu.ReasonExpired:
		exp, _ := peek.GetExpirationTime()
		var at int64
		if exp != nil {
			at = exp.Unix()
		}
		return "", sender(400, "ExpiredTokenException", fmt.Sprintf("Token expired: current date/time %d must be before the expiration date/time%d", time.Now().Unix(), at))
	case oidcemu.ReasonKeys, oidcemu.ReasonUnknownKey:
		return "", sender(400, "InvalidIdentityToken", "Couldn't retrieve verification key from your identity provider,  please reference AssumeRoleWithWebIdentity documentation for requirements")
	default:
		return "", sender(400, "InvalidIdentityToken", "The web identity token that was passed could not be validated by AWS. Get a new identity token from the identity provider and then retry the request.")
	}
	auds, _ := claims.GetAudience()
	if !slices.ContainsFunc(auds, func(a string) bool { return slices.Contains(prov.clientIDs, a) }) {
		return "", sender(400, "InvalidIdentityToken", "Incorrect token audience")
	}
	if role == nil {
		return "", denied
	}
	sub, _ := claims.GetSubject()
	if !slices.ContainsFunc(role.WebIdentity, func(t WebIdentityTrust) bool {
		return t.Issuer == iss && slices.Contains(auds, t.Audience) && stringLike(t.Subject, sub)
	}) {
		return "", denied
	}
	p := Principal{Account: role.Account, ARN: "arn:aws:sts::" + role.Account + ":assumed-role/" + role.Name + "/" + session,
		UserID: role.id + ":" + session}
	k := e.issue(p, d)
	type result struct {
		Subject  string          `xml:"SubjectFromWebIdentityToken"`
		Audience string          `xml:"Audience"`
		User     assumedRoleUser `xml:"AssumedRoleUser"`
		Creds    xmlCredentials  `xml:"Credentials"`
		Provider string          `xml:"Provider"`
	}
	type response struct {
		XMLName  xml.Name         `xml:"AssumeRoleWithWebIdentityResponse"`
		Xmlns    string           `xml:"xmlns,attr"`
		Result   result           `xml:"AssumeRoleWithWebIdentityResult"`
		Metadata responseMetadata `xml:"ResponseMetadata"`
	}
	writeXML(w, http.StatusOK, response{Xmlns: stsNamespace, Metadata: responseMetadata{rid}, Result: result{
		Subject:  sub,
		Audience: strings.Join(auds, ","),
		User:     assumedRoleUser{p.ARN, p.UserID},
		Creds:    xmlCreds(k),
		Provider: iss,
	}})
	return p.ARN, nil
}

func (e *Emulator) assumeRole(w http.ResponseWriter, caller Principal, params url.Values, rid string) *apiError {
	role, session, d, aerr := e.sessionParams(params)
	if aerr != nil {
		return aerr
	}
	if role == nil || !slices.Contains(role.Principals, caller.CanonicalARN()) {
		return sender(http.StatusForbidden, "AccessDenied", fmt.Sprintf("User: %s is not authorized to perform: sts:AssumeRole on resource: %s", caller.ARN, params.Get("RoleArn")))
	}
	p := Principal{Account: role.Account, ARN: "arn:aws:sts::" + role.Account + ":assumed-role/" + role.Name + "/" + session,
		UserID: role.id + ":" + session}
	k := e.issue(p, d)
	type result struct {
		User  assumedRoleUser `xml:"AssumedRoleUser"`
		Creds xmlCredentials  `xml:"Credentials"`
	}
	type response struct {
		XMLName  xml.Name         `xml:"AssumeRoleResponse"`
		Xmlns    string           `xml:"xmlns,attr"`
		Result   result           `xml:"AssumeRoleResult"`
		Metadata responseMetadata `xml:"ResponseMetadata"`
	}
	writeXML(w, http.StatusOK, response{Xmlns: stsNamespace, Metadata: responseMetadata{rid},
		Result: result{User: assumedRoleUser{p.ARN, p.UserID}, Creds: xmlCreds(k)}})
	return nil
}

func xmlCreds(k AccessKey) xmlCredentials {
	return xmlCredentials{AccessKeyID: k.ID, SecretAccessKey: k.Secret, SessionToken: k.SessionToken,
		Expiration: k.Expiration.Format(time.RFC3339)}
}

// accountOf returns the account of arn:aws:iam::ACCOUNT:role/NAME.
func accountOf(arn string) string {
	parts := strings.Split(arn, ":")
	if len(parts) < 6 {
		return ""
	}
	return parts[4]
}
