package testenv

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestBinDirFromEnv(t *testing.T) {
	dir := t.TempDir()
	for _, name := range components[:3] {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "kube-scheduler"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv(BinEnv, dir)
	_, err := BinDir(t.Context())
	if err == nil {
		t.Fatal("BinDir succeeded with binaries missing")
	}
	for _, want := range []string{"binary kube-scheduler is not executable", "missing binary kwok"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if _, err := StartCluster(t.Context(), "staging"); err == nil || !strings.Contains(err.Error(), "missing binary kwok") {
		t.Errorf("StartCluster: %v, want missing binary error", err)
	}

	if err := os.WriteFile(filepath.Join(dir, "kwok"), nil, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(dir, "kube-scheduler"), 0o755); err != nil {
		t.Fatal(err)
	}
	got, err := BinDir(t.Context())
	if err != nil || got != dir {
		t.Errorf("BinDir() = %q, %v; want %q", got, err, dir)
	}
}

func TestRepoRoot(t *testing.T) {
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, buildScript)); err != nil {
		t.Errorf("repo root %s has no %s: %v", root, buildScript, err)
	}
	if got := moduleOf(filepath.Join(root, "hack/tools/kwok/go.mod")); got == modulePath || got == "" {
		t.Errorf("moduleOf(tools module) = %q", got)
	}
}
