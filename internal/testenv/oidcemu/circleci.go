package oidcemu

import (
	"time"
)

// CircleCIHost is the host of CircleCI's issuers.
const CircleCIHost = "oidc.circleci.com"

// CircleCI emulates one CircleCI organisation's OIDC issuer.
type CircleCI struct {
	*Issuer
	OrgID string
}

// NewCircleCI makes the issuer https://oidc.circleci.com/org/ORG_ID.
func NewCircleCI(orgID string) (*CircleCI, error) {
	iss, err := NewIssuer("https://"+CircleCIHost+"/org/"+orgID, "/.well-known/jwks-pub.json")
	if err != nil {
		return nil, err
	}
	iss.claims = []string{"aud", "exp", "iat", "iss", "sub", "oidc.circleci.com/project-id", "oidc.circleci.com/context-ids",
		"oidc.circleci.com/vcs-origin", "oidc.circleci.com/vcs-ref", "oidc.circleci.com/ssh-rerun"}
	return &CircleCI{Issuer: iss, OrgID: orgID}, nil
}

// CircleJob describes the job the tokens are for.
type CircleJob struct {
	ProjectID  string   // [a fixed UUID]
	UserID     string   // the user who triggered the pipeline [a fixed UUID]
	ContextIDs []string // contexts the job uses
	VCSOrigin  string   // [github.com/ferry-dev/shop]
	VCSRef     string   // [refs/heads/main]
	Lifetime   time.Duration
}

func (j CircleJob) withDefaults() CircleJob {
	if j.ProjectID == "" {
		j.ProjectID = "6b1a2f0e-8c44-4c7b-9b1e-0d2f3a4b5c6d"
	}
	if j.UserID == "" {
		j.UserID = "2d3e4f50-6172-4839-a4b5-c6d7e8f90a1b"
	}
	if j.VCSOrigin == "" {
		j.VCSOrigin = "github.com/ferry-dev/shop"
	}
	if j.VCSRef == "" {
		j.VCSRef = "refs/heads/main"
	}
	if j.Lifetime == 0 {
		j.Lifetime = time.Hour
	}
	if j.ContextIDs == nil {
		j.ContextIDs = []string{}
	}
	return j
}

// Subject is the v1 sub of job (v2 adds the VCS origin and ref).
func (c *CircleCI) Subject(job CircleJob, v2 bool) string {
	job = job.withDefaults()
	sub := "org/" + c.OrgID + "/project/" + job.ProjectID + "/user/" + job.UserID
	if v2 {
		sub += "/vcs-origin/" + job.VCSOrigin + "/vcs-ref/" + job.VCSRef
	}
	return sub
}

// Tokens mints the job's CIRCLE_OIDC_TOKEN and CIRCLE_OIDC_TOKEN_V2.
func (c *CircleCI) Tokens(job CircleJob) (v1, v2 string, err error) {
	job = job.withDefaults()
	base := map[string]any{
		"aud":                           c.OrgID,
		"oidc.circleci.com/project-id":  job.ProjectID,
		"oidc.circleci.com/context-ids": job.ContextIDs,
	}
	claims := func(isV2 bool) map[string]any {
		m := map[string]any{"sub": c.Subject(job, isV2)}
		for k, v := range base {
			m[k] = v
		}
		if isV2 {
			m["oidc.circleci.com/vcs-origin"] = job.VCSOrigin
			m["oidc.circleci.com/vcs-ref"] = job.VCSRef
			m["oidc.circleci.com/ssh-rerun"] = false
		}
		return m
	}
	if v1, err = c.Mint(claims(false), job.Lifetime); err != nil {
		return "", "", err
	}
	if v2, err = c.Mint(claims(true), job.Lifetime); err != nil {
		return "", "", err
	}
	return v1, v2, nil
}

// Env returns CIRCLE_OIDC_TOKEN and CIRCLE_OIDC_TOKEN_V2 for job.
func (c *CircleCI) Env(job CircleJob) ([]string, error) {
	v1, v2, err := c.Tokens(job)
	if err != nil {
		return nil, err
	}
	return []string{"CIRCLE_OIDC_TOKEN=" + v1, "CIRCLE_OIDC_TOKEN_V2=" + v2}, nil
}
