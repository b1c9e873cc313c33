package ghemu

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Deployment is a deployment as the emulator keeps it.
type Deployment struct {
	ID            int64           `json:"id"`
	NodeID        string          `json:"node_id"`
	URL           string          `json:"url"`
	SHA           string          `json:"sha"`
	Ref           string          `json:"ref"`
	Task          string          `json:"task"`
	Payload       json.RawMessage `json:"payload"`
	OrigEnv       string          `json:"original_environment"`
	Environment   string          `json:"environment"`
	Description   *string         `json:"description"`
	Creator       map[string]any  `json:"creator"`
	CreatedAt     time.Time       `json:"created_at"`
	UpdatedAt     time.Time       `json:"updated_at"`
	StatusesURL   string          `json:"statuses_url"`
	RepositoryURL string          `json:"repository_url"`
	Transient     bool            `json:"transient_environment"`
	Production    bool            `json:"production_environment"`

	repo     string
	Statuses []Status `json:"-"`
}

// Status is a deployment status.
type Status struct {
	ID             int64     `json:"id"`
	NodeID         string    `json:"node_id"`
	URL            string    `json:"url"`
	State          string    `json:"state"`
	Description    string    `json:"description"`
	Environment    string    `json:"environment"`
	TargetURL      string    `json:"target_url"`
	LogURL         string    `json:"log_url"`
	EnvironmentURL string    `json:"environment_url"`
	DeploymentURL  string    `json:"deployment_url"`
	RepositoryURL  string    `json:"repository_url"`
	CreatedAt      time.Time `json:"created_at"`
	UpdatedAt      time.Time `json:"updated_at"`
}

type token struct {
	repo  string
	write bool
}

// Emulator is a running emulator.
type Emulator struct {
	srv *http.Server
	url string

	mu          sync.Mutex
	repos       map[string]map[string]bool // repo → known refs and shas
	tokens      map[string]token
	deployments []*Deployment
	nextID      int64
}

// New starts an emulator on 127.0.0.1.
func New() (*Emulator, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	e := &Emulator{url: "http://" + l.Addr().String(), repos: map[string]map[string]bool{}, tokens: map[string]token{}, nextID: 1000}
	e.srv = &http.Server{Handler: http.HandlerFunc(e.serve), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = e.srv.Serve(l) }()
	return e, nil
}

// URL is the API's base URL, for GITHUB_API_URL.
func (e *Emulator) URL() string { return e.url }

// Close stops the emulator.
func (e *Emulator) Close() error { return e.srv.Close() }

// AddRepo makes repo ("owner/name") exist with the given refs (commit
// shas or branch names).
func (e *Emulator) AddRepo(repo string, refs ...string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.repos[repo] == nil {
		e.repos[repo] = map[string]bool{}
	}
	for _, r := range refs {
		e.repos[repo][r] = true
	}
}

// AddToken lets tok see repo, and write deployments when write is true.
func (e *Emulator) AddToken(tok, repo string, write bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.tokens[tok] = token{repo: repo, write: write}
}

// Deployments returns repo's deployments, oldest first, with their
// statuses oldest first.
func (e *Emulator) Deployments(repo string) []Deployment {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []Deployment
	for _, d := range e.deployments {
		if d.repo == repo {
			c := *d
			c.Statuses = append([]Status(nil), d.Statuses...)
			out = append(out, c)
		}
	}
	return out
}

const docs = "https://docs.github.com/rest/deployments/deployments"

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func fail(w http.ResponseWriter, status int, msg string, extra ...map[string]any) {
	body := map[string]any{"message": msg, "documentation_url": docs, "status": strconv.Itoa(status)}
	for _, x := range extra {
		for k, v := range x {
			body[k] = v
		}
	}
	writeJSON(w, status, body)
}

func (e *Emulator) serve(w http.ResponseWriter, r *http.Request) {
	v := r.Header.Get("X-GitHub-Api-Version")
	if v == "" {
		v = "2022-11-28"
	}
	if v != "2022-11-28" {
		fail(w, http.StatusBadRequest, fmt.Sprintf("API version %s is not supported.", v))
		return
	}
	w.Header().Set("X-GitHub-Api-Version-Selected", v)
	tok := r.Header.Get("Authorization")
	for _, p := range []string{"Bearer ", "bearer ", "token ", "Token "} {
		tok = strings.TrimPrefix(tok, p)
	}
	e.mu.Lock()
	t, ok := e.tokens[tok]
	e.mu.Unlock()
	if tok == "" || !ok {
		fail(w, http.StatusUnauthorized, "Bad credentials")
		return
	}
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if len(parts) < 4 || parts[0] != "repos" || parts[3] != "deployments" {
		fail(w, http.StatusNotFound, "Not Found")
		return
	}
	repo := parts[1] + "/" + parts[2]
	e.mu.Lock()
	_, exists := e.repos[repo]
	e.mu.Unlock()
	if !exists || t.repo != repo {
		fail(w, http.StatusNotFound, "Not Found")
		return
	}
	if r.Method != http.MethodGet && !t.write {
		fail(w, http.StatusForbidden, "Resource not accessible by integration")
		return
	}
	rest := parts[4:]
	switch {
	case len(rest) == 0 && r.Method == http.MethodPost:
		e.create(w, r, repo)
	case len(rest) == 0 && r.Method == http.MethodGet:
		e.list(w, r, repo)
	case len(rest) == 1 && r.Method == http.MethodGet:
		if d := e.find(repo, rest[0]); d != nil {
			writeJSON(w, http.StatusOK, d)
			return
		}
		fail(w, http.StatusNotFound, "Not Found")
	case len(rest) == 2 && rest[1] == "statuses" && r.Method == http.MethodPost:
		e.addStatus(w, r, repo, rest[0])
	case len(rest) == 2 && rest[1] == "statuses" && r.Method == http.MethodGet:
		d := e.find(repo, rest[0])
		if d == nil {
			fail(w, http.StatusNotFound, "Not Found")
			return
		}
		e.mu.Lock()
		out := make([]Status, len(d.Statuses))
		for i, s := range d.Statuses {
			out[len(out)-1-i] = s
		}
		e.mu.Unlock()
		writeJSON(w, http.StatusOK, out)
	default:
		fail(w, http.StatusNotFound, "Not Found")
	}
}

func (e *Emulator) find(repo, id string) *Deployment {
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil {
		return nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, d := range e.deployments {
		if d.repo == repo && d.ID == n {
			return d
		}
	}
	return nil
}

func (e *Emulator) create(w http.ResponseWriter, r *http.Request, repo string) {
	var in struct {
		Ref              *string         `json:"ref"`
		Task             *string         `json:"task"`
		AutoMerge        *bool           `json:"auto_merge"`
		RequiredContexts *[]string       `json:"required_contexts"`
		Payload          json.RawMessage `json:"payload"`
		Environment      *string         `json:"environment"`
		Description      *string         `json:"description"`
		Transient        *bool           `json:"transient_environment"`
		Production       *bool           `json:"production_environment"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		fail(w, http.StatusBadRequest, "Problems parsing JSON")
		return
	}
	if in.Ref == nil || *in.Ref == "" {
		fail(w, http.StatusUnprocessableEntity, "Invalid request.\n\n\"ref\" wasn't supplied.")
		return
	}
	e.mu.Lock()
	known := e.repos[repo][*in.Ref]
	e.mu.Unlock()
	if !known {
		fail(w, http.StatusUnprocessableEntity, "No ref found for: "+*in.Ref)
		return
	}
	payload := in.Payload
	if len(payload) == 0 || string(payload) == "null" {
		payload = json.RawMessage("{}")
	} else if payload[0] == '"' {
		var s string
		_ = json.Unmarshal(payload, &s)
		if !json.Valid([]byte(s)) {
			fail(w, http.StatusUnprocessableEntity, "Validation Failed", map[string]any{"errors": []map[string]string{{"resource": "Deployment", "field": "payload", "code": "invalid"}}})
			return
		}
		payload = json.RawMessage(s)
	}
	env := "production"
	if in.Environment != nil && *in.Environment != "" {
		env = *in.Environment
	}
	task := "deploy"
	if in.Task != nil && *in.Task != "" {
		task = *in.Task
	}
	now := time.Now().UTC().Truncate(time.Second)
	e.mu.Lock()
	e.nextID++
	id := e.nextID
	base := e.url + "/repos/" + repo
	d := &Deployment{
		ID: id, NodeID: fmt.Sprintf("DE_%d", id), URL: fmt.Sprintf("%s/deployments/%d", base, id),
		SHA: *in.Ref, Ref: *in.Ref, Task: task, Payload: payload, OrigEnv: env, Environment: env,
		Description: in.Description, Creator: map[string]any{"login": "github-actions[bot]", "type": "Bot"},
		CreatedAt: now, UpdatedAt: now, StatusesURL: fmt.Sprintf("%s/deployments/%d/statuses", base, id),
		RepositoryURL: base, Transient: in.Transient != nil && *in.Transient,
		Production: env == "production", repo: repo,
	}
	if in.Production != nil {
		d.Production = *in.Production
	}
	e.deployments = append(e.deployments, d)
	e.mu.Unlock()
	writeJSON(w, http.StatusCreated, d)
}

func (e *Emulator) list(w http.ResponseWriter, r *http.Request, repo string) {
	q := r.URL.Query()
	e.mu.Lock()
	var out []*Deployment
	for _, d := range e.deployments {
		if d.repo != repo ||
			(q.Get("environment") != "" && d.Environment != q.Get("environment")) ||
			(q.Get("sha") != "" && d.SHA != q.Get("sha")) ||
			(q.Get("ref") != "" && d.Ref != q.Get("ref")) ||
			(q.Get("task") != "" && d.Task != q.Get("task")) {
			continue
		}
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID > out[j].ID })
	body, _ := json.Marshal(out)
	e.mu.Unlock()
	if out == nil {
		body = []byte("[]")
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_, _ = w.Write(body)
}

var states = map[string]bool{"error": true, "failure": true, "inactive": true, "in_progress": true, "queued": true, "pending": true, "success": true}

func (e *Emulator) addStatus(w http.ResponseWriter, r *http.Request, repo, id string) {
	d := e.find(repo, id)
	if d == nil {
		fail(w, http.StatusNotFound, "Not Found")
		return
	}
	var in struct {
		State          string `json:"state"`
		TargetURL      string `json:"target_url"`
		LogURL         string `json:"log_url"`
		Description    string `json:"description"`
		Environment    string `json:"environment"`
		EnvironmentURL string `json:"environment_url"`
		AutoInactive   *bool  `json:"auto_inactive"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		fail(w, http.StatusBadRequest, "Problems parsing JSON")
		return
	}
	invalid := func(field string) {
		fail(w, http.StatusUnprocessableEntity, "Validation Failed", map[string]any{"errors": []map[string]string{{"resource": "DeploymentStatus", "field": field, "code": "invalid"}}})
	}
	if !states[in.State] {
		invalid("state")
		return
	}
	if len([]rune(in.Description)) > 140 {
		invalid("description")
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	now := time.Now().UTC().Truncate(time.Second)
	env := d.Environment
	if in.Environment != "" {
		env = in.Environment
	}
	s := e.status(d, in.State, in.Description, env, now)
	s.TargetURL, s.LogURL, s.EnvironmentURL = in.TargetURL, in.LogURL, in.EnvironmentURL
	if s.LogURL == "" {
		s.LogURL = in.TargetURL
	}
	d.Statuses[len(d.Statuses)-1] = s
	if in.State == "success" && (in.AutoInactive == nil || *in.AutoInactive) {
		for _, o := range e.deployments {
			if o != d && o.repo == repo && o.Environment == d.Environment && !o.Transient && len(o.Statuses) > 0 &&
				o.Statuses[len(o.Statuses)-1].State == "success" {
				e.status(o, "inactive", "", o.Environment, now)
			}
		}
	}
	writeJSON(w, http.StatusCreated, s)
}

// status appends a status to d; e.mu is held.
func (e *Emulator) status(d *Deployment, state, desc, env string, now time.Time) Status {
	e.nextID++
	s := Status{ID: e.nextID, NodeID: fmt.Sprintf("DES_%d", e.nextID), URL: fmt.Sprintf("%s/statuses/%d", d.URL, e.nextID),
		State: state, Description: desc, Environment: env, DeploymentURL: d.URL, RepositoryURL: d.RepositoryURL,
		CreatedAt: now, UpdatedAt: now}
	d.Statuses = append(d.Statuses, s)
	d.UpdatedAt = now
	return s
}
