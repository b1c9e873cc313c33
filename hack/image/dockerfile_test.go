package main

import (
	"os"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/ferry-dev/ferry/internal/frontends"
)

// TestDockerfileMatchesImage builds the image with hack/image into a
// registry and fails when the Dockerfile would build something else: base,
// entrypoint, command, user, environment, labels, the files of the layer
// and their modes, and how the binary is compiled.
func TestDockerfileMatchesImage(t *testing.T) {
	const version = "v9.8.7"
	stages, err := frontends.ParseDockerfile("../../Dockerfile", map[string]string{"VERSION": version})
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]frontends.Stage{}
	for _, s := range stages {
		byName[s.Name] = s
	}
	final := stages[len(stages)-1]
	if final.Base != "scratch" {
		t.Fatalf("the last stage (what docker build builds by default) is FROM %s, want scratch", final.Base)
	}
	busybox, ok := byName["busybox"]
	if !ok {
		t.Fatal("the Dockerfile has no busybox stage (the image CircleCI's executor runs)")
	}
	releaseBase := releaseBaseImage(t)
	if busybox.Base != releaseBase {
		t.Errorf("the busybox stage is FROM %s, the release workflow passes -base %s", busybox.Base, releaseBase)
	}

	f := newFixture(t)
	host := startRegistry(t)
	base := pushBase(t, host)
	runImage(t, "-binary", "linux/amd64="+f.binary, "-ca-certs", f.ca, "-version", version, "-tag", host+"/ferry:scratch")
	runImage(t, "-binary", "linux/amd64="+f.binary, "-ca-certs", f.ca, "-version", version, "-base", base, "-tag", host+"/ferry:busybox")

	for _, c := range []struct {
		stage frontends.Stage
		ref   string
		base  string // the base hack/image used, "" for scratch
	}{
		{final, host + "/ferry:scratch", ""},
		{busybox, host + "/ferry:busybox", base},
	} {
		t.Run(c.ref[strings.LastIndex(c.ref, ":")+1:], func(t *testing.T) {
			img, err := remote.Image(mustRef(t, c.ref))
			if err != nil {
				t.Fatal(err)
			}
			cf, err := img.ConfigFile()
			if err != nil {
				t.Fatal(err)
			}
			var baseCfg v1.Config
			if c.base != "" {
				bi, err := remote.Image(mustRef(t, c.base), remote.WithPlatform(v1.Platform{OS: "linux", Architecture: "amd64"}))
				if err != nil {
					t.Fatal(err)
				}
				bcf, err := bi.ConfigFile()
				if err != nil {
					t.Fatal(err)
				}
				baseCfg = bcf.Config
			}
			compareConfig(t, c.stage, cf.Config, baseCfg)
			compareFiles(t, c.stage, byName["build"], img)
		})
	}

	build, ok := byName["build"]
	if !ok {
		t.Fatal("the Dockerfile has no build stage")
	}
	checkBuildStage(t, build)
}

// compareConfig checks what the Dockerfile stage sets against the image
// config, on top of what the base image brings.
func compareConfig(t *testing.T, st frontends.Stage, got, base v1.Config) {
	t.Helper()
	if st.ShellEntrypoint != "" {
		t.Errorf("ENTRYPOINT uses the shell form %q; scratch has no shell", st.ShellEntrypoint)
	}
	if !reflect.DeepEqual(st.Entrypoint, got.Entrypoint) {
		t.Errorf("ENTRYPOINT %q, hack/image sets %q", st.Entrypoint, got.Entrypoint)
	}
	if !reflect.DeepEqual(st.Cmd, got.Cmd) {
		t.Errorf("CMD %q, hack/image sets %q", st.Cmd, got.Cmd)
	}
	if st.User != got.User || got.User != "" {
		t.Errorf("USER %q, hack/image sets %q; both must leave it to root", st.User, got.User)
	}
	// Every label is ferry's: the Dockerfile's set is the image's, less
	// what the base brings.
	wantLabels := map[string]string{}
	for k, v := range base.Labels {
		wantLabels[k] = v
	}
	for k, v := range st.Labels {
		wantLabels[k] = v
	}
	if len(wantLabels) == 0 {
		wantLabels = nil
	}
	if !reflect.DeepEqual(wantLabels, got.Labels) {
		t.Errorf("labels differ:\nDockerfile (+ base) %v\nhack/image          %v", wantLabels, got.Labels)
	}
	env := map[string]string{}
	for _, kv := range base.Env {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	for k, v := range st.Env {
		env[k] = v
	}
	gotEnv := map[string]string{}
	for _, kv := range got.Env {
		k, v, _ := strings.Cut(kv, "=")
		gotEnv[k] = v
	}
	if !reflect.DeepEqual(env, gotEnv) {
		t.Errorf("environment differs:\nDockerfile (+ base) %v\nhack/image          %v", env, gotEnv)
	}
}

// compareFiles checks that the stage copies exactly the files of ferry's
// layer, from the build stage, with the layer's modes.
func compareFiles(t *testing.T, st, build frontends.Stage, img v1.Image) {
	t.Helper()
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	files := layerFiles(t, layers[len(layers)-1])
	var want, got []string
	for p, e := range files {
		if e.hdr.Typeflag == '0' {
			want = append(want, p)
		}
	}
	for _, c := range st.Copies {
		got = append(got, c.Dst)
		if c.From != "build" {
			t.Errorf("COPY to %s comes from %q, want the build stage", c.Dst, c.From)
		}
		e, ok := files[c.Dst]
		if !ok {
			continue
		}
		// Without --chmod the mode would be whatever the build stage left;
		// say it.
		mode := c.Chmod
		if mode == "" {
			t.Errorf("COPY to %s has no --chmod", c.Dst)
			continue
		}
		if want := "0" + strconvOctal(e.hdr.Mode); mode != want {
			t.Errorf("COPY to %s gives mode %s, hack/image %s", c.Dst, mode, want)
		}
	}
	sort.Strings(want)
	sort.Strings(got)
	if !reflect.DeepEqual(want, got) {
		t.Errorf("the stage copies %v, hack/image's layer holds %v", got, want)
	}
	for _, c := range st.Copies {
		if c.Dst == binaryPath && (len(c.Src) != 1 || !strings.Contains(strings.Join(build.Runs, "\n"), "-o "+c.Src[0])) {
			t.Errorf("COPY %v %s: the build stage does not write %v", c.Src, c.Dst, c.Src)
		}
	}
}

func strconvOctal(m int64) string {
	const digits = "01234567"
	if m == 0 {
		return "0"
	}
	var b []byte
	for ; m > 0; m /= 8 {
		b = append([]byte{digits[m%8]}, b...)
	}
	return string(b)
}

// checkBuildStage checks how the binary is compiled: static, trimmed,
// version stamped, with the Go of go.mod.
func checkBuildStage(t *testing.T, build frontends.Stage) {
	t.Helper()
	gomod, err := os.ReadFile("../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindSubmatch(gomod)
	if m == nil {
		t.Fatal("go.mod has no go directive")
	}
	if want := "golang:" + string(m[1]); build.Base != want {
		t.Errorf("the build stage is FROM %s, go.mod asks for %s", build.Base, want)
	}
	runs := strings.Join(build.Runs, "\n")
	for _, want := range []string{"CGO_ENABLED=0", "-trimpath", "-s -w", "-X main.version=${VERSION}", "./cmd/ferry"} {
		if !strings.Contains(runs, want) {
			t.Errorf("the build stage's go build lacks %q:\n%s", want, runs)
		}
	}
}

// releaseBaseImage is the -base the release workflow gives hack/image for
// the busybox variant.
func releaseBaseImage(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../../.github/workflows/release.yml")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`-base[ =]+"?([^\s"]+)`).FindAllSubmatch(b, -1)
	if len(m) != 1 {
		t.Fatalf("release.yml passes -base %d times, want once", len(m))
	}
	return string(m[0][1])
}
