package herokuemu

import (
	"bytes"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// update is one element of a formation PATCH's "updates".
type update struct {
	Type        string `json:"type"`
	DockerImage string `json:"docker_image,omitempty"`
	Quantity    *int   `json:"quantity,omitempty"`
	Size        string `json:"size,omitempty"`
	DynoSize    any    `json:"dyno_size,omitempty"`
}

var (
	processType = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,30}$`)
	hex64       = regexp.MustCompile(`^[a-f0-9]{64}$`)
)

// normalizeImageID accepts "sha256:<hex>" or a bare "<hex>", as Heroku's
// docs and scripts use both.
func normalizeImageID(s string) (string, bool) {
	h := strings.TrimPrefix(s, "sha256:")
	if !hex64.MatchString(h) {
		return "", false
	}
	return "sha256:" + h, true
}

func shortID(id string) string {
	h := strings.TrimPrefix(id, "sha256:")
	if len(h) > 12 {
		h = h[:12]
	}
	return h
}

// dockerReleaseLocked validates a docker-releases formation update and
// creates ONE release for all its process types.
func (e *Emulator) dockerReleaseLocked(a *app, ups []update, k *key) (*release, *apiError) {
	if a.stack != "container" {
		return nil, &apiError{http.StatusUnprocessableEntity, "invalid_params",
			fmt.Sprintf("App %s is on the %s stack; docker images can only be released to apps on the container stack.", a.name, a.stack)}
	}
	if len(ups) == 0 {
		return nil, &apiError{http.StatusUnprocessableEntity, "invalid_params", "Updates must not be empty."}
	}
	base := map[string]string{}
	if a.current != nil {
		for t, img := range a.current.images {
			base[t] = img
		}
	}
	images := map[string]string{}
	for t, img := range base {
		images[t] = img
	}
	var desc []string
	seen := map[string]bool{}
	for _, u := range ups {
		if !processType.MatchString(u.Type) {
			return nil, &apiError{http.StatusUnprocessableEntity, "invalid_params", fmt.Sprintf("Invalid process type %q.", u.Type)}
		}
		if seen[u.Type] {
			return nil, &apiError{http.StatusUnprocessableEntity, "invalid_params", fmt.Sprintf("Process type %q appears twice.", u.Type)}
		}
		seen[u.Type] = true
		if u.DockerImage == "" {
			continue
		}
		id, ok := normalizeImageID(u.DockerImage)
		if !ok {
			return nil, &apiError{http.StatusUnprocessableEntity, "invalid_params", fmt.Sprintf("Invalid docker_image %q: expected an image id (sha256:<64 hex>).", u.DockerImage)}
		}
		if a.findPushed(u.Type, id) == nil {
			return nil, &apiError{http.StatusUnprocessableEntity, "invalid_params",
				fmt.Sprintf("Couldn't find image %s in registry.heroku.com/%s/%s.", id, a.name, u.Type)}
		}
		images[u.Type] = id
		desc = append(desc, fmt.Sprintf("%s (%s)", u.Type, shortID(id)))
	}
	// Quantities apply whether or not an image came with them.
	now := time.Now().UTC()
	for _, u := range ups {
		if u.Quantity != nil {
			f := a.ensureFormation(u.Type, 0, now)
			f.quantity = *u.Quantity
			f.updatedAt = now
		}
	}
	if len(desc) == 0 {
		if a.current != nil {
			e.restartDynosLocked(a, a.current)
		}
		return nil, nil
	}
	for t := range images {
		if t != "release" {
			a.ensureFormation(t, e.opts.Quantity[t], now)
		}
	}
	r := e.newReleaseLocked(a, images, "Deployed "+strings.Join(desc, ", "), k)
	e.startReleaseLocked(a, r)
	return r, nil
}

func (a *app) ensureFormation(t string, qty int, now time.Time) *formation {
	f, ok := a.formation[t]
	if !ok {
		f = &formation{id: newID(), quantity: qty, createdAt: now, updatedAt: now}
		a.formation[t] = f
	}
	return f
}

func (a *app) findPushed(process, id string) *pushedImage {
	imgs := a.pushed[a.name+"/"+process]
	for i := len(imgs) - 1; i >= 0; i-- {
		if imgs[i].configDigest == id {
			return imgs[i]
		}
	}
	return nil
}

// rollbackLocked creates a release that runs the images of release to.
func (e *Emulator) rollbackLocked(a *app, to *release, k *key) *release {
	images := map[string]string{}
	for t, img := range to.images {
		images[t] = img
	}
	r := e.newReleaseLocked(a, images, fmt.Sprintf("Rollback to v%d", to.version), k)
	r.rollbackOf = to.version
	e.startReleaseLocked(a, r)
	return r
}

func (e *Emulator) newReleaseLocked(a *app, images map[string]string, desc string, k *key) *release {
	now := time.Now().UTC()
	v := 1
	if n := len(a.releases); n > 0 {
		v = a.releases[n-1].version + 1
	}
	r := &release{
		id: newID(), version: v, description: desc, images: images,
		labels: map[string]map[string]string{}, arch: map[string]string{},
		createdAt: now, updatedAt: now, userEmail: k.email, userID: k.id,
	}
	for t, id := range images {
		if p := a.findPushed(t, id); p != nil {
			r.labels[t] = p.labels
			r.arch[t] = p.arch
		}
	}
	a.releases = append(a.releases, r)
	return r
}

// startReleaseLocked runs the release phase when the release has a
// `release` image (also for rollbacks: Heroku runs the release command
// after "a rollback", devcenter.heroku.com/articles/release-phase), or
// makes the release current at once.
func (e *Emulator) startReleaseLocked(a *app, r *release) {
	if _, ok := r.images["release"]; !ok {
		e.finishReleaseLocked(a, r, true)
		return
	}
	r.status = StatusPending
	r.phase = true
	s := newOutputStream(e.apiURL + "/streams/" + r.id)
	r.stream = s
	e.streams[r.id] = s
	fail := r.labels["release"][LabelRelease] == "fail"
	lines := []string{
		fmt.Sprintf("Running release command for %s v%d (image %s)", a.name, r.version, shortID(r.images["release"])),
		"release: checking pending migrations",
		"release: applying migrations",
	}
	if fail {
		lines = append(lines, "release: migration failed: relation already exists", "release command exited with status 1")
	} else {
		lines = append(lines, "release: migrations applied", "release command exited with status 0")
	}
	start := e.opts.StreamDelay
	end := e.opts.ReleasePhase
	if end < start+time.Millisecond {
		end = start + time.Millisecond
	}
	e.afterLocked(start, func() { s.open() })
	step := (end - start) / time.Duration(len(lines))
	for i, l := range lines {
		l := l
		e.afterLocked(start+time.Duration(i)*step, func() { s.write(l + "\n") })
	}
	e.afterLocked(end, func() {
		s.finish()
		e.finishReleaseLocked(a, r, !fail)
	})
}

func (e *Emulator) finishReleaseLocked(a *app, r *release, ok bool) {
	r.updatedAt = time.Now().UTC()
	if !ok {
		r.status = StatusFailed
		return
	}
	r.status = StatusSucceeded
	if a.current == nil || r.version > a.current.version {
		a.current = r
		a.releasedAt = r.updatedAt
		e.restartDynosLocked(a, r)
	}
}

// restartDynosLocked replaces every dyno by dynos of release r, per the
// formation's quantities.
func (e *Emulator) restartDynosLocked(a *app, r *release) {
	now := time.Now().UTC()
	a.dynos = nil
	for t, f := range a.formation {
		if _, ok := r.images[t]; !ok || t == "release" {
			continue
		}
		for i := 1; i <= f.quantity; i++ {
			d := &dyno{id: newID(), name: t + "." + strconv.Itoa(i), typ: t, state: DynoStarting, release: r, createdAt: now, updatedAt: now}
			a.dynos = append(a.dynos, d)
			crash := r.labels[t][LabelDyno] == "crash" || (r.arch[t] != "" && r.arch[t] != "amd64")
			e.afterLocked(e.opts.BootTime, func() {
				if d.state != DynoStarting {
					return
				}
				d.state = DynoUp
				if crash {
					d.state = DynoCrashed
				}
				d.updatedAt = time.Now().UTC()
				e.changes = append(e.changes, DynoChange{App: a.name, Dyno: d.name, State: d.state, ReleaseVersion: r.version, At: d.updatedAt})
			})
		}
	}
}

// outputStream is a release phase's output: 404 until opened, then served
// as text/plain while it grows, ending when finished. Clients resume with
// "Range: bytes=N-".
type outputStream struct {
	url string

	mu     sync.Mutex
	opened bool
	done   bool
	buf    bytes.Buffer
	notify chan struct{}
}

func newOutputStream(url string) *outputStream {
	return &outputStream{url: url, notify: make(chan struct{})}
}

func (s *outputStream) open() {
	s.mu.Lock()
	s.opened = true
	s.mu.Unlock()
}

func (s *outputStream) write(l string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.buf.WriteString(l)
	close(s.notify)
	s.notify = make(chan struct{})
}

func (s *outputStream) finish() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done {
		return
	}
	s.opened = true
	s.done = true
	close(s.notify)
	s.notify = make(chan struct{})
}

// snapshot returns the bytes from off, whether the stream ended, and a
// channel closed on the next change.
func (s *outputStream) snapshot(off int) ([]byte, bool, bool, <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.buf.Bytes()
	var out []byte
	if off < len(b) {
		out = append(out, b[off:]...)
	}
	return out, s.opened, s.done, s.notify
}

func (s *outputStream) serve(w http.ResponseWriter, r *http.Request) int {
	off := 0
	if rg := r.Header.Get("Range"); rg != "" {
		n, err := parseByteRange(rg)
		if err != nil {
			http.Error(w, err.Error(), http.StatusRequestedRangeNotSatisfiable)
			return http.StatusRequestedRangeNotSatisfiable
		}
		off = n
	}
	_, opened, _, _ := s.snapshot(0)
	if !opened {
		http.Error(w, "stream not found", http.StatusNotFound)
		return http.StatusNotFound
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	status := http.StatusOK
	if off > 0 {
		status = http.StatusPartialContent
		w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-*/*", off))
	}
	w.WriteHeader(status)
	fl, _ := w.(http.Flusher)
	for {
		b, _, done, next := s.snapshot(off)
		if len(b) > 0 {
			if _, err := w.Write(b); err != nil {
				return status
			}
			off += len(b)
			if fl != nil {
				fl.Flush()
			}
		}
		if done {
			return status
		}
		select {
		case <-next:
		case <-r.Context().Done():
			return status
		}
	}
}

func parseByteRange(h string) (int, error) {
	spec, ok := strings.CutPrefix(strings.TrimSpace(h), "bytes=")
	if !ok {
		return 0, fmt.Errorf("unsupported range %q", h)
	}
	from, _, ok := strings.Cut(spec, "-")
	if !ok {
		return 0, fmt.Errorf("unsupported range %q", h)
	}
	n, err := strconv.Atoi(strings.TrimSpace(from))
	if err != nil || n < 0 {
		return 0, fmt.Errorf("unsupported range %q", h)
	}
	return n, nil
}
