package heroku

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/ferry-dev/ferry/pkg/address"
	"github.com/ferry-dev/ferry/pkg/image"
	"github.com/ferry-dev/ferry/pkg/promote"
)

// Source is the image a Heroku app's process types run now.
type Source struct {
	c    *Client
	addr address.Address
}

// NewSource returns the source heroku:APP/PROCESS names. Several process
// types must all run the same image.
func NewSource(c *Client, a address.Address) promote.Source {
	return &Source{c: c, addr: a}
}

// String is the address.
func (s *Source) String() string { return addrString(s.addr) }

func addrString(a address.Address) string {
	procs := a.Processes
	if len(procs) == 0 {
		procs = []string{address.DefaultProcess}
	}
	return "heroku:" + a.App + "/" + strings.Join(procs, ",")
}

func processes(a address.Address) []string {
	if len(a.Processes) == 0 {
		return []string{address.DefaultProcess}
	}
	return a.Processes
}

// Resolve finds the image the app's current release runs for the process
// type, and pins it to the manifest digest of APP/PROCESS:latest in the
// Heroku registry after checking that this is the same image: the release
// history only shows 12 hex digits of the image id, and the registry's
// latest tag may hold an image that was pushed but never released.
func (s *Source) Resolve(ctx context.Context) (image.Image, error) {
	a := s.addr
	if a.App == "" {
		return image.Image{}, promote.Input(errors.New("heroku source: no app"))
	}
	if _, err := s.c.containerApp(ctx, a.App); err != nil {
		return image.Image{}, fmt.Errorf("resolving %s: %w", s, err)
	}
	cur, recent, _, err := s.c.current(ctx, a.App)
	if err != nil {
		return image.Image{}, fmt.Errorf("resolving %s: %w", s, err)
	}
	procs := processes(a)
	running, err := s.c.runningImages(ctx, a.App, cur, procs, recent)
	if err != nil {
		return image.Image{}, promote.Input(fmt.Errorf("resolving %s: %w", s, err))
	}
	var out image.Image
	for i, p := range procs {
		manifest, config, err := s.c.latest(ctx, a.App, p)
		if err != nil {
			return image.Image{}, fmt.Errorf("resolving %s: %w", s, err)
		}
		if !sameImage(running[p], config.String()) {
			return image.Image{}, promote.Input(fmt.Errorf(
				"resolving %s: release v%d runs image %s for %s, but %s:latest is image %s (pushed and not released?): release it, or promote from an image reference instead",
				s, cur.Version, running[p], p, s.c.repo(a.App, p), shortID(config.String())))
		}
		img := image.Image{Repository: s.c.repo(a.App, p), Digest: manifest, Tag: "latest"}
		if i == 0 {
			out = img
			continue
		}
		if running[p] != running[procs[0]] {
			return image.Image{}, promote.Input(fmt.Errorf("resolving %s: %s runs image %s but %s runs %s; name one process type", s, procs[0], running[procs[0]], p, running[p]))
		}
	}
	s.c.logf("", "%s runs image %s in release v%d: %s", s, running[procs[0]], cur.Version, out.Ref())
	return out, nil
}
