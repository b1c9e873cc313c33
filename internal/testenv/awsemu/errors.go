package awsemu

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net/http"
	"strings"
)

// apiError is an AWS error answer: status, code and message as the
// service sends them.
type apiError struct {
	Status  int
	Code    string
	Message string
	Type    string // Sender or Receiver
}

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

func sender(status int, code, msg string) *apiError {
	return &apiError{Status: status, Code: code, Message: msg, Type: "Sender"}
}

func errIncompleteSignature(msg string) *apiError {
	return sender(http.StatusBadRequest, "IncompleteSignature", msg)
}

func errSignatureMismatch() *apiError {
	return sender(http.StatusForbidden, "SignatureDoesNotMatch",
		"The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.")
}

func errInvalidClientTokenID() *apiError {
	return sender(http.StatusForbidden, "InvalidClientTokenId", "The security token included in the request is invalid.")
}

func errExpiredToken() *apiError {
	return sender(http.StatusForbidden, "ExpiredToken", "The security token included in the request is expired")
}

func errMissingAuth() *apiError {
	return sender(http.StatusForbidden, "MissingAuthenticationToken", "Request is missing Authentication Token")
}

// writeQueryError answers in the query protocol's shape: XML, or the JSON
// rendering when the client asked for application/json (as
// aws-iam-authenticator does).
func writeQueryError(w http.ResponseWriter, r *http.Request, e *apiError, requestID string) {
	if wantsJSON(r) {
		writeJSON(w, e.Status, "application/json", map[string]any{
			"Error":     map[string]string{"Type": e.Type, "Code": e.Code, "Message": e.Message},
			"RequestId": requestID,
		})
		return
	}
	type xmlError struct {
		Type    string `xml:"Type"`
		Code    string `xml:"Code"`
		Message string `xml:"Message"`
	}
	type xmlErrorResponse struct {
		XMLName   xml.Name `xml:"ErrorResponse"`
		Xmlns     string   `xml:"xmlns,attr"`
		Error     xmlError `xml:"Error"`
		RequestID string   `xml:"RequestId"`
	}
	writeXML(w, e.Status, xmlErrorResponse{Xmlns: stsNamespace, Error: xmlError{e.Type, e.Code, e.Message}, RequestID: requestID})
}

// writeJSONError answers in the JSON 1.1 protocol's shape (ECR).
func writeJSONError(w http.ResponseWriter, e *apiError, requestID string) {
	w.Header().Set("X-Amzn-Errortype", e.Code+":")
	w.Header().Set("X-Amzn-Requestid", requestID)
	writeJSON(w, e.Status, "application/x-amz-json-1.1", map[string]string{"__type": e.Code, "message": e.Message})
}

func wantsJSON(r *http.Request) bool {
	return strings.Contains(strings.ToLower(r.Header.Get("Accept")), "application/json")
}

func writeJSON(w http.ResponseWriter, status int, contentType string, v any) {
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func writeXML(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(status)
	fmt.Fprint(w, xml.Header)
	_ = xml.NewEncoder(w).Encode(v) // the client went away: nothing to tell it
}
