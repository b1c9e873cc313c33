// Command pin makes a release's GitHub Action and CircleCI orb run the
// release's images by digest and install the release's own binary, or
// checks that they do.
//
//	go run ./hack/release/pin \
//	    -action-image ghcr.io/ferry-dev/ferry:v1.2.3@sha256:… \
//	    -shell-image ghcr.io/ferry-dev/ferry:v1.2.3-shell@sha256:…
//	go run ./hack/release/pin -check
//
// The first form rewrites the `image:` line of action.yml's runs to
// docker://ACTION_IMAGE, the executor's `- image:` line under
// orb/src/executors to SHELL_IMAGE, and the `INSTALL_VERSION:` line of the
// orb's install command under orb/src/commands to the images' tag (v1.2.3),
// changing nothing else in any of the files, then checks the result.
// -check reads action.yml and the packed orb and fails unless every image
// they name is REPOSITORY:TAG@sha256:<digest>, the two images are one
// release's (TAG and TAG-shell of one repository), the orb's executor
// takes no parameter that could name another image, and the orb's install
// command installs exactly TAG, with no parameter that could name another
// release.
//
// The release workflow runs the first form on the tagged commit and
// commits the result; main keeps naming the moving major tag.
//
// Exit codes: 0 done, 1 the files do not pin the images, 2 bad arguments.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/ferry-dev/ferry/internal/frontends"
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

// usageError is bad input: exit 2.
type usageError struct{ error }

func run(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("pin", flag.ContinueOnError)
	fs.SetOutput(stderr)
	action := fs.String("action", "action.yml", "the GitHub Action's metadata file")
	orb := fs.String("orb", "orb/src", "the orb's source folder (holding @orb.yml)")
	actionImage := fs.String("action-image", "", "the action's image: REPOSITORY:vX.Y.Z@sha256:…")
	shellImage := fs.String("shell-image", "", "the orb executor's image: REPOSITORY:vX.Y.Z-shell@sha256:…")
	check := fs.Bool("check", false, "only check that both files name one release's images by digest")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	err := func() error {
		if fs.NArg() > 0 {
			return usageError{fmt.Errorf("unexpected argument %q", fs.Arg(0))}
		}
		if *check {
			if *actionImage != "" || *shellImage != "" {
				return usageError{errors.New("-check takes no -action-image or -shell-image: it reads the files")}
			}
			return checkFiles(*action, *orb)
		}
		if *actionImage == "" || *shellImage == "" {
			return usageError{errors.New("give -action-image and -shell-image (or -check)")}
		}
		if err := checkPair(*actionImage, *shellImage); err != nil {
			return usageError{err}
		}
		if err := rewrite(*action, actionLineRe, frontends.ActionImagePrefix+*actionImage); err != nil {
			return err
		}
		executor, err := orbFile(*orb, "executors", executorLineRe, "name an image")
		if err != nil {
			return err
		}
		install, err := orbFile(*orb, "commands", installLineRe, "name a release to install")
		if err != nil {
			return err
		}
		if err := rewrite(executor, executorLineRe, *shellImage); err != nil {
			return err
		}
		if err := rewrite(install, installLineRe, releaseOf(*actionImage)); err != nil {
			return err
		}
		if err := checkFiles(*action, *orb); err != nil {
			return fmt.Errorf("after rewriting: %w", err)
		}
		fmt.Fprintf(stdout, "pinned %s to %s\npinned %s to %s\npinned %s to install ferry %s\n",
			*action, *actionImage, executor, *shellImage, install, releaseOf(*actionImage))
		return nil
	}()
	var ue usageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "pin: %v\n", err)
		return 2
	default:
		fmt.Fprintf(stderr, "pin: %v\n", err)
		return 1
	}
}

// checkPair checks that both images are pinned and are one release's:
// one repository, tags TAG and TAG-shell.
func checkPair(action, shell string) error {
	if err := frontends.CheckPinned(action); err != nil {
		return fmt.Errorf("-action-image: %w", err)
	}
	if err := frontends.CheckPinned(shell); err != nil {
		return fmt.Errorf("-shell-image: %w", err)
	}
	a, _, _ := strings.Cut(action, "@")
	s, _, _ := strings.Cut(shell, "@")
	if s != a+"-shell" {
		return fmt.Errorf("the images are not one release's: the shell image must be %s-shell@…, not %s@…", a, s)
	}
	if strings.HasSuffix(action, strings.TrimPrefix(shell, s)) {
		return errors.New("the action and shell images have the same digest; they are built on different bases")
	}
	return nil
}

func checkFiles(actionFile, orbDir string) error {
	a, err := frontends.LoadAction(actionFile)
	if err != nil {
		return err
	}
	actionImage, err := a.PinnedImage()
	if err != nil {
		return fmt.Errorf("%s: %w", actionFile, err)
	}
	o, err := frontends.PackOrb(orbDir)
	if err != nil {
		return err
	}
	if err := o.CheckPinnedImages(); err != nil {
		return fmt.Errorf("orb %s: %w", orbDir, err)
	}
	for name, ex := range o.Section("executors") {
		if m, _ := ex.(map[string]any); m != nil {
			for _, p := range frontends.Params(m) {
				if p.Name == "tag" || p.Name == "image" || p.Name == "version" {
					return fmt.Errorf("orb %s: executor %s takes a %q parameter; a release's executor runs only its own image", orbDir, name, p.Name)
				}
			}
		}
	}
	for _, u := range o.Images() {
		if err := checkPair(actionImage, u.Image); err != nil {
			return fmt.Errorf("%s and orb %s (%s): %w", actionFile, orbDir, u.At, err)
		}
	}
	if err := o.CheckInstalls(releaseOf(actionImage)); err != nil {
		return fmt.Errorf("orb %s: %w", orbDir, err)
	}
	return nil
}

// releaseOf is the release a pinned image belongs to: its tag (v1.2.3 of
// REPOSITORY:v1.2.3@sha256:…).
func releaseOf(image string) string {
	base, _, _ := strings.Cut(image, "@")
	return base[strings.LastIndex(base, ":")+1:]
}

var (
	// actionLineRe is runs.image in action.yml: two spaces of indentation.
	actionLineRe = regexp.MustCompile(`(?m)^(  image: )(\S+)[ \t]*$`)
	// executorLineRe is a docker image of an executor.
	executorLineRe = regexp.MustCompile(`(?m)^(\s*- image: )(\S+)[ \t]*$`)
	// installLineRe is the release the install command downloads.
	installLineRe = regexp.MustCompile(`(?m)^(\s*` + frontends.InstallVersionVar + `: )(\S+)[ \t]*$`)
)

// rewrite replaces the value of the one line of file that re matches.
func rewrite(file string, re *regexp.Regexp, value string) error {
	b, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	if n := len(re.FindAllIndex(b, -1)); n != 1 {
		return fmt.Errorf("%s: %d lines name an image, want exactly one", file, n)
	}
	out := re.ReplaceAllFunc(b, func(line []byte) []byte {
		m := re.FindSubmatch(line)
		return append(append([]byte(nil), m[1]...), value...)
	})
	return os.WriteFile(file, out, 0o644)
}

// orbFile is the one file of the orb source's folder (executors,
// commands) with a line that re matches.
func orbFile(orbDir, folder string, re *regexp.Regexp, what string) (string, error) {
	files, err := filepath.Glob(filepath.Join(orbDir, folder, "*.y*ml"))
	if err != nil {
		return "", err
	}
	var found []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return "", err
		}
		if re.Match(b) {
			found = append(found, f)
		}
	}
	if len(found) != 1 {
		return "", fmt.Errorf("orb %s: %d %s files %s (%s), want exactly one", orbDir, len(found), strings.TrimSuffix(folder, "s"), what, strings.Join(found, ", "))
	}
	return found[0], nil
}
