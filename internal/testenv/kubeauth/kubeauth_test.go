package kubeauth

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"
)

func eksToken(u string) string { return eksPrefix + base64.RawURLEncoding.EncodeToString([]byte(u)) }

func TestEKSCheck(t *testing.T) {
	now := time.Now().UTC().Format("20060102T150405Z")
	old := time.Now().Add(-16 * time.Minute).UTC().Format("20060102T150405Z")
	good := "https://sts.eu-west-1.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15&X-Amz-Algorithm=AWS4-HMAC-SHA256" +
		"&X-Amz-Credential=AKIA%2F20240101%2Feu-west-1%2Fsts%2Faws4_request&X-Amz-Date=" + now +
		"&X-Amz-Expires=60&X-Amz-SignedHeaders=host%3Bx-k8s-aws-id&X-Amz-Signature=abc"
	tests := []struct {
		name, token, want string
	}{
		{"good", eksToken(good), ""},
		{"global host", eksToken(strings.Replace(good, "sts.eu-west-1.", "sts.", 1)), ""},
		{"not base64", eksPrefix + "%%%", "not properly formatted"},
		{"http", eksToken(strings.Replace(good, "https:", "http:", 1)), "unexpected scheme"},
		{"other host", eksToken(strings.Replace(good, "sts.eu-west-1.amazonaws.com", "evil.example.com", 1)), "unexpected hostname"},
		{"path", eksToken(strings.Replace(good, ".com/?", ".com/x?", 1)), "unexpected path"},
		{"extra param", eksToken(good + "&Foo=1"), "non-whitelisted query parameter"},
		{"twice", eksToken(good + "&Action=GetCallerIdentity"), "multiple values"},
		{"action", eksToken(strings.Replace(good, "Action=GetCallerIdentity", "Action=AssumeRole", 1)), "unexpected action"},
		{"unsigned cluster", eksToken(strings.Replace(good, "host%3Bx-k8s-aws-id", "host", 1)), "did not sign the x-k8s-aws-id"},
		{"expires too long", eksToken(strings.Replace(good, "X-Amz-Expires=60", "X-Amz-Expires=901", 1)), "invalid X-Amz-Expires"},
		{"no expires", eksToken(strings.Replace(good, "&X-Amz-Expires=60", "", 1)), "invalid X-Amz-Expires"},
		{"old", eksToken(strings.Replace(good, now, old, 1)), "X-Amz-Date parameter is expired"},
		{"too large", eksToken(good + strings.Repeat("&X-Amz-Security-Token=x", 200)), "too large"},
	}
	a := &EKS{ClusterID: "prod"}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := a.check(tt.token)
			switch {
			case tt.want == "" && err != nil:
				t.Fatal(err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("error %v, want %q", err, tt.want)
			}
		})
	}
	short := &EKS{ClusterID: "prod", MaxAge: time.Second}
	then := time.Now().Add(-2 * time.Second).UTC().Format("20060102T150405Z")
	if _, err := short.check(eksToken(strings.Replace(good, now, then, 1))); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("MaxAge ignored: %v", err)
	}
}

func TestCanonicalize(t *testing.T) {
	tests := []struct{ arn, uid, want, session string }{
		{"arn:aws:iam::111122223333:user/alice", "AIDAX", "arn:aws:iam::111122223333:user/alice", ""},
		{"arn:aws:sts::111122223333:assumed-role/ferry/run-1", "AROAX:run-1", "arn:aws:iam::111122223333:role/ferry", "run-1"},
	}
	for _, tt := range tests {
		got, s, err := canonicalize(tt.arn, tt.uid)
		if err != nil || got != tt.want || s != tt.session {
			t.Errorf("canonicalize(%s) = %s %s %v", tt.arn, got, s, err)
		}
	}
	if _, _, err := canonicalize("arn:aws:sts::1:federated-user/x", "x"); err == nil {
		t.Error("federated-user accepted")
	}
}
