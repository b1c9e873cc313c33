package credcache

import (
	"sync"
	"time"
)

// RenewBefore is how long before its expiry a credential is replaced.
const RenewBefore = 15 * time.Minute

// Fresh reports whether a credential expiring at exp may still be handed
// out at now.
func Fresh(now, exp time.Time) bool {
	return !exp.IsZero() && now.Add(RenewBefore).Before(exp)
}

// Cache holds one credential of type T per host. The zero value is ready
// to use; it is safe for concurrent use.
type Cache[T any] struct {
	mu    sync.Mutex
	slots map[string]*slot[T]
}

type slot[T any] struct {
	mu  sync.Mutex
	v   T
	exp time.Time
}

// Get returns host's credential while it is fresh, and otherwise mints a
// new one (its value and expiry) and keeps it. Concurrent calls for one
// host mint once; a failed mint keeps nothing.
func (c *Cache[T]) Get(host string, mint func() (T, time.Time, error)) (T, error) {
	c.mu.Lock()
	if c.slots == nil {
		c.slots = map[string]*slot[T]{}
	}
	s, ok := c.slots[host]
	if !ok {
		s = &slot[T]{}
		c.slots[host] = s
	}
	c.mu.Unlock()

	s.mu.Lock()
	defer s.mu.Unlock()
	if Fresh(time.Now(), s.exp) {
		return s.v, nil
	}
	v, exp, err := mint()
	if err != nil {
		var zero T
		return zero, err
	}
	s.v, s.exp = v, exp
	return v, nil
}
