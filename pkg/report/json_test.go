package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/ferry-dev/ferry/pkg/promote"
	"github.com/ferry-dev/ferry/pkg/redact"
)

// Every report ferry can write follows the documented schema, and the
// schema names every status and outcome there is.
func TestJSONFollowsTheDocumentedSchema(t *testing.T) {
	schema := reportSchema(t)
	statuses := []promote.Status{promote.StatusPlanned, promote.StatusUnchanged, promote.StatusPromoted, promote.StatusRolledBack,
		promote.StatusFailed, promote.StatusRestored, promote.StatusRestoreFailed, promote.StatusSkipped,
		promote.StatusRecovered, promote.StatusSuperseded}
	outcomes := []promote.Outcome{promote.OutcomePromoted, promote.OutcomeUnchanged, promote.OutcomePlanned, promote.OutcomeRolledBack,
		promote.OutcomeFailed, promote.OutcomeBadInput, promote.OutcomeRestoreFailed, promote.OutcomeRecovered, promote.OutcomeSuperseded}
	seen := &promote.Seen{Image: "ghcr.io/acme/shop@sha256:" + strings.Repeat("a", 64), Revision: "3"}
	var reports []*promote.Report
	for _, o := range outcomes {
		r := promote.NewReport("promote", []string{"k8s:shop/web?context=prod"})
		r.Source, r.Image, r.Digest = "k8s:shop/web?context=staging", seen.Image, "sha256:"+strings.Repeat("a", 64)
		r.Duration = promote.Duration(1500 * time.Millisecond)
		r.Targets[0].Status = promote.StatusPromoted
		if o != promote.OutcomePromoted {
			_ = r.Fail(errors.New("boom"))
		}
		r.Outcome = o
		reports = append(reports, r)
	}
	for _, s := range statuses {
		r := promote.NewReport("rollback", []string{"heroku:shop/web"})
		r.Outcome = promote.OutcomeRolledBack
		r.Targets[0] = promote.TargetReport{Target: "heroku:shop/web", Status: s, Before: seen, After: seen, Error: "e", Restore: "r",
			Durations: promote.StepDurations{Snapshot: 1, Release: 2, Verify: 3, Restore: 4}}
		reports = append(reports, r)
	}
	waved := promote.NewReport("promote", []string{"k8s:shop/web?context=canary", "heroku:shop/web"})
	waved.Outcome = promote.OutcomeFailed
	waved.Targets[0].Status, waved.Targets[0].Wave = promote.StatusRestored, 1
	waved.Targets[1].Status, waved.Targets[1].Wave = promote.StatusSkipped, 2
	waved.Waves = wavesExample()
	reports = append(reports, waved)
	rec := promote.NewReport("recover", []string{"k8s:shop/web?context=prod"})
	rec.Outcome = promote.OutcomeRecovered
	rec.Targets[0].Status = promote.StatusRecovered
	rec.Targets[0].Recovery = &promote.Recovery{Run: promote.RunInfo{ID: "runner-1", URL: "https://ci/1", Commit: "abc"}, Image: seen.Image,
		Step: promote.StepReleased, Found: promote.FoundChange, Now: "app=" + seen.Image, Action: promote.ActionRestore, Result: "restored"}
	reports = append(reports, rec, mappedReport())
	empty := promote.NewReport("status", nil)
	empty.Outcome = promote.OutcomeUnchanged
	reports = append(reports, empty)
	for _, r := range reports {
		var b bytes.Buffer
		if err := JSON(&b, r, redact.Secrets{}); err != nil {
			t.Fatal(err)
		}
		v, err := jsonschema.UnmarshalJSON(&b)
		if err != nil {
			t.Fatal(err)
		}
		if err := schema.Validate(v); err != nil {
			js, _ := json.Marshal(r)
			t.Errorf("report %s does not follow docs/report.schema.json: %v", js, err)
		}
	}
}

// reportSchema compiles docs/report.schema.json, the schema every report
// ferry writes must follow.
func reportSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	f, err := os.Open("../../docs/report.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("report.schema.json", doc); err != nil {
		t.Fatal(err)
	}
	schema, err := c.Compile("report.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	return schema
}
