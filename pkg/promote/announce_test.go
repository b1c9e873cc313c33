package promote

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
)

// fakeAnnouncer notes what it was told, and the calls target t had seen by
// then.
type fakeAnnouncer struct {
	t      *fakeTarget
	mu     sync.Mutex
	events []string
}

func (a *fakeAnnouncer) Start(_ context.Context, r *Report) {
	a.note("start " + r.Image + " after " + a.calls())
}

func (a *fakeAnnouncer) End(_ context.Context, r *Report) {
	a.note("end " + string(r.Outcome) + " after " + a.calls())
}

func (a *fakeAnnouncer) calls() string {
	a.t.mu.Lock()
	defer a.t.mu.Unlock()
	return strings.Join(a.t.calls, ",")
}

func (a *fakeAnnouncer) note(s string) {
	a.mu.Lock()
	a.events = append(a.events, s)
	a.mu.Unlock()
}

// A run is announced right before its first change and ended with its
// outcome, restores included; a run refused before any change is not
// announced at all.
func TestRunAnnouncesOnlyWhatItChanges(t *testing.T) {
	cases := []struct {
		name   string
		target *fakeTarget
		want   string
	}{
		{"promoted", &fakeTarget{name: "a"}, "start " + img.Ref() + " after snapshot | end promoted after snapshot,release,verify,snapshot"},
		{"restored", &fakeTarget{name: "a", verifyErr: errors.New("crash")}, "start " + img.Ref() + " after snapshot | end failed after snapshot,release,verify,restore,snapshot"},
		{"refused", &fakeTarget{name: "a", snapErr: Input(errors.New("no such deployment"))}, ""},
	}
	for _, c := range cases {
		a := &fakeAnnouncer{t: c.target}
		_, _ = Run(context.Background(), fakeSource{}, []Target{c.target}, Options{Announcers: []Announcer{a}})
		if got := strings.Join(a.events, " | "); got != c.want {
			t.Errorf("%s: announced %q, want %q", c.name, got, c.want)
		}
	}
}
