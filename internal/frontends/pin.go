package frontends

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

// digestRe is the only digest form a release may name: sha256, 64 lower-case
// hex digits.
var digestRe = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)

// CheckPinned reports whether ref names an image the way a release must:
// REPOSITORY:TAG@sha256:<64 hex>. The digest is what runs; the tag says
// which release it is, for people reading the file.
func CheckPinned(ref string) error {
	base, digest, ok := strings.Cut(ref, "@")
	if !ok {
		return fmt.Errorf("image %q is not pinned: name it as REPOSITORY:TAG@sha256:<digest>", ref)
	}
	if !digestRe.MatchString(digest) {
		return fmt.Errorf("image %q: the digest must be sha256: and 64 lower-case hex digits", ref)
	}
	if strings.Contains(base, "<<") {
		return fmt.Errorf("image %q: a released image cannot depend on a parameter", ref)
	}
	tag, err := name.NewTag(base, name.StrictValidation)
	if err != nil {
		return fmt.Errorf("image %q: name it as REPOSITORY:TAG@sha256:<digest>: %w", ref, err)
	}
	if !strings.HasSuffix(base, ":"+tag.TagStr()) {
		return fmt.Errorf("image %q: name the release's tag before the digest (REPOSITORY:TAG@sha256:<digest>)", ref)
	}
	return nil
}

// ActionImagePrefix is how a docker action names a registry image.
const ActionImagePrefix = "docker://"

// PinnedImage returns the image the action runs, and an error unless the
// action is a docker action that names it by digest.
func (a Action) PinnedImage() (string, error) {
	if a.Runs.Using != "docker" {
		return "", fmt.Errorf("runs.using is %q, want docker", a.Runs.Using)
	}
	ref, ok := strings.CutPrefix(a.Runs.Image, ActionImagePrefix)
	if !ok {
		return "", fmt.Errorf("runs.image %q does not name a registry image (docker://…)", a.Runs.Image)
	}
	if err := CheckPinned(ref); err != nil {
		return "", fmt.Errorf("runs.image: %w", err)
	}
	return ref, nil
}

// ImageUse is one image an orb names: where, and what.
type ImageUse struct {
	At    string // executors.default.docker[0], jobs.x.docker[0]
	Image string
}

// Images lists every image the orb's executors and jobs name, in order.
func (o Orb) Images() []ImageUse {
	var out []ImageUse
	for _, section := range []string{"executors", "jobs"} {
		m := o.Section(section)
		for _, el := range sortedKeys(m) {
			e, _ := m[el].(map[string]any)
			list, _ := e["docker"].([]any)
			for i, d := range list {
				dm, _ := d.(map[string]any)
				img, _ := dm["image"].(string)
				out = append(out, ImageUse{At: fmt.Sprintf("%s.%s.docker[%d]", section, el, i), Image: img})
			}
		}
	}
	return out
}

// CheckPinnedImages returns an error for every image of the orb not named
// by digest, and one when the orb names no image at all (a release's orb
// ships an executor that runs the release's image).
func (o Orb) CheckPinnedImages() error {
	uses := o.Images()
	if len(uses) == 0 {
		return errors.New("the orb names no image; its executor must run the release's image")
	}
	var errs []error
	for _, u := range uses {
		if err := CheckPinned(u.Image); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", u.At, err))
		}
	}
	return errors.Join(errs...)
}

// InstallVersionVar is the variable of the orb's install step that names
// the release it downloads: "latest" on main, the release's own version
// (vX.Y.Z) in a release's orb.
const InstallVersionVar = "INSTALL_VERSION"

// InstallUse is one run step of the orb that installs ferry: where, and
// which release.
type InstallUse struct {
	At      string // commands.install.steps[0]
	Version string
}

// InstallVersions lists every run step of the orb's commands and jobs that
// names a release to install (InstallVersionVar), in order.
func (o Orb) InstallVersions() []InstallUse {
	var out []InstallUse
	for _, section := range []string{"commands", "jobs"} {
		m := o.Section(section)
		for _, el := range sortedKeys(m) {
			e, _ := m[el].(map[string]any)
			steps, _ := e["steps"].([]any)
			for i, s := range steps {
				r, ok := AsRun(s)
				if v, set := r.Environment[InstallVersionVar]; ok && set {
					out = append(out, InstallUse{At: fmt.Sprintf("%s.%s.steps[%d]", section, el, i), Version: v})
				}
			}
		}
	}
	return out
}

// CheckInstalls returns an error unless the orb installs only version: one
// step names it, as a literal, in a command that takes no parameter that
// could name another release.
func (o Orb) CheckInstalls(version string) error {
	uses := o.InstallVersions()
	if len(uses) != 1 {
		return fmt.Errorf("%d steps of the orb name a release to install (%s), want the install command's one", len(uses), InstallVersionVar)
	}
	u := uses[0]
	if strings.Contains(u.Version, "<<") {
		return fmt.Errorf("%s: %s is %q: a released orb cannot install what a parameter names", u.At, InstallVersionVar, u.Version)
	}
	if u.Version != version {
		return fmt.Errorf("%s: installs ferry %s, not the release's own version %s", u.At, u.Version, version)
	}
	section, name, _ := strings.Cut(u.At, ".")
	name, _, _ = strings.Cut(name, ".")
	el, _ := o.Section(section)[name].(map[string]any)
	for _, p := range Params(el) {
		if releaseParams[p.Name] {
			return fmt.Errorf("%s.%s takes a %q parameter; a released orb installs only its own version", section, name, p.Name)
		}
	}
	return nil
}

// releaseParams are parameter names that would let a user choose what is
// installed or run.
var releaseParams = map[string]bool{"version": true, "tag": true, "image": true, "release": true, "url": true, "base-url": true}
