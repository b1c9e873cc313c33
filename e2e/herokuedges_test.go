package e2e

import (
	"strings"
	"testing"
	"time"
)

// Heroku's current generation, Fir, runs no Docker images: refused before
// anything is copied or released.
func TestHerokuFirAppRefusedWithoutWrites(t *testing.T) {
	t.Parallel()
	img := push(t, "acme/shop", "fir", nil)
	app := herokuApp(t, "fir-prod")
	// herokuApp made a container app; a Fir app is another app on the
	// cnb stack (generation fir).
	fir := app + "-fir"
	if _, err := emu.CreateApp(fir, "cnb"); err != nil {
		t.Fatal(err)
	}
	emu.AddKey(herokuKey, fir)
	r := ferry(t, herokuEnv().with("FERRY_SOURCE", img.ref(), "FERRY_TARGETS", "heroku:"+fir+"/web"), "promote")
	out := r.stdout + r.stderr
	if r.code != 2 || !strings.Contains(out, "Fir") || !strings.Contains(out, "cannot run Docker images") {
		t.Fatalf("want exit 2 explaining that Fir cannot run Docker images\n%s", r)
	}
	if n := mutationsOf(fir); n != 0 {
		t.Errorf("%d changes reached Heroku", n)
	}
}

// A rollback point Heroku may expire (older than 30 days) is reported up
// front and refused, unless FERRY_HEROKU_ACCEPT_NO_ROLLBACK says to go on;
// an expired release is refused as a rollback target.
func TestHerokuExpiringReleaseRefusedWithoutWrites(t *testing.T) {
	t.Parallel()
	app := herokuApp(t, "exp-prod")
	seedHeroku(t, app, nil, "web")
	seedHeroku(t, app, nil, "web")
	if err := emu.AgeRelease(app, 2, time.Now().Add(-40*24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	img := push(t, "acme/shop", "exp", nil)
	e := herokuEnv().with("FERRY_SOURCE", img.ref(), "FERRY_TARGETS", "heroku:"+app+"/web")
	before := mutationsOf(app)
	r := ferry(t, e, "promote")
	out := r.stdout + r.stderr
	if r.code != 2 || !strings.Contains(out, "release v2 may expire before a restore") || !strings.Contains(out, "FERRY_HEROKU_ACCEPT_NO_ROLLBACK") {
		t.Fatalf("want exit 2 naming the old release and the setting\n%s", r)
	}
	if n := mutationsOf(app) - before; n != 0 {
		t.Errorf("%d changes reached Heroku", n)
	}

	// An expired release cannot be rolled back to.
	if err := emu.ExpireRelease(app, 1); err != nil {
		t.Fatal(err)
	}
	r = ferry(t, e.with("FERRY_TO_REVISION", "v1"), "rollback")
	if r.code != 2 || !strings.Contains(r.stdout+r.stderr, "release v1 is expired") {
		t.Fatalf("rollback to an expired release: want exit 2\n%s", r)
	}
	if n := mutationsOf(app) - before; n != 0 {
		t.Errorf("%d changes reached Heroku", n)
	}

	// Accepted: promoted, and the log says there is no way back.
	r = ferry(t, e.with("FERRY_HEROKU_ACCEPT_NO_ROLLBACK", "true"), "promote")
	if r.code != 0 || !strings.Contains(r.stderr, "without a way back") {
		t.Fatalf("accepted: want exit 0 and a warning\n%s", r)
	}
}
