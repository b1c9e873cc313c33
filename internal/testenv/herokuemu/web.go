package herokuemu

import (
	"fmt"
	"net/http"
)

// webHandler is an app's router: it answers for the current release's web
// dynos the way Heroku's router would, roughly.
//
//   - a web dyno is up and the web image lacks ferry.test/health=fail: 200
//     on any path, body "ok APP vN IMAGE";
//   - a web dyno is up but the image carries health=fail: 503 from the
//     "app";
//   - no web dyno is up (none, starting, crashed): 503 "Application error"
//     as the router's H10/H14/H20 pages are.
func (e *Emulator) webHandler(a *app) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.mu.Lock()
		cur := a.current
		up, crashed := 0, 0
		for _, d := range a.dynos {
			if d.typ != "web" {
				continue
			}
			switch d.state {
			case DynoUp:
				up++
			case DynoCrashed:
				crashed++
			}
		}
		var labels map[string]string
		var img string
		var version int
		if cur != nil {
			labels = cur.labels["web"]
			img = cur.images["web"]
			version = cur.version
		}
		e.mu.Unlock()
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		switch {
		case up > 0 && labels[LabelHealth] == "fail":
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintf(w, "unhealthy %s v%d %s\n", a.name, version, shortID(img))
		case up > 0:
			fmt.Fprintf(w, "ok %s v%d %s\n", a.name, version, shortID(img))
		case crashed > 0:
			w.Header().Set("X-Heroku-Error", "H10")
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintln(w, "Application error")
		default:
			w.Header().Set("X-Heroku-Error", "H14")
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintln(w, "Application error")
		}
	})
}
