// Command demo is `make demo`: it shows ferry at work on a laptop, with
// nothing but Go, make and git installed, and doubles as a smoke test.
//
// It starts a sandbox on 127.0.0.1: two real Kubernetes control planes from
// internal/testenv ("staging" and "production"; kwok plays the kubelets), a
// registry from internal/testenv/images and, for the Heroku half, the
// Platform API and registry emulator from internal/testenv/herokuemu. Then
// it runs the real ferry binary (-ferry) as a subprocess, configured only
// through environment variables (a kubeconfig file written to a temporary
// folder, FERRY_SOURCE, FERRY_TARGETS, ...), and streams ferry's own output
// between short narration lines:
//
//  1. plan, then promote the digest staging's pods report to two production
//     Deployments (contexts prod-eu and prod-us): exit 0;
//  2. staging runs a crashing build; promote it: kwok crash-loops every
//     image whose name holds "crash", ferry notices, restores both
//     Deployments and exits 1;
//  3. status: production still runs the good digest;
//  4. promote a new image from the registry to a Deployment and the Heroku
//     app shop-prod together: exit 0;
//  5. promote an image whose config carries the label ferry.test/dyno=crash:
//     it rolls out on Kubernetes, its dynos crash in the emulator, and ferry
//     restores the Deployment, rolls back the Heroku release and exits 1.
//     (An image that crashed on Kubernetes too would make it a race which
//     target fails first; when kwok's immediate crash won before the
//     Heroku release, there would be nothing to roll back there.)
//
// After each ferry run the demo checks production itself (through the
// clusters' admin clients and the emulator), prints a summary with every
// exit code, and exits 1 if anything did not behave as expected. While
// cmd/ferry answers that heroku: targets are "not wired yet", steps 4 and
// 5 print why they are skipped and do not fail the demo; herokuRequired
// turns that into a failure.
//
// Every process it starts is stopped and every temporary folder removed on
// the way out, also after SIGINT or SIGTERM: the signal is passed on to a
// running ferry (which then restores what it changed) before the sandbox
// goes down. A third signal quits at once; the control planes die with the
// demo (they are started with a parent-death signal), their folders may
// stay behind.
//
// Usage:
//
//	make demo
//	FERRY_TESTENV_BIN=$(hack/build-testenv.sh) go run ./internal/testenv/cmd/demo -ferry bin/ferry [-keep]
package main
