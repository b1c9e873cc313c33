package config

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

// marker starts every secret the fuzzer sets; no other variable may hold
// it, so finding it in an error means a secret leaked.
const marker = "s3cr3t"

var secretVars = []string{
	"FERRY_HEROKU_API_KEY", "HEROKU_API_KEY", "INPUT_HEROKU-API-KEY",
	"FERRY_KUBECONFIG_DATA", "INPUT_KUBECONFIG-DATA",
}

// FuzzLoad builds an environment from fuzz strings (one NAME=value per
// line) plus a secret, loads and validates it for every command, and checks
// that nothing panics and no error shows the secret.
func FuzzLoad(f *testing.F) {
	f.Add("FERRY_TARGETS=heroku:shop", "-key", uint8(0))
	f.Add("GITHUB_ACTIONS=true\nINPUT_TARGETS=k8s:shop/web?health=/x\nINPUT_TIMEOUT=abc", "!!not yaml", uint8(4))
	f.Add("FERRY_SOURCE=k8:a/b\nFERRY_TARGETS=nginx heroku:Shop\nFERRY_PARALLELISM=x", "Y29uZmlnCg==", uint8(3))
	f.Add("FERRY_MODE=github\nINPUT_HEALTH-STATUS=1-2\nINPUT_HEALTH-BODY=(", ": [", uint8(2))
	f.Add("FERRY_HEROKU_API_URL=https://u:p@x\nFERRY_HEALTH_INTERVAL=-1s\nFERRY_RESOLVE_TAGS=2", "apiVersion: v1", uint8(1))
	f.Add("FERRY_TARGETS=k8s:a/b --- --- heroku:shop\nFERRY_SOAK=-1s\nFERRY_HEALTH_VERSION=json:", "x", uint8(0))
	f.Add("FERRY_SOURCE=k8s:a/b\nFERRY_TARGETS=k8s:a/c\nFERRY_GATES=[{name: e, successCondition: 'result <', provider: {web: {url: 'http://x', bearerTokenEnv: FERRY_HEROKU_API_KEY}}}]", "k", uint8(0))
	f.Add("FERRY_SOURCE=heroku:shop\nFERRY_TARGETS=k8s:a/b?container=app=web,proxy=side k8s:a/c?container=x=y,z", "k", uint8(0))
	f.Fuzz(func(t *testing.T, lines, secret string, which uint8) {
		if strings.Contains(lines, marker) {
			return
		}
		environ := strings.Split(lines, "\n")
		name := secretVars[int(which)%len(secretVars)]
		environ = append([]string{name + "=" + marker + secret}, environ...)
		c, err := Load(environ)
		if err != nil {
			t.Fatalf("Load: %v", err)
		}
		secrets := c.Secrets()
		for _, v := range []string{c.HerokuAPIKey, c.KubeconfigData} {
			if v != "" && !slices.Contains(secrets, v) {
				t.Fatalf("Secrets() = %q misses %q", secrets, v)
			}
		}
		for _, cmd := range []string{CommandPromote, CommandPlan, CommandStatus, CommandRollback} {
			_, err := c.Check(cmd)
			if err == nil {
				continue
			}
			var ve *ValidationError
			if !errors.As(err, &ve) || len(ve.Problems) == 0 {
				t.Fatalf("%s: error %T %v is not a *ValidationError with problems", cmd, err, err)
			}
			if strings.Contains(err.Error(), marker) {
				t.Fatalf("%s: the error shows a secret:\n%v", cmd, err)
			}
		}
	})
}
