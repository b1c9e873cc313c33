package config

// Deployments is where a promotion is recorded as a GitHub Deployment.
type Deployments struct {
	// Environment is the deployment's environment; "" records nothing.
	Environment string
	// Repo is "owner/name", Ref the commit, APIURL GitHub's REST API
	// (GITHUB_API_URL), Token a token that may write deployments.
	Repo, Ref, APIURL, Token string
}

// deployments checks FERRY_GITHUB_ENVIRONMENT for command.
func (ch *checker) deployments(command string, ci CI) Deployments {
	s := ch.s
	if s.GitHubEnvironment == "" || command != CommandPromote {
		return Deployments{}
	}
	d := Deployments{Environment: s.GitHubEnvironment, Ref: ci.Commit, Token: s.GitHubToken, APIURL: s.Env.Get("GITHUB_API_URL")}
	d.Repo = s.Env.Get("GITHUB_REPOSITORY")
	if d.Repo == "" && s.Env.Get("CIRCLE_PROJECT_USERNAME") != "" {
		d.Repo = s.Env.Get("CIRCLE_PROJECT_USERNAME") + "/" + s.Env.Get("CIRCLE_PROJECT_REPONAME")
	}
	if d.APIURL == "" {
		d.APIURL = "https://api.github.com"
	}
	switch {
	case d.Token == "":
		ch.add("GITHUB_ENVIRONMENT", "a GitHub Deployment needs a token: set FERRY_GITHUB_TOKEN (in a workflow: github-token: ${{ github.token }} with permissions: deployments: write), or leave FERRY_GITHUB_ENVIRONMENT empty", "")
	case d.Repo == "":
		ch.add("GITHUB_ENVIRONMENT", "the repository to record a GitHub Deployment in is unknown: set GITHUB_REPOSITORY=owner/name, or leave FERRY_GITHUB_ENVIRONMENT empty", "")
	case d.Ref == "":
		ch.add("GITHUB_ENVIRONMENT", "the commit to record a GitHub Deployment of is unknown: set GITHUB_SHA, or leave FERRY_GITHUB_ENVIRONMENT empty", "")
	}
	return d
}
