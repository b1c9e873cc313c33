package testenv

import (
	"bufio"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// fakeBinDir returns a folder with the real binaries, except etcd, which is
// replaced by a script that prints msg to stderr, counts its runs in
// Dir/runs and exits 3.
func fakeBinDir(t *testing.T, msg string) (dir, runs string) {
	t.Helper()
	real, err := BinDir(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	dir = t.TempDir()
	for _, name := range components[1:] {
		if err := os.Symlink(filepath.Join(real, name), filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	runs = filepath.Join(dir, "runs")
	script := "#!/bin/sh\necho run >> " + runs + "\necho '" + msg + "' >&2\nexit 3\n"
	if err := os.WriteFile(filepath.Join(dir, "etcd"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir, runs
}

func TestStartFailures(t *testing.T) {
	tests := []struct {
		name     string
		msg      string
		wantRuns int
	}{
		{"component exits", "etcdmain: simulated fatal error", 1},
		{"port taken is retried on fresh ports", "listen tcp 127.0.0.1:2379: bind: address already in use", startAttempts},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, runs := fakeBinDir(t, tt.msg)
			t.Setenv(BinEnv, dir)
			begin := time.Now()
			c, err := StartCluster(t.Context(), "broken")
			if err == nil {
				c.Stop()
				t.Fatal("StartCluster succeeded with a failing etcd")
			}
			if d := time.Since(begin); d > 30*time.Second {
				t.Errorf("failure took %s to notice", d)
			}
			var exit *ExitError
			if !errors.As(err, &exit) || exit.Component != "etcd" {
				t.Fatalf("error %v is not an ExitError of etcd", err)
			}
			for _, want := range []string{"etcd exited", "exit status 3", tt.msg, "logs in "} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not mention %q", err, want)
				}
			}
			data, err := os.ReadFile(runs)
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Count(string(data), "run"); got != tt.wantRuns {
				t.Errorf("etcd ran %d times, want %d", got, tt.wantRuns)
			}
			// The failed start keeps its directory for inspection.
			logDir := filepath.Dir(exit.Log)
			if _, err := os.Stat(exit.Log); err != nil {
				t.Errorf("log of the failed start: %v", err)
			}
			os.RemoveAll(logDir)
		})
	}
}

// TestNothingOutlivesTestBinary starts a cluster in a child test binary,
// kills that binary with SIGKILL (no cleanup runs) and checks that the
// kernel took every component down with it.
func TestNothingOutlivesTestBinary(t *testing.T) {
	if os.Getenv("TESTENV_HELPER_CHILD") == "1" {
		c, err := StartCluster(t.Context(), "orphan")
		if err != nil {
			t.Fatal(err)
		}
		c.mu.Lock()
		for _, p := range c.procs {
			os.Stdout.WriteString("pid " + strconv.Itoa(p.pid()) + "\n")
		}
		c.mu.Unlock()
		os.Stdout.WriteString("dir " + c.Dir + "\n")
		select {} // wait to be killed
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestNothingOutlivesTestBinary$", "-test.timeout=5m")
	cmd.Env = append(os.Environ(), "TESTENV_HELPER_CHILD=1")
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var pids []int
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		line := sc.Text()
		if pid, ok := strings.CutPrefix(line, "pid "); ok {
			n, _ := strconv.Atoi(pid)
			pids = append(pids, n)
		}
		if dir, ok := strings.CutPrefix(line, "dir "); ok {
			t.Cleanup(func() { os.RemoveAll(dir) })
			break
		}
	}
	if len(pids) != len(components) {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("child reported %d processes, want %d", len(pids), len(components))
	}
	for _, pid := range pids {
		if !alive(pid) {
			t.Fatalf("component %d not running before the kill", pid)
		}
	}
	cmd.Process.Kill()
	cmd.Wait()
	deadline := time.Now().Add(10 * time.Second)
	for _, pid := range pids {
		for alive(pid) && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		if alive(pid) {
			t.Errorf("process %d outlived the killed test binary", pid)
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// alive reports whether pid exists and is not a zombie.
func alive(pid int) bool {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(data)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	return len(fields) > 0 && fields[0] != "Z"
}
