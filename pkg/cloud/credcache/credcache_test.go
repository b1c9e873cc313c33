package credcache

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestFresh(t *testing.T) {
	now := time.Now()
	cases := []struct {
		exp  time.Time
		want bool
	}{
		{time.Time{}, false},
		{now.Add(12 * time.Hour), true},
		{now.Add(16 * time.Minute), true},
		{now.Add(14 * time.Minute), false},
		{now.Add(-time.Minute), false},
	}
	for _, tc := range cases {
		if got := Fresh(now, tc.exp); got != tc.want {
			t.Errorf("Fresh(now, now%+v) = %v", tc.exp.Sub(now), got)
		}
	}
}

// A fresh credential is reused, one about to lapse is minted again,
// concurrent callers mint once, and a failed mint keeps nothing.
func TestCache(t *testing.T) {
	var c Cache[string]
	var mints atomic.Int32
	life := time.Hour
	mint := func() (string, time.Time, error) {
		n := mints.Add(1)
		return string('a' + n - 1), time.Now().Add(life), nil
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if v, err := c.Get("reg.example", mint); err != nil || v != "a" {
				t.Errorf("Get = %q, %v", v, err)
			}
		})
	}
	wg.Wait()
	if mints.Load() != 1 {
		t.Fatalf("%d mints for one host, want 1", mints.Load())
	}
	if v, _ := c.Get("other.example", mint); v != "b" {
		t.Errorf("another host got %q, want its own credential", v)
	}
	life = 10 * time.Minute // lapses within RenewBefore: never reused
	c2 := Cache[string]{}
	v1, _ := c2.Get("h", mint)
	v2, _ := c2.Get("h", mint)
	if v1 == v2 {
		t.Errorf("a credential about to lapse was reused: %q", v1)
	}
	if _, err := c2.Get("bad", func() (string, time.Time, error) { return "", time.Time{}, errors.New("refused") }); err == nil {
		t.Error("a failed mint returned no error")
	}
}
