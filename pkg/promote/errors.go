package promote

import (
	"errors"
	"fmt"
)

// InputError marks a failure caused by the user's input or by a target's
// state that the user must settle first (a paused Deployment, a wrong API
// key), found before anything was changed. ferry exits 2 on it.
type InputError struct{ Err error }

func (e *InputError) Error() string { return e.Err.Error() }
func (e *InputError) Unwrap() error { return e.Err }

// Input wraps err as an InputError; nil stays nil.
func Input(err error) error {
	if err == nil {
		return nil
	}
	return &InputError{Err: err}
}

// IsInput reports whether err is, or wraps, an InputError.
func IsInput(err error) bool {
	var ie *InputError
	return errors.As(err, &ie)
}

// RestoreError is a failed run whose restore failed too: production needs
// a human.
type RestoreError struct {
	// Cause is why the run failed.
	Cause error
	// Failed are the targets that could not be restored, one error each,
	// naming the target and what it runs now.
	Failed []error
}

func (e *RestoreError) Error() string {
	msg := fmt.Sprintf("%v; and %d target(s) could not be restored:", e.Cause, len(e.Failed))
	for _, f := range e.Failed {
		msg += "\n  " + f.Error()
	}
	return msg
}

func (e *RestoreError) Unwrap() []error { return append([]error{e.Cause}, e.Failed...) }

// RestoredError is a run that failed after it changed targets, every one
// of which was restored. Whatever the cause, even bad input found late,
// it is a failure: something changed and was put back.
type RestoredError struct {
	// Cause is why the run failed.
	Cause error
}

func (e *RestoredError) Error() string { return e.Cause.Error() }
func (e *RestoredError) Unwrap() error { return e.Cause }

// SupersededError is a target on which another release landed while
// this run promoted to it, and which is healthy on that newer release:
// not this run's to undo, and not a failure that needs a human.
type SupersededError struct{ Err error }

func (e *SupersededError) Error() string { return e.Err.Error() }
func (e *SupersededError) Unwrap() error { return e.Err }

// Superseded wraps err as a SupersededError; nil stays nil.
func Superseded(err error) error {
	if err == nil {
		return nil
	}
	return &SupersededError{Err: err}
}

// IsSuperseded reports whether err is, or wraps, a SupersededError.
func IsSuperseded(err error) bool {
	var se *SupersededError
	return errors.As(err, &se)
}
