package oidcemu

import (
	"crypto/rand"
	"crypto/subtle"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ferry-dev/ferry/internal/testenv/cloudnet"
)

// GitHub Actions' issuer and the host of its token request service.
const (
	GitHubIssuer      = "https://token.actions.githubusercontent.com"
	GitHubRequestHost = "pipelines.actions.githubusercontent.com"
)

// GitHub emulates GitHub Actions' OIDC provider: the issuer and the
// runner's token request service.
type GitHub struct {
	*Issuer

	mu     sync.Mutex
	jobs   map[string]*Job // by request token
	issued atomic.Int64
	minted []string // tokens served to jobs
}

// Minted returns every token the token request service handed to a job,
// so a test can assert that none appears in what a client printed.
func (g *GitHub) Minted() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.minted)
}

// NewGitHub makes the GitHub Actions issuer.
func NewGitHub() (*GitHub, error) {
	iss, err := NewIssuer(GitHubIssuer, "/.well-known/jwks")
	if err != nil {
		return nil, err
	}
	iss.claims = []string{"sub", "aud", "exp", "iat", "iss", "jti", "nbf", "ref", "sha", "repository", "repository_id",
		"repository_owner", "repository_owner_id", "run_id", "run_number", "run_attempt", "actor", "actor_id", "workflow",
		"workflow_ref", "workflow_sha", "head_ref", "base_ref", "event_name", "ref_type", "environment",
		"job_workflow_ref", "job_workflow_sha", "repository_visibility", "runner_environment"}
	return &GitHub{Issuer: iss, jobs: map[string]*Job{}}, nil
}

// JobSpec describes the workflow job a token is for. Zero fields take the
// defaults in brackets.
type JobSpec struct {
	Repository  string // OWNER/REPO [ferry-dev/shop]
	Ref         string // [refs/heads/main]
	SHA         string // [40 hex digits]
	Environment string // deployment environment; sets sub to environment:NAME
	Workflow    string // workflow name [deploy]
	// WorkflowPath is the workflow file [.github/workflows/deploy.yml];
	// workflow_ref and job_workflow_ref are REPO/PATH@REF.
	WorkflowPath string
	EventName    string // [push]
	Actor        string // [octocat]
	RunID        int64  // [a fixed number]
	Lifetime     time.Duration
}

func (s JobSpec) withDefaults() JobSpec {
	if s.Repository == "" {
		s.Repository = "ferry-dev/shop"
	}
	if s.Ref == "" {
		s.Ref = "refs/heads/main"
	}
	if s.SHA == "" {
		s.SHA = "8a5e1c0ffee0ddba11d00dfeedfacecafebeef00"
	}
	if s.Workflow == "" {
		s.Workflow = "deploy"
	}
	if s.WorkflowPath == "" {
		s.WorkflowPath = ".github/workflows/deploy.yml"
	}
	if s.EventName == "" {
		s.EventName = "push"
	}
	if s.Actor == "" {
		s.Actor = "octocat"
	}
	if s.RunID == 0 {
		s.RunID = 9876543210
	}
	if s.Lifetime == 0 {
		s.Lifetime = 5 * time.Minute
	}
	return s
}

// Job is one job's access to the token service.
type Job struct {
	g            *GitHub
	spec         JobSpec
	requestToken string
	requests     atomic.Int64
	minted       []string // guarded by g.mu
}

// Minted returns the tokens the job was handed.
func (j *Job) Minted() []string {
	j.g.mu.Lock()
	defer j.g.mu.Unlock()
	return slices.Clone(j.minted)
}

// NewJob registers a job and returns it; its Env is what the runner sets
// for a job with `permissions: id-token: write`.
func (g *GitHub) NewJob(spec JobSpec) *Job {
	j := &Job{g: g, spec: spec.withDefaults(), requestToken: rand.Text() + rand.Text()}
	g.mu.Lock()
	g.jobs[j.requestToken] = j
	g.mu.Unlock()
	return j
}

// RequestURL is ACTIONS_ID_TOKEN_REQUEST_URL.
func (j *Job) RequestURL() string {
	return fmt.Sprintf("https://%s/%s/00000000-0000-0000-0000-000000000000/_apis/distributedtask/hubs/Actions/plans/%d/jobs/%d/idtoken?api-version=2.0",
		GitHubRequestHost, "0ferry", j.spec.RunID, j.spec.RunID+1)
}

// RequestToken is ACTIONS_ID_TOKEN_REQUEST_TOKEN.
func (j *Job) RequestToken() string { return j.requestToken }

// Env returns ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN.
func (j *Job) Env() []string {
	return []string{"ACTIONS_ID_TOKEN_REQUEST_URL=" + j.RequestURL(), "ACTIONS_ID_TOKEN_REQUEST_TOKEN=" + j.requestToken}
}

// Requests is how many tokens the job was given.
func (j *Job) Requests() int { return int(j.requests.Load()) }

// Subject is the job's sub claim.
func (j *Job) Subject() string {
	if j.spec.Environment != "" {
		return "repo:" + j.spec.Repository + ":environment:" + j.spec.Environment
	}
	return "repo:" + j.spec.Repository + ":ref:" + j.spec.Ref
}

// Claims returns the claims of a token for audience aud ("" for the
// default, https://github.com/OWNER), without the time claims.
func (j *Job) Claims(aud string) map[string]any {
	s := j.spec
	owner, _, _ := strings.Cut(s.Repository, "/")
	if aud == "" {
		aud = "https://github.com/" + owner
	}
	refType := "branch"
	if strings.HasPrefix(s.Ref, "refs/tags/") {
		refType = "tag"
	}
	wref := s.Repository + "/" + s.WorkflowPath + "@" + s.Ref
	c := map[string]any{
		"sub":                   j.Subject(),
		"aud":                   aud,
		"ref":                   s.Ref,
		"sha":                   s.SHA,
		"repository":            s.Repository,
		"repository_owner":      owner,
		"repository_id":         "741852963",
		"repository_owner_id":   "123456789",
		"repository_visibility": "private",
		"run_id":                strconv.FormatInt(s.RunID, 10),
		"run_number":            "42",
		"run_attempt":           "1",
		"actor":                 s.Actor,
		"actor_id":              "583231",
		"workflow":              s.Workflow,
		"workflow_ref":          wref,
		"workflow_sha":          s.SHA,
		"job_workflow_ref":      wref,
		"job_workflow_sha":      s.SHA,
		"head_ref":              "",
		"base_ref":              "",
		"event_name":            s.EventName,
		"ref_type":              refType,
		"runner_environment":    "github-hosted",
	}
	if s.Environment != "" {
		c["environment"] = s.Environment
	}
	return c
}

// Mint returns a token for audience aud as the service would issue it.
func (j *Job) Mint(aud string) (string, error) {
	now := time.Now()
	c := j.Claims(aud)
	c["iat"] = now.Unix()
	c["nbf"] = now.Add(-10 * time.Minute).Unix()
	c["exp"] = now.Add(j.spec.Lifetime).Unix()
	return j.g.Mint(c, j.spec.Lifetime)
}

// ServeRequests answers the runner's token requests:
// GET /.../idtoken?api-version=2.0&audience=AUD with the job's bearer.
func (g *GitHub) ServeRequests(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"message": "method not allowed"})
		return
	}
	if !strings.HasSuffix(r.URL.Path, "/idtoken") {
		writeJSON(w, http.StatusNotFound, map[string]string{"message": "not found"})
		return
	}
	if r.URL.Query().Get("api-version") == "" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"message": "api-version is required"})
		return
	}
	// The scheme is case-insensitive: GitHub's documentation itself sends
	// "bearer".
	scheme, bearer, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	ok = ok && strings.EqualFold(scheme, "Bearer")
	var job *Job
	g.mu.Lock()
	for tok, j := range g.jobs {
		if ok && subtle.ConstantTimeCompare([]byte(tok), []byte(bearer)) == 1 {
			job = j
		}
	}
	g.mu.Unlock()
	if job == nil {
		writeJSON(w, http.StatusUnauthorized, map[string]string{})
		return
	}
	tok, err := job.Mint(r.URL.Query().Get("audience"))
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"message": err.Error()})
		return
	}
	job.requests.Add(1)
	g.mu.Lock()
	g.minted = append(g.minted, tok)
	job.minted = append(job.minted, tok)
	g.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"count": g.issued.Add(1), "value": tok})
}

// Install serves the issuer and the token request service on n.
func (g *GitHub) Install(n *cloudnet.Net) {
	Serve(n, g.Issuer)
	n.Handle(GitHubRequestHost, http.HandlerFunc(g.ServeRequests))
}
