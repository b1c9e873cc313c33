package promote

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// ReportVersion is the version of the report's JSON form (docs/report.md).
// It changes only when a field changes meaning or goes away.
const ReportVersion = 1

// Status is what happened to one target.
type Status string

// Target statuses in a Report.
const (
	StatusPlanned       Status = "would-promote"  // plan: promote would change it
	StatusUnchanged     Status = "unchanged"      // already ran the image; or status: read only
	StatusPromoted      Status = "promoted"       // released and verified
	StatusRolledBack    Status = "rolled-back"    // rollback: back on the earlier revision, verified
	StatusFailed        Status = "failed"         // failed before changing anything
	StatusRestored      Status = "restored"       // changed, then put back
	StatusRestoreFailed Status = "restore-failed" // changed, and could not be put back
	StatusSkipped       Status = "skipped"        // not attempted: the run failed before it got there
	StatusRecovered     Status = "recovered"      // recover: an earlier run's unfinished promotion was settled
	StatusSuperseded    Status = "superseded"     // another release landed on it meanwhile, and it is healthy on that
)

// Outcome is the result of a whole run; it maps onto ferry's exit codes.
type Outcome string

// Outcomes of a run.
const (
	OutcomePromoted      Outcome = "promoted"       // exit 0
	OutcomeUnchanged     Outcome = "unchanged"      // exit 0: every target already ran the image (status: read only)
	OutcomePlanned       Outcome = "planned"        // exit 0: plan found something to change
	OutcomeRolledBack    Outcome = "rolled-back"    // exit 0
	OutcomeFailed        Outcome = "failed"         // exit 1: failed, every changed target restored
	OutcomeBadInput      Outcome = "bad-input"      // exit 2: nothing changed
	OutcomeRestoreFailed Outcome = "restore-failed" // exit 3: a human is needed
	OutcomeRecovered     Outcome = "recovered"      // exit 0: recover settled an earlier run's unfinished promotion
	OutcomeSuperseded    Outcome = "superseded"     // exit 0: a newer release replaced this run's, and production is healthy on it
)

// OutcomeOf is the outcome of a run that ended with err: a failed restore
// for a [RestoreError], failed for a [RestoredError], bad input for an
// [InputError], failed otherwise. It is "" for a nil error: what succeeded
// depends on the command.
func OutcomeOf(err error) Outcome {
	var re *RestoreError
	var restored *RestoredError
	switch {
	case err == nil:
		return ""
	case errors.As(err, &re):
		return OutcomeRestoreFailed
	case IsSuperseded(err):
		return OutcomeSuperseded
	case errors.As(err, &restored):
		return OutcomeFailed
	case IsInput(err):
		return OutcomeBadInput
	}
	return OutcomeFailed
}

// TargetReport is one target's part of a Report.
type TargetReport struct {
	Target string `json:"target"`
	// Wave is the 1-based wave of the target, 0 without waves.
	Wave    int    `json:"wave,omitempty"`
	Status  Status `json:"status"`
	Before  *Seen  `json:"before,omitempty"`
	After   *Seen  `json:"after,omitempty"`
	Error   string `json:"error,omitempty"`
	Restore string `json:"restore_error,omitempty"`
	// Containers say which image each container of a target with a
	// container mapping takes (promote, plan); empty without one.
	Containers []ContainerImage `json:"containers,omitempty"`
	Durations  StepDurations    `json:"durations"`
	// Recovery is what the run found an earlier run left unfinished on
	// the target, and what it did about it.
	Recovery *Recovery `json:"recovery,omitempty"`
}

// SourceImage is the image one container of the source runs.
type SourceImage struct {
	Container string `json:"container"`
	Image     string `json:"image"`
	Digest    string `json:"digest"`
}

// ContainerImage is the image one container of a target takes, and the
// source's container it comes from.
type ContainerImage struct {
	Container string `json:"container"`
	From      string `json:"from"`
	Image     string `json:"image"`
}

// StepDurations are how long each step took for a target.
type StepDurations struct {
	Snapshot Duration `json:"snapshot"`
	Release  Duration `json:"release,omitzero"`
	Verify   Duration `json:"verify,omitzero"`
	Restore  Duration `json:"restore,omitzero"`
}

// Total is the sum of the steps.
func (d StepDurations) Total() time.Duration {
	return time.Duration(d.Snapshot + d.Release + d.Verify + d.Restore)
}

// Duration marshals as fractional seconds, and reads them back.
type Duration time.Duration

// MarshalJSON writes seconds with millisecond precision.
func (d Duration) MarshalJSON() ([]byte, error) {
	return fmt.Appendf(nil, "%.3f", time.Duration(d).Seconds()), nil
}

// UnmarshalJSON reads seconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s float64
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration: %w", err)
	}
	*d = Duration(s * float64(time.Second))
	return nil
}

// Report is the result of a run, whatever its outcome: every command
// returns one, and every way a run ends fills in Outcome and Error.
type Report struct {
	// Version is ReportVersion.
	Version int `json:"version"`
	// Command is promote, plan, status or rollback.
	Command string `json:"command"`
	// Source is the source address; Image and Digest what it resolved to.
	Source string `json:"source,omitempty"`
	Image  string `json:"image,omitempty"`
	Digest string `json:"digest,omitempty"`
	// Images are the images of the source's containers that targets'
	// container mappings take, one per container, in the order targets
	// first name them; empty without mappings. Image and Digest are
	// empty when every target has a mapping.
	Images []SourceImage `json:"images,omitempty"`
	// Outcome is the run's result.
	Outcome Outcome `json:"result"`
	// Verifications are what the source checks verified (promote, plan).
	Verifications []Verification `json:"verifications,omitempty"`
	// Error is why the run did not succeed, "" when it did.
	Error   string         `json:"error,omitempty"`
	Targets []TargetReport `json:"targets"`
	// Waves are the waves of a promotion with waves, gates or a soak.
	Waves    []WaveReport `json:"waves,omitempty"`
	Duration Duration     `json:"duration"`
}

// NewReport returns the report of command over targets (their addresses),
// before anything happened.
func NewReport(command string, targets []string) *Report {
	r := &Report{Version: ReportVersion, Command: command, Targets: make([]TargetReport, len(targets))}
	for i, t := range targets {
		r.Targets[i].Target = t
	}
	return r
}

// Fail records that the run ended with err, which is not nil, and returns
// it: the outcome comes from [OutcomeOf], and the targets no step reached
// are skipped.
func (r *Report) Fail(err error) error {
	r.Outcome, r.Error = OutcomeOf(err), err.Error()
	for i := range r.Targets {
		if r.Targets[i].Status == "" {
			r.Targets[i].Status = StatusSkipped
		}
	}
	return err
}

// ImagePairs are Images as CONTAINER=IMAGE, in order: how the GitHub
// output source-images and a GitHub Deployment's payload name them.
func (r *Report) ImagePairs() []string {
	var out []string
	for _, si := range r.Images {
		out = append(out, si.Container+"="+si.Image)
	}
	return out
}

// RolledBack lists the targets that were restored or rolled back.
func (r *Report) RolledBack() []string {
	var out []string
	for _, t := range r.Targets {
		if t.Status == StatusRestored || t.Status == StatusRolledBack {
			out = append(out, t.Target)
		}
	}
	return out
}
