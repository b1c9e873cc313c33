package frontends

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// fakeRelease is a GitHub release of ferry as the install command sees it:
// files under RELEASES/download/vX.Y.Z (and latest/download), served by a
// stand-in curl.
type fakeRelease struct {
	version string            // v1.2.3
	prints  string            // what its ferry prints for `ferry version`; default "ferry VERSION (test)"
	omit    string            // a platform (linux_arm64) checksums.txt does not name
	tamper  string            // a platform whose archive differs from its checksum
	files   map[string][]byte // name → content, filled by write
}

var fakePlatforms = []string{"darwin_amd64", "darwin_arm64", "linux_amd64", "linux_arm64", "windows_amd64", "windows_arm64"}

// write puts the release's archives and checksums.txt into dir.
func (r *fakeRelease) write(t *testing.T, dir string) {
	t.Helper()
	prints := r.prints
	if prints == "" {
		prints = "ferry " + r.version + " (test)"
	}
	bin := []byte("#!/bin/sh\necho '" + prints + "'\n")
	r.files = map[string][]byte{}
	var sums []string
	for _, p := range fakePlatforms {
		name := "ferry_" + strings.TrimPrefix(r.version, "v") + "_" + p
		var data []byte
		if strings.HasPrefix(p, "windows") {
			name += ".zip"
			data = zipOf(t, map[string][]byte{"ferry.exe": bin, "LICENSE": []byte("license")})
		} else {
			name += ".tar.gz"
			data = tarGzOf(t, map[string][]byte{"ferry": bin, "LICENSE": []byte("license")})
		}
		sum := sha256.Sum256(data)
		if p == r.tamper {
			data = append(data, 0)
		}
		r.files[name] = data
		if p != r.omit {
			sums = append(sums, fmt.Sprintf("%x  %s", sum, name))
		}
	}
	sort.Strings(sums)
	r.files["checksums.txt"] = []byte(strings.Join(sums, "\n") + "\n")
	for name, data := range r.files {
		writeTestFile(t, filepath.Join(dir, name), data, 0o644)
	}
}

func tarGzOf(t *testing.T, files map[string][]byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, name := range sortedKeys(files) {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o755, Size: int64(len(files[name])), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(files[name]); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func zipOf(t *testing.T, files map[string][]byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, name := range sortedKeys(files) {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(files[name]); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func writeTestFile(t *testing.T, file string, data []byte, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, data, mode); err != nil {
		t.Fatal(err)
	}
}

// Stand-ins for curl (serving RELEASES for the project's release URLs and
// logging every URL asked for) and uname (answering FAKE_UNAME_S and
// FAKE_UNAME_M).
const (
	fakeCurl = `#!/bin/sh
out= url=
while [ $# -gt 0 ]; do
  case $1 in
    -o) out=$2; shift ;;
    --proto | --retry) shift ;;
    -*) ;;
    *) url=$1 ;;
  esac
  shift
done
echo "$url" >>"$CURL_LOG"
case $url in
  https://github.com/ferry-dev/ferry/releases/*) file=$RELEASES/${url#https://github.com/ferry-dev/ferry/releases/} ;;
  *) echo "curl: (6) Could not resolve host" >&2; exit 6 ;;
esac
[ -f "$file" ] || { echo "curl: (22) The requested URL returned error: 404" >&2; exit 22; }
cp "$file" "$out"
`
	fakeUname = `#!/bin/sh
case $1 in
  -s) echo "$FAKE_UNAME_S" ;;
  -m) echo "$FAKE_UNAME_M" ;;
  *) exit 1 ;;
esac
`
)

// TestOrbInstall runs the orb's install command, as CircleCI would (with
// bash -eo pipefail, and with sh), against stand-in GitHub releases: it
// downloads the archive of the orb's version for the machine, checks it
// against checksums.txt before unpacking, and puts ferry on the PATH of
// later steps; anything else is exit 2 with nothing installed.
func TestOrbInstall(t *testing.T) {
	o := packed(t)
	steps, err := o.ExpandCommand("install", nil)
	if err != nil {
		t.Fatal(err)
	}
	r, ok := AsRun(steps[0])
	if len(steps) != 1 || !ok {
		t.Fatalf("the install command is not one run step: %v", steps)
	}
	script, err := os.ReadFile(filepath.Join(orbDir, "scripts", "install.sh"))
	if err != nil {
		t.Fatal(err)
	}
	if r.Command != string(script) {
		t.Errorf("the install command does not run scripts/install.sh")
	}
	// main's orb installs the newest release; a release's orb, its own
	// version (hack/release/pin rewrites the line).
	if uses := o.InstallVersions(); len(uses) != 1 || uses[0].Version != "latest" || uses[0].At != "commands.install.steps[0]" {
		t.Errorf("main's orb installs %v, want latest from commands.install.steps[0]", uses)
	}
	if err := o.CheckInstalls("v1.2.3"); err == nil || !strings.Contains(err.Error(), "installs ferry latest, not the release's own version v1.2.3") {
		t.Errorf("CheckInstalls on main's orb: %v", err)
	}
	if r.Environment["PARAM_INSTALL_DIR"] != "/usr/local/bin" {
		t.Errorf("install-dir defaults to %q, want /usr/local/bin", r.Environment["PARAM_INSTALL_DIR"])
	}

	releases := t.TempDir()
	(&fakeRelease{version: "v1.3.0"}).write(t, filepath.Join(releases, "latest", "download"))
	(&fakeRelease{version: "v1.2.3"}).write(t, filepath.Join(releases, "download", "v1.2.3"))
	(&fakeRelease{version: "v1.2.4", tamper: "linux_amd64", omit: "linux_arm64"}).write(t, filepath.Join(releases, "download", "v1.2.4"))
	(&fakeRelease{version: "v1.2.5", prints: "ferry v1.2.2 (test)"}).write(t, filepath.Join(releases, "download", "v1.2.5"))

	for _, sh := range [][]string{{"bash", "-eo", "pipefail", "-c"}, {"sh", "-e", "-c"}} {
		shell, err := exec.LookPath(sh[0])
		if err != nil {
			t.Fatal(err)
		}
		argv := append(append([]string{shell}, sh[1:]...), r.Command)
		t.Run(sh[0], func(t *testing.T) {
			for _, c := range installCases {
				t.Run(c.name, func(t *testing.T) { c.run(t, argv, releases, r.Environment) })
			}
		})
	}
}

type installCase struct {
	name         string
	version      string // INSTALL_VERSION; "" keeps the orb's
	uname        [2]string
	dir          string // install-dir, relative to the case's home; "" is home/bin
	onPath       bool   // the install dir is on the PATH already
	wantURLs     []string
	wantCode     int
	wantOut      string // in the output
	wantExe      string // installed file, relative to the install dir
	wantBashEnv  bool   // the step adds the dir to the PATH through BASH_ENV
	wantPrinted  string // what the installed ferry prints
	wantNotThere bool   // nothing installed
}

const dl = "https://github.com/ferry-dev/ferry/releases/"

var installCases = []installCase{
	{name: "main: the newest release", uname: [2]string{"Linux", "x86_64"},
		wantURLs: []string{dl + "latest/download/checksums.txt", dl + "latest/download/ferry_1.3.0_linux_amd64.tar.gz"},
		wantOut:  "installed", wantExe: "ferry", wantBashEnv: true, wantPrinted: "ferry v1.3.0 (test)"},
	{name: "pinned, macOS on arm64, already on the PATH", version: "v1.2.3", uname: [2]string{"Darwin", "arm64"}, onPath: true,
		wantURLs: []string{dl + "download/v1.2.3/checksums.txt", dl + "download/v1.2.3/ferry_1.2.3_darwin_arm64.tar.gz"},
		wantOut:  "SHA-256", wantExe: "ferry", wantPrinted: "ferry v1.2.3 (test)"},
	{name: "pinned, Linux on aarch64", version: "v1.2.3", uname: [2]string{"Linux", "aarch64"},
		wantURLs: []string{dl + "download/v1.2.3/checksums.txt", dl + "download/v1.2.3/ferry_1.2.3_linux_arm64.tar.gz"},
		wantOut:  "installed", wantExe: "ferry", wantBashEnv: true, wantPrinted: "ferry v1.2.3 (test)"},
	{name: "pinned, Windows (Git Bash)", version: "v1.2.3", uname: [2]string{"MINGW64_NT-10.0-20348", "x86_64"},
		wantURLs: []string{dl + "download/v1.2.3/checksums.txt", dl + "download/v1.2.3/ferry_1.2.3_windows_amd64.zip"},
		wantOut:  "installed", wantExe: "ferry.exe", wantBashEnv: true, wantPrinted: "ferry v1.2.3 (test)"},
	{name: "a folder under ~", version: "v1.2.3", uname: [2]string{"Linux", "x86_64"}, dir: "~/tools",
		wantURLs: []string{dl + "download/v1.2.3/checksums.txt", dl + "download/v1.2.3/ferry_1.2.3_linux_amd64.tar.gz"},
		wantOut:  "installed", wantExe: "ferry", wantBashEnv: true, wantPrinted: "ferry v1.2.3 (test)"},
	{name: "an archive that is not what checksums.txt says", version: "v1.2.4", uname: [2]string{"Linux", "x86_64"},
		wantURLs: []string{dl + "download/v1.2.4/checksums.txt", dl + "download/v1.2.4/ferry_1.2.4_linux_amd64.tar.gz"},
		wantCode: 2, wantOut: "but checksums.txt says", wantNotThere: true},
	{name: "an archive checksums.txt does not name", version: "v1.2.4", uname: [2]string{"Linux", "aarch64"},
		wantURLs: []string{dl + "download/v1.2.4/checksums.txt"},
		wantCode: 2, wantOut: "checksums.txt of v1.2.4 names no ferry_1.2.4_linux_arm64.tar.gz", wantNotThere: true},
	{name: "a binary of another version", version: "v1.2.5", uname: [2]string{"Linux", "x86_64"},
		wantURLs: []string{dl + "download/v1.2.5/checksums.txt", dl + "download/v1.2.5/ferry_1.2.5_linux_amd64.tar.gz"},
		wantCode: 2, wantOut: "says 'ferry v1.2.2 (test)', not ferry v1.2.5", wantNotThere: true},
	{name: "a release that does not exist", version: "v9.9.9", uname: [2]string{"Linux", "x86_64"},
		wantURLs: []string{dl + "download/v9.9.9/checksums.txt"},
		wantCode: 2, wantOut: "could not download " + dl + "download/v9.9.9/checksums.txt", wantNotThere: true},
	{name: "a CPU without a release", version: "v1.2.3", uname: [2]string{"Linux", "riscv64"},
		wantCode: 2, wantOut: "no ferry release for the CPU riscv64", wantNotThere: true},
	{name: "an OS without a release", version: "v1.2.3", uname: [2]string{"FreeBSD", "amd64"},
		wantCode: 2, wantOut: "no ferry release for the OS FreeBSD", wantNotThere: true},
	{name: "not a version", version: "1.2.3; rm -rf /", uname: [2]string{"Linux", "x86_64"},
		wantCode: 2, wantOut: "is not a release (vX.Y.Z)", wantNotThere: true},
	{name: "a folder that cannot be made", version: "v1.2.3", uname: [2]string{"Linux", "x86_64"}, dir: "file/bin",
		wantURLs: []string{dl + "download/v1.2.3/checksums.txt", dl + "download/v1.2.3/ferry_1.2.3_linux_amd64.tar.gz"},
		wantCode: 2, wantOut: "set the install-dir parameter to a folder this user may write to", wantNotThere: true},
}

func (c installCase) run(t *testing.T, argv []string, releases string, stepEnv map[string]string) {
	home := t.TempDir()
	fakes := filepath.Join(home, "fakes")
	writeTestFile(t, filepath.Join(fakes, "curl"), []byte(fakeCurl), 0o755)
	writeTestFile(t, filepath.Join(fakes, "uname"), []byte(fakeUname), 0o755)
	writeTestFile(t, filepath.Join(home, "file"), []byte("a file, not a folder"), 0o644)
	dir := filepath.Join(home, "bin")
	param := dir
	switch {
	case strings.HasPrefix(c.dir, "~/"):
		param, dir = c.dir, filepath.Join(home, strings.TrimPrefix(c.dir, "~/"))
	case c.dir != "":
		param, dir = filepath.Join(home, c.dir), filepath.Join(home, c.dir)
	}
	path := fakes + ":/usr/bin:/bin"
	if c.onPath {
		path = dir + ":" + path
	}
	env := map[string]string{}
	for k, v := range stepEnv {
		env[k] = v
	}
	for k, v := range map[string]string{
		"PATH": path, "HOME": home, "BASH_ENV": filepath.Join(home, "bash_env"), "PARAM_INSTALL_DIR": param,
		"RELEASES": releases, "CURL_LOG": filepath.Join(home, "curl.log"), "FAKE_UNAME_S": c.uname[0], "FAKE_UNAME_M": c.uname[1],
	} {
		env[k] = v
	}
	if c.version != "" {
		env[InstallVersionVar] = c.version
	}
	var environ []string
	for _, k := range sortedKeys(env) {
		environ = append(environ, k+"="+env[k])
	}

	out, code := runShell(t, argv, environ)
	if code != c.wantCode || !strings.Contains(out, c.wantOut) {
		t.Fatalf("exit %d, want %d with %q:\n%s", code, c.wantCode, c.wantOut, out)
	}
	log, _ := os.ReadFile(filepath.Join(home, "curl.log"))
	if got := strings.Fields(string(log)); strings.Join(got, " ") != strings.Join(c.wantURLs, " ") {
		t.Errorf("downloaded %q, want %q", got, c.wantURLs)
	}
	if c.wantNotThere {
		if entries, _ := os.ReadDir(dir); len(entries) > 0 {
			t.Errorf("%s holds %v after a failed install", dir, entries)
		}
	}
	bashEnv, _ := os.ReadFile(env["BASH_ENV"])
	if wantLine := "export PATH=\"" + dir + ":$PATH\"\n"; c.wantBashEnv != (string(bashEnv) == wantLine) {
		t.Errorf("BASH_ENV holds %q; want the install dir added to the PATH: %v", bashEnv, c.wantBashEnv)
	}
	if c.wantExe == "" {
		return
	}
	exe := filepath.Join(dir, c.wantExe)
	fi, err := os.Stat(exe)
	if err != nil || fi.Mode().Perm()&0o111 == 0 {
		t.Fatalf("%s is not an executable file: %v", exe, err)
	}
	if printed, err := exec.Command(exe, "version").Output(); err != nil || strings.TrimSpace(string(printed)) != c.wantPrinted {
		t.Errorf("the installed ferry prints %q (%v), want %q", printed, err, c.wantPrinted)
	}
	if !strings.Contains(out, c.wantPrinted) {
		t.Errorf("the step does not say which ferry it installed:\n%s", out)
	}
}
