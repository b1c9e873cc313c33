// Package bench holds ferry's benchmarks: `make bench` measures ferry side
// by side with crane, skopeo and kubectl on this machine, over loopback
// only, and writes results.md and results.json beside this file.
//
// The harness is cmd/ferrybench; cmd/ferry-copy is the small command that
// runs ferry's copy (pkg/image.Copy) as its own process, so that its wall
// time, CPU time and peak RSS are measured exactly like those of the other
// tools. install.sh installs the tools compared with; run.sh is what the
// Makefile's bench target runs.
package bench
