package main

import (
	"crypto/rand"
	"encoding/hex"
	"os"

	"github.com/ferry-dev/ferry/pkg/promote"
)

// runID names this process in the locks it holds and the records it
// writes: unique per process, with the host for the human reading a
// record.
var runID = func() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	host, _ := os.Hostname()
	if host == "" {
		host = "ferry"
	}
	return host + "-" + hex.EncodeToString(b)
}()

// records are the run's record and lock options.
func (a *app) records() promote.RecordOptions {
	return promote.RecordOptions{
		Run:      promote.RunInfo{ID: runID, URL: a.cfg.CI.RunURL, Commit: a.cfg.CI.Commit},
		LockWait: a.cfg.Run.LockWait,
		Verify:   a.cfg.Run.RecoverVerify,
	}
}
