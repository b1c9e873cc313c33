package testenv

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// auditPolicy records every request at level Metadata (who, what, which
// object, response code; no bodies), once it has completed.
const auditPolicy = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
- level: Metadata
`

// AuditEvent is one completed request from the API server's audit log.
type AuditEvent struct {
	User        string    // user.username
	Verb        string    // create, update, patch, delete, deletecollection, get, ...
	APIGroup    string    // "" for the core group
	Resource    string    // "deployments"
	Subresource string    // "status", "scale", or ""
	Namespace   string    // "" for cluster-scoped objects
	Name        string    // "" for collection requests and generateName creates
	RequestURI  string    // path and query as sent
	Code        int       // HTTP status of the response
	Time        time.Time // when the request completed
	// DryRun is a request with dryRun=All: admission ran, nothing was
	// stored.
	DryRun bool
}

func (e AuditEvent) String() string {
	return fmt.Sprintf("%s %s %d", e.Verb, e.RequestURI, e.Code)
}

// mutatingVerbs are the verbs that can change state.
var mutatingVerbs = map[string]bool{
	"create": true, "update": true, "patch": true, "delete": true, "deletecollection": true,
}

// reviews are the create-only resources that ask the API server a
// question and store nothing.
var reviews = map[string]bool{
	"selfsubjectaccessreviews": true, "selfsubjectrulesreviews": true,
	"subjectaccessreviews": true, "localsubjectaccessreviews": true, "tokenreviews": true,
}

// changes reports whether e could have changed state: a mutating verb,
// not a dry run, not a review.
func changes(e AuditEvent) bool { return mutatingVerbs[e.Verb] && !e.DryRun && !reviews[e.Resource] }

func isFerryMutation(e AuditEvent) bool { return e.User == FerryUser && changes(e) }

// Mutations returns the create, update, patch, delete and deletecollection
// requests (dry runs and access reviews, which store nothing, left out)
// that FerryUser sent to this cluster, oldest first, whatever
// their outcome (see Code). Reads are left out, and so is everything the
// test and the components did as AdminUser.
//
// The audit log is written in blocking mode; to be sure that the entries of
// requests which have already been answered are in the file, Mutations first
// sends a marker request of its own and waits until it shows up.
func (c *Cluster) Mutations(ctx context.Context) ([]AuditEvent, error) {
	if err := c.auditBarrier(ctx); err != nil {
		return nil, fmt.Errorf("reading audit log of cluster %s: %w", c.Name, err)
	}
	events, err := c.readAudit(isFerryMutation)
	if err != nil {
		return nil, fmt.Errorf("reading audit log of cluster %s: %w", c.Name, err)
	}
	return events, nil
}

// AllMutations returns the create, update, patch, delete and
// deletecollection requests that any user but AdminUser and the
// cluster's own system:* identities sent, oldest first, whatever their
// outcome: FerryUser's and those of users a token webhook authenticated.
func (c *Cluster) AllMutations(ctx context.Context) ([]AuditEvent, error) {
	return c.audited(ctx, func(e AuditEvent) bool {
		return changes(e) && e.User != AdminUser && !strings.HasPrefix(e.User, "system:")
	})
}

// DryRuns returns the mutating requests with dryRun=All that any user
// but AdminUser and the system:* identities sent, oldest first.
func (c *Cluster) DryRuns(ctx context.Context) ([]AuditEvent, error) {
	return c.audited(ctx, func(e AuditEvent) bool {
		return e.DryRun && mutatingVerbs[e.Verb] && e.User != AdminUser && !strings.HasPrefix(e.User, "system:")
	})
}

// Unauthorized returns the requests the API server answered 401: a
// token it did not accept, oldest first.
func (c *Cluster) Unauthorized(ctx context.Context) ([]AuditEvent, error) {
	return c.audited(ctx, func(e AuditEvent) bool { return e.Code == 401 })
}

// audited returns the completed requests keep accepts, after a barrier.
func (c *Cluster) audited(ctx context.Context, keep func(AuditEvent) bool) ([]AuditEvent, error) {
	if err := c.auditBarrier(ctx); err != nil {
		return nil, fmt.Errorf("reading audit log of cluster %s: %w", c.Name, err)
	}
	events, err := c.readAudit(keep)
	if err != nil {
		return nil, fmt.Errorf("reading audit log of cluster %s: %w", c.Name, err)
	}
	return events, nil
}

func (c *Cluster) auditLog() string { return filepath.Join(c.Dir, "audit.log") }

// auditBarrier GETs a configmap that does not exist under a unique name,
// then waits for that request's audit entry.
func (c *Cluster) auditBarrier(ctx context.Context) error {
	name := "testenv-audit-barrier-" + strings.ToLower(randomToken())
	_, err := c.Admin.CoreV1().ConfigMaps(metav1.NamespaceDefault).Get(ctx, name, metav1.GetOptions{})
	if err == nil {
		return fmt.Errorf("barrier configmap %s exists", name)
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return c.waitFor(ctx, "the audit entry of "+name, func(context.Context) error {
		found, err := c.readAudit(func(e AuditEvent) bool { return e.Name == name })
		if err != nil {
			return err
		}
		if len(found) == 0 {
			return fmt.Errorf("no audit entry for %s yet", name)
		}
		return nil
	})
}

func (c *Cluster) readAudit(keep func(AuditEvent) bool) ([]AuditEvent, error) {
	f, err := os.Open(c.auditLog())
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parseAudit(f, keep)
}

// auditLine is the part of an audit.k8s.io/v1 Event that AuditEvent keeps.
type auditLine struct {
	Stage      string `json:"stage"`
	RequestURI string `json:"requestURI"`
	Verb       string `json:"verb"`
	User       struct {
		Username string `json:"username"`
	} `json:"user"`
	ObjectRef *struct {
		Resource    string `json:"resource"`
		Namespace   string `json:"namespace"`
		Name        string `json:"name"`
		APIGroup    string `json:"apiGroup"`
		Subresource string `json:"subresource"`
	} `json:"objectRef"`
	ResponseStatus *struct {
		Code int `json:"code"`
	} `json:"responseStatus"`
	StageTimestamp time.Time `json:"stageTimestamp"`
}

// parseAudit reads JSON audit events, one per line, and returns the
// completed requests (stage ResponseComplete or Panic) and the refused
// authentications (ResponseStarted with 401) for which keep is true. A torn last line (the server is still writing it) is ignored.
func parseAudit(r io.Reader, keep func(AuditEvent) bool) ([]AuditEvent, error) {
	var out []AuditEvent
	br := bufio.NewReader(r)
	for {
		line, err := br.ReadBytes('\n')
		if err == io.EOF {
			return out, nil // an unterminated line is still being written
		}
		if err != nil {
			return nil, err
		}
		var l auditLine
		if err := json.Unmarshal(line, &l); err != nil {
			return nil, fmt.Errorf("parsing audit line %q: %w", line, err)
		}
		// A failed authentication is audited once, at ResponseStarted
		// (kube-apiserver's WithFailedAuthenticationAudit).
		refused := l.Stage == "ResponseStarted" && l.ResponseStatus != nil && l.ResponseStatus.Code == 401
		if l.Stage != "ResponseComplete" && l.Stage != "Panic" && !refused {
			continue
		}
		e := AuditEvent{
			User:       l.User.Username,
			Verb:       l.Verb,
			RequestURI: l.RequestURI,
			Time:       l.StageTimestamp,
		}
		if u, err := url.ParseRequestURI(l.RequestURI); err == nil {
			e.DryRun = slices.Contains(u.Query()["dryRun"], "All")
		}
		if o := l.ObjectRef; o != nil {
			e.APIGroup, e.Resource, e.Subresource, e.Namespace, e.Name = o.APIGroup, o.Resource, o.Subresource, o.Namespace, o.Name
		}
		if l.ResponseStatus != nil {
			e.Code = l.ResponseStatus.Code
		}
		if keep(e) {
			out = append(out, e)
		}
	}
}
