package cloudlab

import (
	"slices"
	"strings"
	"testing"
)

// TestEveryHostAnswers starts the lab and asks each emulated service's
// discovery or error endpoint through the proxy, as a client would.
func TestEveryHostAnswers(t *testing.T) {
	lab, err := Start(Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := lab.Close(); err != nil {
			t.Error(err)
		}
	})
	urls := map[string]int{
		"https://token.actions.githubusercontent.com/.well-known/openid-configuration":                        200,
		"https://oidc.circleci.com/org/" + lab.CircleCI.OrgID + "/.well-known/openid-configuration":           200,
		"https://sts.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15":                              403,
		"https://sts.eu-west-1.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15":                    403,
		"https://oauth2.googleapis.com/tokeninfo?access_token=ya29.x":                                         400,
		"https://login.microsoftonline.com/" + lab.AzureTenant + "/v2.0/.well-known/openid-configuration":     400,
		"https://login.microsoftonline.com/common/discovery/instance?api-version=1.1&authorization_endpoint=": 200,
	}
	c := lab.Net.Client()
	for u, want := range urls {
		resp, err := c.Get(u)
		if err != nil {
			t.Fatalf("%s: %v", u, err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("%s: %s, want %d", u, resp.Status, want)
		}
	}
	if _, err := c.Get("https://management.azure.com/"); err == nil || !strings.Contains(err.Error(), "no emulator") {
		t.Errorf("unemulated host: %v", err)
	}
	wh, err := lab.Webhook(WebhookOptions{ClusterID: "prod"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg := wh.Config(); !strings.HasPrefix(cfg.URL, "https://127.0.0.1:") || len(cfg.CAPEM) == 0 {
		t.Fatalf("webhook config %+v", cfg)
	}
	env := lab.Env([]string{"AWS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt", "HOME=/github/home"})
	if slices.ContainsFunc(env, func(kv string) bool { return strings.HasPrefix(kv, "AWS_CA_BUNDLE=") }) ||
		!slices.Contains(env, "SSL_CERT_FILE="+lab.Net.CAFile()) || !slices.Contains(env, "HOME=/github/home") {
		t.Fatalf("env %v", env)
	}
}
