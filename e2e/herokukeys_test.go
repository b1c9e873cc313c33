package e2e

import (
	"crypto/rand"
	"fmt"
	"strings"
	"testing"

	"github.com/ferry-dev/ferry/pkg/config"
)

// accountApp creates a container app that only key may reach: an app in
// an account or team of its own.
func accountApp(t *testing.T, prefix, key string) string {
	t.Helper()
	name := fmt.Sprintf("%s-%d", prefix, appSeq.Add(1))
	if _, err := emu.CreateApp(name, "container"); err != nil {
		t.Fatal(err)
	}
	emu.AddKey(key, name)
	return name
}

// TestHerokuPerAppKeys promotes from a staging app to a production app
// that live in different accounts, each reached with its own key
// (FERRY_HEROKU_API_KEY_<APP>), without HEROKU_API_KEY: either key alone
// is refused by the other app. With the production app's key missing,
// the run is bad input naming the variable, and nothing changes.
func TestHerokuPerAppKeys(t *testing.T) {
	t.Parallel()
	stgKey, prodKey := "hk-stg-"+rand.Text(), "hk-prod-"+rand.Text()
	stg, prod := accountApp(t, "shop-stg", stgKey), accountApp(t, "shop-prod", prodKey)
	id := seedOn(t, emu, stg, map[string]string{"version": "2"}, "web")
	old := seedOn(t, emu, prod, map[string]string{"version": "1"}, "web")
	base := baseEnv().with(
		"FERRY_HEROKU_API_URL", emu.APIURL(),
		"FERRY_HEROKU_REGISTRY", emu.RegistryHost(),
		"FERRY_HEALTH_INTERVAL", "200ms",
		"FERRY_HEALTH_TIMEOUT", "20s",
		"FERRY_SOURCE", "heroku:"+stg+"/web",
		"FERRY_TARGETS", "heroku:"+prod+"/web",
	)
	stgVar, prodVar := config.AppKeyVar(stg), config.AppKeyVar(prod)
	if !strings.HasPrefix(stgVar, "FERRY_HEROKU_API_KEY_SHOP_STG_") {
		t.Fatalf("the variable of %s is %s", stg, stgVar)
	}

	// The production app's key is missing: HEROKU_API_KEY (staging's
	// account) is refused by production.
	before := mutationsOf(prod)
	r := ferry(t, base.with(stgVar, stgKey, "HEROKU_API_KEY", stgKey), "promote")
	if r.code != 2 || !strings.Contains(r.stdout+r.stderr, "HEROKU_API_KEY") {
		t.Fatalf("want exit 2 naming the key that production refused\n%s", r)
	}
	if n := mutationsOf(prod) - before; n != 0 {
		t.Fatalf("a refused key changed production %d times", n)
	}
	assertRuns(t, prod, old, "web")

	secrets := []string{stgKey, prodKey}
	r = ferry(t, base.with(stgVar, stgKey, prodVar, prodKey), "promote")
	if r.code != 0 {
		t.Fatalf("want exit 0\n%s", r)
	}
	assertRuns(t, prod, id, "web")
	for _, s := range secrets {
		if strings.Contains(r.stdout+r.stderr, s) {
			t.Errorf("ferry's output shows a Heroku key")
		}
	}
}
