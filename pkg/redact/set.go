package redact

import "sync"

// Redactor hides secrets in text.
type Redactor interface {
	String(v string) string
}

// Set is a growing set of secrets: the configured ones, and the
// credentials a run mints or is handed on the way (tokens, passwords from
// credential helpers), added before they are used. It is safe for
// concurrent use.
type Set struct {
	mu     sync.RWMutex
	values []string
	s      Secrets
}

// NewSet returns a Set holding values.
func NewSet(values ...string) *Set {
	s := &Set{}
	s.Add(values...)
	return s
}

// Add adds values and returns those that were new (and long enough to
// count as secrets), for the caller to mask elsewhere too.
func (s *Set) Add(values ...string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	have := map[string]bool{}
	for _, v := range s.values {
		have[v] = true
	}
	var added []string
	for _, v := range distinct(values) {
		if !have[v] {
			added = append(added, v)
		}
	}
	if len(added) > 0 {
		s.values = append(s.values, added...)
		s.s = NewSecrets(s.values...)
	}
	return added
}

// String returns v with every secret replaced.
func (s *Set) String(v string) string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.s.String(v)
}

// Error returns err with every secret replaced in its text.
func (s *Set) Error(err error) error { return Error(err, s.String) }
