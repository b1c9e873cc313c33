package testenv

import (
	"bytes"
	"testing"

	"sigs.k8s.io/yaml"
)

// TestStagesExclusive checks the invariant that keeps kwok from choosing at
// random: every pod stage selects one behaviour class with the same jq
// expression (pod-delete instead requires a deletionTimestamp, which all the
// others exclude), and no two stages of one class can match the same status.
func TestStagesExclusive(t *testing.T) {
	type expr struct {
		JQ struct {
			Key      string   `json:"key"`
			Operator string   `json:"operator"`
			Values   []string `json:"values"`
		} `json:"jq"`
	}
	type stage struct {
		Metadata struct {
			Name string `json:"name"`
		} `json:"metadata"`
		Spec struct {
			ResourceRef struct {
				Kind string `json:"kind"`
			} `json:"resourceRef"`
			Selector struct {
				MatchExpressions []expr `json:"matchExpressions"`
			} `json:"selector"`
		} `json:"spec"`
	}
	var (
		classKey string
		byClass  = map[string][]string{}
		names    = map[string]bool{}
	)
	for _, doc := range bytes.Split(stagesYAML, []byte("\n---\n")) {
		var s stage
		if err := yaml.Unmarshal(doc, &s); err != nil {
			t.Fatal(err)
		}
		name := s.Metadata.Name
		if names[name] {
			t.Errorf("stage %s defined twice", name)
		}
		names[name] = true
		if s.Spec.ResourceRef.Kind != "Pod" {
			continue
		}
		exprs := s.Spec.Selector.MatchExpressions
		if name == "pod-delete" {
			if len(exprs) != 1 || exprs[0].JQ.Key != ".metadata.deletionTimestamp" || exprs[0].JQ.Operator != "Exists" {
				t.Errorf("pod-delete selector %+v", exprs)
			}
			continue
		}
		if len(exprs) < 2 {
			t.Fatalf("stage %s: selector %+v", name, exprs)
		}
		if classKey == "" {
			classKey = exprs[0].JQ.Key
		}
		if exprs[0].JQ.Key != classKey || exprs[0].JQ.Operator != "In" {
			t.Errorf("stage %s: first expression %+v is not the class selector", name, exprs[0])
		}
		if exprs[1].JQ.Key != ".metadata.deletionTimestamp" || exprs[1].JQ.Operator != "DoesNotExist" {
			t.Errorf("stage %s: second expression %+v does not exclude deleted pods", name, exprs[1])
		}
		for _, class := range exprs[0].JQ.Values {
			byClass[class] = append(byClass[class], name)
		}
	}
	// Within a class, stages must be told apart by status; these are the
	// pairs that share a class, each checked by hand in stages.yaml.
	want := map[string][]string{
		"ok":        {"pod-ready", "pod-complete"},                                  // phase Pending / Running+Ready
		"slowready": {"pod-slowready-start", "pod-slowready-ready", "pod-complete"}, // Pending / Running unready / Running Ready
		"crash":     {"pod-crashloop"},
		"nopull":    {"pod-nopull-errimagepull", "pod-nopull-backoff"}, // no statuses / ErrImagePull
		"configerr": {"pod-configerr"},
	}
	if len(byClass) != len(want) {
		t.Errorf("classes %v, want %v", byClass, want)
	}
	for class, stages := range want {
		if got := byClass[class]; !equalSets(got, stages) {
			t.Errorf("class %s: stages %v, want %v", class, got, stages)
		}
	}
}

func equalSets(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	m := map[string]bool{}
	for _, s := range a {
		m[s] = true
	}
	for _, s := range b {
		if !m[s] {
			return false
		}
	}
	return true
}
