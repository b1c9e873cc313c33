package promote

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/ferry-dev/ferry/pkg/health"
	"github.com/ferry-dev/ferry/pkg/image"
)

var sidecarImg = image.Image{Repository: "ghcr.io/acme/proxy", Digest: v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("b", 64)}}

// containerSource has two containers; resolving the whole source fails
// (it has two, and names none), as a real one would.
type containerSource struct{ resolved []string }

func (*containerSource) String() string { return "k8s:shop/web?context=staging" }
func (*containerSource) Resolve(context.Context) (image.Image, error) {
	return image.Image{}, Input(errors.New("has 2 containers"))
}
func (s *containerSource) ResolveContainers(_ context.Context, names []string) ([]image.Image, error) {
	var out []image.Image
	for _, name := range names {
		s.resolved = append(s.resolved, name)
		switch name {
		case "app":
			out = append(out, img)
		case "sidecar":
			out = append(out, sidecarImg)
		default:
			return nil, Input(fmt.Errorf("has no container %q", name))
		}
	}
	return out, nil
}

// mappedTarget is a fakeTarget with a container mapping.
type mappedTarget struct {
	*fakeTarget
	mapping []ContainerMap
	got     map[string]image.Image
}

func (m *mappedTarget) Mapping() []ContainerMap { return m.mapping }
func (m *mappedTarget) SnapshotMapped(ctx context.Context, imgs map[string]image.Image) (Snapshot, error) {
	m.got = imgs
	return m.Snapshot(ctx, image.Image{})
}

// refuseCheck refuses one image.
type refuseCheck struct {
	bad     string
	checked []string
}

func (c *refuseCheck) Check(_ context.Context, i image.Image) error {
	c.checked = append(c.checked, i.Ref())
	if i.Ref() == c.bad {
		return Input(errors.New("no signature"))
	}
	return nil
}

func TestSourceContainers(t *testing.T) {
	plain := &fakeTarget{name: "a"}
	m1 := &mappedTarget{fakeTarget: &fakeTarget{name: "b"}, mapping: []ContainerMap{{Container: "app", From: "app"}, {Container: "proxy", From: "sidecar"}}}
	m2 := &mappedTarget{fakeTarget: &fakeTarget{name: "c"}, mapping: []ContainerMap{{Container: "migrate", From: "app"}, {Container: "log", From: "logger"}}}
	names, whole := sourceContainers([]Target{m1, WithHealth(m2, health.Check{URL: "http://x"}, nil)})
	if !reflect.DeepEqual(names, []string{"app", "sidecar", "logger"}) || whole {
		t.Errorf("mapped only: %q, %v", names, whole)
	}
	names, whole = sourceContainers([]Target{plain, m1})
	if !reflect.DeepEqual(names, []string{"app", "sidecar"}) || !whole {
		t.Errorf("mixed: %q, %v", names, whole)
	}
	if names, whole = sourceContainers([]Target{plain}); names != nil || !whole {
		t.Errorf("plain: %q, %v", names, whole)
	}
}

func TestRunMapped(t *testing.T) {
	src := &containerSource{}
	m := &mappedTarget{fakeTarget: &fakeTarget{name: "k8s:shop/web?context=prod"}, mapping: []ContainerMap{{Container: "app", From: "app"}, {Container: "proxy", From: "sidecar"}}}
	check := &refuseCheck{}
	r, err := Run(context.Background(), src, []Target{m}, Options{Checks: []SourceCheck{check}})
	if err != nil {
		t.Fatal(err)
	}
	if r.Image != "" || len(r.Images) != 2 || r.Images[1] != (SourceImage{Container: "sidecar", Image: sidecarImg.Ref(), Digest: sidecarImg.Digest.String()}) {
		t.Errorf("report images: %q %+v", r.Image, r.Images)
	}
	if !reflect.DeepEqual(check.checked, []string{img.Ref(), sidecarImg.Ref()}) {
		t.Errorf("checked %q, want both images", check.checked)
	}
	if m.got["app"] != img || m.got["sidecar"] != sidecarImg {
		t.Errorf("the target got %v", m.got)
	}
	want := []ContainerImage{{Container: "app", From: "app", Image: img.Ref()}, {Container: "proxy", From: "sidecar", Image: sidecarImg.Ref()}}
	if tr := r.Targets[0]; tr.Status != StatusPromoted || !reflect.DeepEqual(tr.Containers, want) {
		t.Errorf("target report %+v", tr)
	}
}

func TestRunMappedRefusals(t *testing.T) {
	cases := []struct {
		name    string
		src     Source
		mapping []ContainerMap
		bad     string
		want    string
	}{
		{"a check refuses one image", &containerSource{}, []ContainerMap{{Container: "app", From: "app"}, {Container: "proxy", From: "sidecar"}}, sidecarImg.Ref(), "checking " + sidecarImg.Ref() + ": no signature"},
		{"a source container that is not there", &containerSource{}, []ContainerMap{{Container: "app", From: "app"}, {Container: "proxy", From: "envoy"}}, "", `has no container "envoy"`},
		{"a source without containers", fakeSource{}, []ContainerMap{{Container: "app", From: "app"}}, "", "this source has no containers"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := &mappedTarget{fakeTarget: &fakeTarget{name: "k8s:shop/web?context=prod"}, mapping: c.mapping}
			r, err := Run(context.Background(), c.src, []Target{m}, Options{Checks: []SourceCheck{&refuseCheck{bad: c.bad}}})
			if err == nil || !IsInput(err) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want an input error with %q", err, c.want)
			}
			if r.Outcome != OutcomeBadInput || len(m.calls) != 0 {
				t.Errorf("outcome %s, target calls %q: want bad input before any target is touched", r.Outcome, m.calls)
			}
		})
	}
}

func TestChangeDigests(t *testing.T) {
	for in, want := range map[string][]string{
		img.Ref(): {img.Digest.String()},
		"app=" + img.Ref() + ", proxy=" + sidecarImg.Ref(): {img.Digest.String(), sidecarImg.Digest.String()},
		"": {""},
	} {
		if got := changeDigests(in); !reflect.DeepEqual(got, want) {
			t.Errorf("changeDigests(%q) = %q, want %q", in, got, want)
		}
	}
}

// mappedJournaled is a journaled target with a container mapping.
type mappedJournaled struct {
	*journaled
	mapping []ContainerMap
}

func (m *mappedJournaled) Mapping() []ContainerMap { return m.mapping }
func (m *mappedJournaled) SnapshotMapped(ctx context.Context, _ map[string]image.Image) (Snapshot, error) {
	return m.Snapshot(ctx, image.Image{})
}

// A mapped target's record names each container's image, beside a plain
// target's record of the source's one image.
func TestRecordOfAMappedTarget(t *testing.T) {
	src := &mixedSource{containerSource: &containerSource{}}
	plain := newJournaled("plain")
	m := &mappedJournaled{journaled: newJournaled("mapped"), mapping: []ContainerMap{{Container: "app", From: "app"}, {Container: "proxy", From: "sidecar"}}}
	o := Options{Records: RecordOptions{Run: RunInfo{ID: "1"}}}
	r, err := Run(context.Background(), src, []Target{plain, m}, o)
	if err != nil {
		t.Fatal(err)
	}
	if r.Image != img.Ref() || len(r.Images) != 2 {
		t.Errorf("report image %q images %+v: want both", r.Image, r.Images)
	}
	if plain.rec.Image != img.Ref() || plain.rec.Digest != img.Digest.String() {
		t.Errorf("plain record %q %q", plain.rec.Image, plain.rec.Digest)
	}
	if want := "app=" + img.Ref() + ", proxy=" + sidecarImg.Ref(); m.rec.Image != want || m.rec.Digest != "" {
		t.Errorf("mapped record %q %q, want %q and no digest", m.rec.Image, m.rec.Digest, want)
	}
}

// mixedSource is a containerSource whose whole image resolves too (it
// names one container).
type mixedSource struct{ *containerSource }

func (mixedSource) Resolve(context.Context) (image.Image, error) { return img, nil }

// A mapped target's health URL must resolve against its snapshot, as an
// unmapped one's: a relative URL without a base is bad input before any
// change.
func TestRunMappedHealthURL(t *testing.T) {
	m := &mappedTarget{fakeTarget: &fakeTarget{name: "k8s:shop/web?context=prod"}, mapping: []ContainerMap{{Container: "app", From: "app"}}}
	r, err := Run(context.Background(), &containerSource{}, []Target{WithHealth(m, health.Check{URL: "/healthz"}, nil)}, Options{})
	if err == nil || !IsInput(err) {
		t.Fatalf("err = %v, want an input error", err)
	}
	if m.got == nil {
		t.Error("the target was not snapshotted with its mapped images")
	}
	if r.Outcome != OutcomeBadInput || slices.Contains(m.calls, "release") {
		t.Errorf("outcome %s, target calls %q: want bad input before any change", r.Outcome, m.calls)
	}
}
