package check

import (
	"archive/tar"
	"archive/zip"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/ferry-dev/ferry/internal/frontends"
	"github.com/ferry-dev/ferry/internal/testenv/images"
)

// The release's platforms: goreleaser's binaries and ko's images.
var (
	binaryTargets = []string{"darwin_amd64", "darwin_arm64", "linux_amd64", "linux_arm64", "windows_amd64", "windows_arm64"}
	imageVersion  = "v0.1.0-check"
)

type artifact struct {
	Name   string `json:"name"`
	Path   string `json:"path"`
	Goos   string `json:"goos"`
	Goarch string `json:"goarch"`
	Type   string `json:"type"`
}

// TestRelease proves the release path end to end; see the package doc.
func TestRelease(t *testing.T) {
	r := newRelease(t)
	t.Run("goreleaser", r.goreleaserSnapshot)
	if t.Failed() {
		t.FailNow()
	}
	t.Run("checksums signature", r.checksumsSignature)
	r.buildImagesOnce(t)
	t.Run("images", r.images)
	t.Run("image signatures", r.imageSignatures)
	t.Run("pinned action and orb", r.pinnedActionAndOrb)
	t.Run("release notes", releaseNotes)
}

// release is what the steps of TestRelease share: the tools, a throwaway
// key pair, and what earlier steps built.
type release struct {
	goreleaser, ko, cosign, cyclonedx, actionlint string

	signEnv []string // sign.sh with the throwaway key
	pub     string   // its public key
	gomod   map[string]string
	direct  []string
	dist    string

	// From the goreleaser step.
	version, nativeBin string

	// From buildImagesOnce.
	repo, actionBase, shellBase string
	imagesEnv                   []string
	imagesOut                   string
	actionRef, shellRef         string
}

func newRelease(t *testing.T) *release {
	r := &release{
		goreleaser: tool(t, "goreleaser", "GORELEASER"),
		ko:         tool(t, "ko", "KO"),
		cosign:     tool(t, "cosign", "COSIGN"),
		cyclonedx:  tool(t, "cyclonedx-gomod", "CYCLONEDX_GOMOD"),
		actionlint: os.Getenv("ACTIONLINT"),
		dist:       filepath.Join(root, "dist"),
	}
	if r.actionlint == "" {
		t.Fatal("ACTIONLINT is not set: run `make release-check`, which builds the pinned actionlint and sets it")
	}
	// A throwaway key pair, in place of the workflow's keyless identity.
	keys := t.TempDir()
	r.signEnv = []string{"COSIGN_PASSWORD=", "COSIGN=" + r.cosign, "RELEASE_SIGNING_KEY=" + filepath.Join(keys, "cosign.key")}
	mustRun(t, keys, []string{"COSIGN_PASSWORD="}, r.cosign, "generate-key-pair")
	r.pub = filepath.Join(keys, "cosign.pub")
	r.gomod, r.direct = goModRequires(t)
	return r
}

// goreleaserSnapshot: goreleaser check, a snapshot release, and every
// artifact it made.
func (r *release) goreleaserSnapshot(t *testing.T) {
	out := runCmd(t, root, nil, r.goreleaser, "check")
	if out.code != 0 {
		t.Fatalf("goreleaser check: exit %d\n%s%s", out.code, out.stdout, out.stderr)
	}
	mustRun(t, root, append(r.signEnv, pathWith(r.cyclonedx, r.cosign)), r.goreleaser, "release", "--snapshot", "--clean")

	var meta struct{ Version string }
	readJSON(t, filepath.Join(r.dist, "metadata.json"), &meta)
	r.version = meta.Version
	if !strings.HasSuffix(r.version, "-snapshot") {
		t.Fatalf("the snapshot's version is %q", r.version)
	}
	var arts []artifact
	readJSON(t, filepath.Join(r.dist, "artifacts.json"), &arts)
	byType := map[string][]artifact{}
	for _, a := range arts {
		byType[a.Type] = append(byType[a.Type], a)
	}
	for typ, want := range map[string]int{"Binary": len(binaryTargets), "Archive": len(binaryTargets), "SBOM": len(binaryTargets), "Checksum": 1, "Signature": 1} {
		if got := len(byType[typ]); got != want {
			t.Errorf("%d artifacts of type %s, want %d: %v", got, typ, want, byType[typ])
		}
	}
	var targets []string
	for _, a := range byType["Binary"] {
		targets = append(targets, a.Goos+"_"+a.Goarch)
	}
	sort.Strings(targets)
	if strings.Join(targets, " ") != strings.Join(binaryTargets, " ") {
		t.Errorf("binaries for %v, want %v", targets, binaryTargets)
	}

	checkChecksums(t, r.dist, append(byType["Archive"], byType["SBOM"]...))
	for _, a := range byType["Archive"] {
		checkArchive(t, filepath.Join(root, a.Path), a.Goos)
	}
	for _, a := range byType["Binary"] {
		r.checkBinary(t, a)
	}
}

// checkBinary holds a binary's SBOM to go.mod, and runs the one for this
// machine.
func (r *release) checkBinary(t *testing.T, a artifact) {
	t.Helper()
	bin := filepath.Join(root, a.Path)
	linked := linkedModules(t, bin)
	doc, err := os.ReadFile(filepath.Join(r.dist, "ferry_"+r.version+"_"+a.Goos+"_"+a.Goarch+".cdx.json"))
	if err != nil {
		t.Fatalf("no SBOM for %s/%s: %v", a.Goos, a.Goarch, err)
	}
	checkSBOM(t, "the SBOM of "+a.Name+" "+a.Goos+"/"+a.Goarch, doc, linked, r.gomod, r.direct)
	if a.Goos != "linux" || a.Goarch != runtime.GOARCH {
		return
	}
	r.nativeBin = bin
	b, _ := os.ReadFile(bin)
	if _, static := elfMachine(t, b); !static {
		t.Errorf("%s is not static", a.Path)
	}
	if out := mustRun(t, root, nil, bin, "version"); !strings.HasPrefix(out, "ferry v"+r.version+" ") {
		t.Errorf("ferry version prints %q, want ferry v%s …", out, r.version)
	}
}

// checksumsSignature: cosign verify-blob accepts goreleaser's signed
// checksums.txt and refuses it altered.
func (r *release) checksumsSignature(t *testing.T) {
	sums, bundle := filepath.Join(r.dist, "checksums.txt"), filepath.Join(r.dist, "checksums.txt.sigstore.json")
	verify := func(file string) cmdResult {
		return runCmd(t, root, nil, r.cosign, "verify-blob", "--key", r.pub, "--bundle", bundle, "--insecure-ignore-tlog=true", file)
	}
	if res := verify(sums); res.code != 0 {
		t.Fatalf("cosign verify-blob refuses goreleaser's checksums.txt: exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}
	b, _ := os.ReadFile(sums)
	tampered := filepath.Join(t.TempDir(), "checksums.txt")
	altered := append([]byte(nil), b...)
	altered[0] ^= 1 // one bit of the first archive's checksum
	if err := os.WriteFile(tampered, altered, 0o644); err != nil {
		t.Fatal(err)
	}
	if res := verify(tampered); res.code == 0 {
		t.Fatalf("cosign verify-blob accepts an altered checksums.txt")
	}
}

// buildImagesOnce starts a registry on loopback, pushes stand-in bases to
// it, and builds the images into it.
func (r *release) buildImagesOnce(t *testing.T) {
	host := startRegistry(t)
	r.repo = host + "/ferry-dev/ferry"
	ca, err := os.ReadFile("/etc/ssl/certs/ca-certificates.crt")
	if err != nil {
		t.Fatalf("a CA bundle for the stand-in base: %v", err)
	}
	r.actionBase = pushBase(t, host+"/distroless/static-debian12:latest", []file{
		{"/etc/ssl/certs/ca-certificates.crt", 0o644, ca},
		{"/etc/passwd", 0o644, []byte("root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n")},
	}, []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"})
	r.shellBase = pushBase(t, host+"/library/alpine:3.23", []file{
		{"/bin/sh", 0o755, []byte("#!stand-in for busybox sh\n")},
		{"/etc/ssl/certs/ca-certificates.crt", 0o644, ca},
	}, []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"})
	r.imagesEnv = []string{"KO=" + r.ko, "KO_DOCKER_REPO=" + r.repo, "ACTION_BASE_IMAGE=" + r.actionBase, "SHELL_BASE_IMAGE=" + r.shellBase}
	r.imagesOut = filepath.Join(r.dist, "images")
	r.actionRef, r.shellRef = r.buildImages(t, r.imagesOut)
}

// buildImages runs images.sh into out and returns the two images it
// pushed.
func (r *release) buildImages(t *testing.T, out string) (action, shell string) {
	t.Helper()
	mustRun(t, root, append(r.imagesEnv, "OUT="+out), filepath.Join(root, "hack/release/images.sh"), imageVersion, "v0")
	return readRef(t, filepath.Join(out, "action.ref")), readRef(t, filepath.Join(out, "shell.ref"))
}

// imageCase is one of the two images the release builds.
type imageCase struct {
	ref, tag, base string
	shell          bool
}

// images: the same commit gives the same images, each as it should be;
// ko's SBOMs hold the binary to go.mod.
func (r *release) images(t *testing.T) {
	again, againShell := r.buildImages(t, filepath.Join(t.TempDir(), "again"))
	if again != r.actionRef || againShell != r.shellRef {
		t.Errorf("the same commit gave other images:\n%s\n%s\nthen\n%s\n%s", r.actionRef, r.shellRef, again, againShell)
	}
	for _, c := range []imageCase{
		{r.actionRef, imageVersion, r.actionBase, false},
		{r.shellRef, imageVersion + "-shell", r.shellBase, true},
	} {
		t.Run(c.tag, func(t *testing.T) { r.checkImage(t, c) })
	}
	// ko's SBOMs (SPDX, one per platform) hold the image's binary to
	// go.mod too.
	linked := linkedModules(t, r.nativeBin)
	docs, _ := filepath.Glob(filepath.Join(r.imagesOut, "sbom", "action", "*linux*"+runtime.GOARCH+"*.json"))
	if len(docs) != 1 {
		t.Fatalf("ko wrote %v, want one SPDX document for linux/%s", docs, runtime.GOARCH)
	}
	doc, _ := os.ReadFile(docs[0])
	checkSBOM(t, "ko's SBOM "+filepath.Base(docs[0]), doc, linked, r.gomod, r.direct)
}

// checkImage checks one image: pinned and tagged, and each platform's.
func (r *release) checkImage(t *testing.T, c imageCase) {
	if err := frontends.CheckPinned(c.ref); err != nil || !strings.HasPrefix(c.ref, r.repo+":"+c.tag+"@") {
		t.Fatalf("images.sh reported %s (%v), want %s:%s@sha256:…", c.ref, err, r.repo, c.tag)
	}
	img := readReleased(t, c.ref)
	for _, tag := range []string{c.tag, strings.Replace(c.tag, imageVersion, "v0", 1)} {
		d, err := remote.Head(mustTag(t, r.repo+":"+tag))
		if err != nil || d.Digest != img.digest {
			t.Errorf("%s:%s names %v (%v), want %s", r.repo, tag, d, err, img.digest)
		}
	}
	baseIdx := readReleased(t, c.base)
	for _, p := range releasePlatforms {
		checkPlatformImage(t, c, img.platformImage(t, p), baseIdx.platformImage(t, p), p)
	}
}

// checkPlatformImage checks one platform's image: root, labels, built on
// the base, a static binary of the platform as entry point, a CA bundle, a
// shell only in the shell image, and, for this machine's platform, that
// its entry point runs.
func checkPlatformImage(t *testing.T, c imageCase, pi, base v1.Image, p v1.Platform) {
	t.Helper()
	cf, err := pi.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cf.Config.User != "" && cf.Config.User != "0" && cf.Config.User != "root" {
		t.Errorf("%s: runs as %q; a docker action needs root", p, cf.Config.User)
	}
	for k, want := range map[string]string{"org.opencontainers.image.version": imageVersion, "org.opencontainers.image.source": "https://github.com/ferry-dev/ferry", "org.opencontainers.image.licenses": "Apache-2.0"} {
		if cf.Config.Labels[k] != want {
			t.Errorf("%s: label %s=%q, want %q", p, k, cf.Config.Labels[k], want)
		}
	}
	checkBaseLayers(t, p, base, pi)
	fs := flatten(t, pi)
	e, at, err := fs.resolve(cf.Config.Entrypoint[0])
	if err != nil {
		t.Fatal(err)
	}
	if m, static := elfMachine(t, e.data); m != goarchMachine[p.Architecture] || !static {
		t.Errorf("%s: the entry point %s is a %s binary (static %v)", p, at, m, static)
	}
	if _, ok := fs["/etc/ssl/certs/ca-certificates.crt"]; !ok {
		t.Errorf("%s: no CA bundle", p)
	}
	if _, ok := fs["/bin/sh"]; ok != c.shell {
		t.Errorf("%s: /bin/sh present %v, want %v", p, ok, c.shell)
	}
	if p.Architecture != runtime.GOARCH {
		return
	}
	out, at := runEntrypoint(t, pi, "version")
	if want := "ferry " + imageVersion + " "; !strings.HasPrefix(out, want) {
		t.Errorf("%s's entry point %s prints %q, want %q…", c.ref, at, out, want)
	}
	if cf.Config.Env == nil || !strings.Contains(strings.Join(cf.Config.Env, " "), "/ko-app") {
		t.Errorf("%s: ferry's folder is not on the PATH (%q): the orb's script finds it there", p, cf.Config.Env)
	}
}

// checkBaseLayers: an image built on the pinned base has the base's layers
// first.
func checkBaseLayers(t *testing.T, p v1.Platform, base, img v1.Image) {
	t.Helper()
	bl, _ := base.Layers()
	il, _ := img.Layers()
	for i := range bl {
		a, _ := bl[i].Digest()
		b, _ := il[i].Digest()
		if a != b {
			t.Errorf("%s: layer %d is %s, the base's is %s", p, i, b, a)
		}
	}
}

// imageSignatures: both images signed and verified, their SBOMs attested,
// and cosign refusing a replaced image and another key's signature.
func (r *release) imageSignatures(t *testing.T) {
	for _, ref := range []string{r.actionRef, r.shellRef} {
		byDigest := r.repo + "@" + strings.SplitN(ref, "@", 2)[1]
		mustRun(t, root, r.signEnv, filepath.Join(root, "hack/release/sign.sh"), "image", byDigest)
		res := runCmd(t, root, nil, r.cosign, "verify", "--key", r.pub, "--insecure-ignore-tlog=true", byDigest)
		if res.code != 0 || !strings.Contains(res.stdout, strings.SplitN(ref, "@", 2)[1]) {
			t.Fatalf("cosign verify %s: exit %d\n%s%s", byDigest, res.code, res.stdout, res.stderr)
		}
	}
	r.sbomAttestations(t)
	r.refusals(t)
}

// sbomAttestations: ko's SBOMs, attested to the images they describe, the
// index and this machine's platform image.
func (r *release) sbomAttestations(t *testing.T) {
	t.Helper()
	for _, kind := range []string{"action", "shell"} {
		mustRun(t, root, r.signEnv, filepath.Join(root, "hack/release/sign.sh"), "sboms", r.repo, filepath.Join(r.imagesOut, "sbom", kind))
	}
	for _, ref := range []string{r.actionRef, r.shellRef} {
		byDigest := r.repo + "@" + strings.SplitN(ref, "@", 2)[1]
		res := runCmd(t, root, nil, r.cosign, "verify-attestation", "--key", r.pub, "--type", "spdxjson", "--insecure-ignore-tlog=true", byDigest)
		if res.code != 0 || !strings.Contains(res.stdout, "payload") {
			t.Errorf("cosign verify-attestation --type spdxjson %s: exit %d\n%s%s", byDigest, res.code, tail(res.stdout), res.stderr)
		}
		img := readReleased(t, ref).platformImage(t, nativePlatform())
		d, err := img.Digest()
		if err != nil {
			t.Fatal(err)
		}
		if res := runCmd(t, root, nil, r.cosign, "verify-attestation", "--key", r.pub, "--type", "spdxjson", "--insecure-ignore-tlog=true", r.repo+"@"+d.String()); res.code != 0 {
			t.Errorf("the %s image of %s has no SBOM attestation: exit %d\n%s", nativePlatform(), ref, res.code, res.stderr)
		}
	}
}

// refusals: cosign refuses an image pushed over the signed tag, and one
// signed with another key.
func (r *release) refusals(t *testing.T) {
	t.Helper()
	// Someone pushes another image over the signed tag.
	tag := r.repo + ":" + imageVersion
	img := readReleased(t, r.actionRef).platformImage(t, nativePlatform())
	other, err := mutate.Config(img, mustConfig(t, img, "tampered"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := images.Push(t.Context(), tag, other); err != nil {
		t.Fatal(err)
	}
	if res := runCmd(t, root, nil, r.cosign, "verify", "--key", r.pub, "--insecure-ignore-tlog=true", tag); res.code == 0 {
		t.Errorf("cosign verify accepts %s after another image was pushed over it", tag)
	}
	// An image signed, but with another key.
	stranger := t.TempDir()
	mustRun(t, stranger, []string{"COSIGN_PASSWORD="}, r.cosign, "generate-key-pair")
	d, err := images.Push(t.Context(), r.repo+":stranger", other)
	if err != nil {
		t.Fatal(err)
	}
	strangerEnv := []string{"COSIGN_PASSWORD=", "COSIGN=" + r.cosign, "RELEASE_SIGNING_KEY=" + filepath.Join(stranger, "cosign.key")}
	mustRun(t, root, strangerEnv, filepath.Join(root, "hack/release/sign.sh"), "image", r.repo+"@"+d.String())
	if res := runCmd(t, root, nil, r.cosign, "verify", "--key", r.pub, "--insecure-ignore-tlog=true", r.repo+"@"+d.String()); res.code == 0 {
		t.Errorf("cosign verify with ferry's key accepts an image signed with another key")
	}
}

// pinnedActionAndOrb: pin rewrites copies of action.yml and the orb to the
// images (and the release's version), -check agrees, actionlint takes the
// pinned action, and CircleCI's parser the pinned orb.
func (r *release) pinnedActionAndOrb(t *testing.T) {
	dir := t.TempDir()
	copyTree(t, filepath.Join(root, "orb", "src"), filepath.Join(dir, "orb", "src"))
	copyTree(t, filepath.Join(root, "action.yml"), filepath.Join(dir, "action.yml"))
	pin := []string{"run", "./hack/release/pin", "-action", filepath.Join(dir, "action.yml"), "-orb", filepath.Join(dir, "orb", "src")}
	mustRun(t, root, nil, "go", append(pin, "-action-image", r.actionRef, "-shell-image", r.shellRef)...)
	mustRun(t, root, nil, "go", append(pin, "-check")...)

	a, err := frontends.LoadAction(filepath.Join(dir, "action.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if img, err := a.PinnedImage(); err != nil || img != r.actionRef {
		t.Fatalf("the pinned action runs %q (%v), want %s", img, err, r.actionRef)
	}
	r.lintPinnedAction(t, dir, a)

	o, err := frontends.PackOrb(filepath.Join(dir, "orb", "src"))
	if err != nil {
		t.Fatal(err)
	}
	if err := o.Validate(); err != nil {
		t.Errorf("the pinned orb: %v", err)
	}
	if err := frontends.CheckWithCircleCI(t.Context(), root, o); err != nil {
		t.Errorf("CircleCI's parser on the pinned orb: %v", err)
	}
	if uses := o.Images(); len(uses) != 1 || uses[0].Image != r.shellRef {
		t.Errorf("the pinned orb names %v, want %s only", uses, r.shellRef)
	}
	// Its install command downloads the release's own binaries.
	if uses := o.InstallVersions(); len(uses) != 1 || uses[0].Version != imageVersion {
		t.Errorf("the pinned orb installs %v, want %s only", uses, imageVersion)
	}
}

// lintPinnedAction: actionlint reads a local action's metadata when a
// workflow uses it: the pinned action.yml, used with every input it
// declares, passes, and an input it lacks fails.
func (r *release) lintPinnedAction(t *testing.T, dir string, a frontends.Action) {
	t.Helper()
	var with []string
	for _, in := range a.InputNames() {
		with = append(with, "          "+in+": x")
	}
	wf := "name: use\non: push\npermissions: {}\njobs:\n  ferry:\n    runs-on: ubuntu-24.04\n    steps:\n      - uses: ./\n        with:\n" + strings.Join(with, "\n") + "\n"
	writeFile(t, filepath.Join(dir, ".github", "workflows", "use.yml"), wf)
	mustRun(t, dir, nil, "git", "init", "--quiet") // actionlint looks for the repository's root
	if out := mustRun(t, dir, nil, r.actionlint, "-no-color"); out != "" {
		t.Errorf("actionlint: %s", out)
	}
	// actionlint is not a rubber stamp: an input the action lacks fails.
	writeFile(t, filepath.Join(dir, ".github", "workflows", "use.yml"), wf+"          not-an-input: x\n")
	if res := runCmd(t, dir, nil, r.actionlint, "-no-color"); res.code == 0 || !strings.Contains(res.stdout, "not-an-input") {
		t.Errorf("actionlint accepts an input the pinned action does not declare: exit %d\n%s", res.code, res.stdout)
	}
}

// releaseNotes: notes.sh gives the newest CHANGELOG version's section, and
// nothing for a version the CHANGELOG lacks.
func releaseNotes(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(root, "CHANGELOG.md"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^## \[(\d+\.\d+\.\d+[^\]]*)\]`).FindSubmatch(b)
	if m == nil {
		t.Fatal("CHANGELOG.md has no released version")
	}
	notes := mustRun(t, root, nil, filepath.Join(root, "hack/release/notes.sh"), "v"+string(m[1]))
	if !strings.Contains(notes, "### ") || strings.Contains(notes, "## [") {
		t.Errorf("notes for %s:\n%s", m[1], notes)
	}
	if res := runCmd(t, root, nil, filepath.Join(root, "hack/release/notes.sh"), "v999.0.0"); res.code == 0 {
		t.Errorf("notes.sh gives notes for a version the CHANGELOG lacks")
	}
}

func startRegistry(t *testing.T) string {
	t.Helper()
	host, stop, err := images.StartRegistry()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return host
}

func readJSON(t *testing.T, file string, v any) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
}

func readRef(t *testing.T, file string) string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func mustTag(t *testing.T, s string) name.Tag {
	t.Helper()
	tag, err := name.NewTag(s)
	if err != nil {
		t.Fatal(err)
	}
	return tag
}

func mustConfig(t *testing.T, img v1.Image, label string) v1.Config {
	t.Helper()
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	c := *cf.Config.DeepCopy()
	c.Labels = map[string]string{"tampered": label}
	return c
}

// checkChecksums checks that checksums.txt names exactly the artifacts,
// with their SHA-256.
func checkChecksums(t *testing.T, dist string, arts []artifact) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dist, "checksums.txt"))
	if err != nil {
		t.Fatal(err)
	}
	sums := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		sum, file, ok := strings.Cut(line, "  ")
		if !ok {
			t.Fatalf("checksums.txt: %q is not SHA256  NAME", line)
		}
		sums[file] = sum
	}
	if len(sums) != len(arts) {
		t.Errorf("checksums.txt names %d files, want the %d archives and SBOMs", len(sums), len(arts))
	}
	for _, a := range arts {
		data, err := os.ReadFile(filepath.Join(root, a.Path))
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.Sum256(data)
		if sums[a.Name] != hex.EncodeToString(h[:]) {
			t.Errorf("checksums.txt: %s is %q, the file's SHA-256 is %x", a.Name, sums[a.Name], h)
		}
	}
}

// checkArchive checks that an archive holds ferry and the documents.
func checkArchive(t *testing.T, file, goos string) {
	t.Helper()
	want := map[string]bool{"ferry": false, "LICENSE": false, "README.md": false, "CHANGELOG.md": false}
	if goos == "windows" {
		delete(want, "ferry")
		want["ferry.exe"] = false
	}
	var names []string
	if strings.HasSuffix(file, ".zip") {
		zr, err := zip.OpenReader(file)
		if err != nil {
			t.Fatal(err)
		}
		defer zr.Close()
		for _, f := range zr.File {
			names = append(names, f.Name)
		}
	} else {
		f, err := os.Open(file)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		gz, err := gzip.NewReader(f)
		if err != nil {
			t.Fatal(err)
		}
		tr := tar.NewReader(gz)
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			names = append(names, h.Name)
		}
	}
	for _, n := range names {
		if _, ok := want[n]; !ok {
			t.Errorf("%s holds %s", filepath.Base(file), n)
		}
		want[n] = true
	}
	for n, found := range want {
		if !found {
			t.Errorf("%s lacks %s", filepath.Base(file), n)
		}
	}
}

func copyTree(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		dst := filepath.Join(to, rel)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		return os.WriteFile(dst, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func writeFile(t *testing.T, file, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
