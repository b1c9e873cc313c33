package frontends

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseDockerfile(t *testing.T) {
	const src = `# syntax=docker/dockerfile:1
ARG GO=1.26
ARG BASE_TAG
FROM --platform=$BUILDPLATFORM golang:${GO} AS build
ARG VERSION=dev
ARG GO
ENV GOFLAGS=-mod=readonly
RUN go build \
    # a comment inside a continued instruction
    -ldflags "-X main.version=${VERSION}" -o /out/app .

FROM build AS test
LABEL extra="from test"

FROM scratch
ARG VERSION=dev
COPY --from=build --chmod=0755 /out/app /app
ENV PATH=/bin HOME="/root dir" \
    EMPTY=
LABEL a.b="with \"quotes\" and spaces" plain=x v=$VERSION w=${MISSING:-fallback}
ENTRYPOINT ["/app", "--flag"]
CMD ["serve"]
USER root
`
	stages, err := parseDockerfile(strings.NewReader(src), map[string]string{"VERSION": "v1.2.3"})
	if err != nil {
		t.Fatal(err)
	}
	if len(stages) != 3 {
		t.Fatalf("%d stages, want 3", len(stages))
	}
	build, test, final := stages[0], stages[1], stages[2]
	if build.Name != "build" || build.Base != "golang:1.26" || build.Platform != "$BUILDPLATFORM" {
		t.Errorf("build stage %+v", build)
	}
	if build.Args["VERSION"] != "v1.2.3" || build.Args["GO"] != "1.26" {
		t.Errorf("build args %v: want the --build-arg and the global default", build.Args)
	}
	if len(build.Runs) != 1 || !strings.Contains(build.Runs[0], `-ldflags "-X main.version=${VERSION}" -o /out/app .`) || strings.Contains(build.Runs[0], "comment") {
		t.Errorf("runs %q", build.Runs)
	}
	if test.Env["GOFLAGS"] != "-mod=readonly" || test.Labels["extra"] != "from test" {
		t.Errorf("a stage FROM another does not start with its config: %+v", test)
	}
	if final.Base != "scratch" || final.Name != "" {
		t.Errorf("final %q %q", final.Base, final.Name)
	}
	if want := []Copy{{From: "build", Chmod: "0755", Src: []string{"/out/app"}, Dst: "/app"}}; !reflect.DeepEqual(final.Copies, want) {
		t.Errorf("copies %+v", final.Copies)
	}
	if want := map[string]string{"PATH": "/bin", "HOME": "/root dir", "EMPTY": ""}; !reflect.DeepEqual(final.Env, want) {
		t.Errorf("env %q, want %q", final.Env, want)
	}
	if want := map[string]string{"a.b": `with "quotes" and spaces`, "plain": "x", "v": "v1.2.3", "w": "fallback"}; !reflect.DeepEqual(final.Labels, want) {
		t.Errorf("labels %q, want %q", final.Labels, want)
	}
	if !reflect.DeepEqual(final.Entrypoint, []string{"/app", "--flag"}) || !reflect.DeepEqual(final.Cmd, []string{"serve"}) || final.User != "root" {
		t.Errorf("entrypoint %q cmd %q user %q", final.Entrypoint, final.Cmd, final.User)
	}
}

func TestParseDockerfileShellForms(t *testing.T) {
	stages, err := parseDockerfile(strings.NewReader("FROM busybox\nENTRYPOINT /app --flag\nCMD echo hi\nENV K V W\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	s := stages[0]
	if s.Entrypoint != nil || s.ShellEntrypoint != "/app --flag" {
		t.Errorf("entrypoint %q shell %q", s.Entrypoint, s.ShellEntrypoint)
	}
	if !reflect.DeepEqual(s.Cmd, []string{"/bin/sh", "-c", "echo hi"}) || s.Env["K"] != "V W" {
		t.Errorf("cmd %q env %v", s.Cmd, s.Env)
	}
}

func TestParseDockerfileErrors(t *testing.T) {
	for _, c := range []struct {
		src, want string
	}{
		{"RUN true\n", "before the first FROM"},
		{"FROM a AS\n", "want FROM"},
		{"FROM a\nENTRYPOINT [\"/app\"\n", "exec form is not a JSON list"},
		{"FROM a\nLABEL novalue\n", "is not KEY=VALUE"},
		{"FROM a\nCOPY onlyone\n", "needs a source and a destination"},
		{"FROM a\nFETCH x\n", "unknown instruction"},
		{"FROM a\nRUN a \\\n", "ends inside a continued instruction"},
		{"# only a comment\n", "no FROM"},
	} {
		if _, err := parseDockerfile(strings.NewReader(c.src), nil); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: err %v, want %q", c.src, err, c.want)
		}
	}
}
