package heroku

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ferry-dev/ferry/internal/testenv/images"
)

func TestWatchSeesADynoCrashAfterTheRelease(t *testing.T) {
	e := newEnv(t)
	e.seedRelease("shop-prod", images.Spec{Seed: 70}, "web")
	img, _ := e.source(images.Spec{Seed: 71})
	r := e.snapshotted("heroku:shop-prod", img)
	if err := r.release(img); err != nil {
		t.Fatalf("Release: %v", err)
	}
	if err := r.verify(); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	tgt, ok := r.tgt.(*Target)
	if !ok {
		t.Fatalf("target is a %T", r.tgt)
	}

	// Healthy dynos: Watch ends with its context.
	quiet, cancel := context.WithTimeout(ctx(t), 200*time.Millisecond)
	defer cancel()
	if err := tgt.Watch(quiet, r.s, r.c); err != nil {
		t.Fatalf("Watch of healthy dynos: %v", err)
	}

	done := make(chan error, 1)
	go func() { done <- tgt.Watch(ctx(t), r.s, r.c) }()
	time.Sleep(50 * time.Millisecond)
	if err := e.emu.Crash("shop-prod", "web.1"); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "crashed: web.1") {
			t.Fatalf("Watch = %v, want the crash", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Watch did not see the crash")
	}
}
