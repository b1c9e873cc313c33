package config

import (
	"fmt"
	"path"
	"strings"
)

// Env is the process environment, read once by [Load]. Everything in ferry
// that depends on the environment (CI metadata, Docker's and the clouds'
// credential files, in-cluster detection) asks Env; only the clouds' own
// SDKs read their variables themselves.
type Env map[string]string

// Lookup returns the value of name and whether it is set.
func (e Env) Lookup(name string) (string, bool) {
	v, ok := e[name]
	return v, ok
}

// Get returns the value of name, "" when unset.
func (e Env) Get(name string) string { return e[name] }

// CI is what the environment says about the CI run ferry is part of.
type CI struct {
	// Commit is the commit the run builds (GITHUB_SHA, CIRCLE_SHA1).
	Commit string
	// RunURL is the run's page (GitHub Actions' run, CircleCI's job).
	RunURL string
}

// CI reads the CI run's commit and URL.
func (e Env) CI() CI {
	ci := CI{Commit: firstOf(e, "GITHUB_SHA", "CIRCLE_SHA1")}
	if id := e.Get("GITHUB_RUN_ID"); id != "" {
		server := e.Get("GITHUB_SERVER_URL")
		if server == "" {
			server = "https://github.com"
		}
		ci.RunURL = fmt.Sprintf("%s/%s/actions/runs/%s", server, e.Get("GITHUB_REPOSITORY"), id)
	} else {
		ci.RunURL = e.Get("CIRCLE_BUILD_URL")
	}
	return ci
}

// InCluster reports whether ferry runs in a Kubernetes pod, where the
// service account is the default credential.
func (e Env) InCluster() bool {
	return e.Get("KUBERNETES_SERVICE_HOST") != "" && e.Get("KUBERNETES_SERVICE_PORT") != ""
}

func firstOf(e Env, names ...string) string {
	for _, n := range names {
		if v := e.Get(n); v != "" {
			return v
		}
	}
	return ""
}

// ContainerPath is where a path of the GitHub runner's machine is inside
// ferry's docker action container. The runner mounts its workspace at
// /github/workspace and RUNNER_TEMP's _github_home and _github_workflow
// at /github/home and /github/workflow, and passes variables set by
// earlier steps (GOOGLE_APPLICATION_CREDENTIALS, DOCKER_CONFIG) as they
// are, with the machine's paths. Outside a docker action, or for a path
// that exists as it is, p is returned unchanged.
func (e Env) ContainerPath(p string, exists func(string) bool) string {
	if p == "" || e.Get("GITHUB_ACTIONS") != "true" || e.Get("GITHUB_WORKSPACE") != "/github/workspace" || exists(p) {
		return p
	}
	mounts := map[string]string{}
	if t := strings.TrimRight(e.Get("RUNNER_TEMP"), "/"); t != "" {
		mounts[t+"/_github_home"] = "/github/home"
		mounts[t+"/_github_workflow"] = "/github/workflow"
	}
	if w := strings.TrimRight(e.Get("RUNNER_WORKSPACE"), "/"); w != "" {
		_, repo, _ := strings.Cut(e.Get("GITHUB_REPOSITORY"), "/")
		if repo == "" {
			repo = path.Base(w)
		}
		mounts[w+"/"+repo] = "/github/workspace"
	}
	for host, inside := range mounts {
		if rest, ok := strings.CutPrefix(p, host); ok && (rest == "" || rest[0] == '/') {
			return inside + rest
		}
	}
	return p
}
