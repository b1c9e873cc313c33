package kube

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/ferry-dev/ferry/pkg/address"
	"github.com/ferry-dev/ferry/pkg/image"
	"github.com/ferry-dev/ferry/pkg/promote"
)

// Resolver pins a tag through its registry.
type Resolver interface {
	Resolve(ctx context.Context, ref string) (image.Image, error)
}

// Source is a Deployment container whose image is promoted.
type Source struct {
	ref     Ref
	clients *Clients
	// registry, when set, resolves a tag the pods cannot settle.
	registry Resolver
}

// NewSource returns the source for r. When registry is non-nil, a tag that
// the running pods cannot pin (none run, or they disagree) is resolved in
// the registry instead of failing.
func NewSource(clients *Clients, r Ref, registry Resolver) *Source {
	return &Source{ref: r, clients: clients, registry: registry}
}

func (s *Source) String() string { return s.ref.Address }

// Resolve returns the image the workload's container runs, pinned.
func (s *Source) Resolve(ctx context.Context) (image.Image, error) {
	names := address.SplitContainers(s.ref.Container)
	if len(names) > 1 {
		return image.Image{}, fmt.Errorf("resolving %s: %w", s.ref, promote.Input(fmt.Errorf("a source names one container: ?container=%s lists several; name the one whose image is promoted", s.ref.Container)))
	}
	imgs, err := s.resolve(ctx, names)
	if err != nil {
		return image.Image{}, fmt.Errorf("resolving %s: %w", s.ref, err)
	}
	return imgs[0], nil
}

// resolve pins the images the workload's containers names run (none: its
// one container), in that order, from one read of the workload and, when
// a container runs a tag, one read of the pods of its current revision:
// every image comes from the same state of the workload.
func (s *Source) resolve(ctx context.Context, names []string) ([]image.Image, error) {
	cs, err := s.clients.Client(ctx, s.ref.Context)
	if err != nil {
		return nil, err
	}
	k := kindOf(s.ref)
	r := s.ref
	r.Container = strings.Join(names, ",")
	w, slots, err := getWorkload(ctx, cs, k, r)
	if err != nil {
		return nil, err
	}
	var pods []corev1.Pod
	var podsErr error
	read := false
	out := make([]image.Image, 0, len(slots))
	for _, sl := range slots {
		spec := *sl.container(&w.template.Spec)
		if img, ok, err := image.Pinned(spec.Image); err != nil || ok {
			if err != nil {
				return nil, err
			}
			out = append(out, img)
			continue
		}
		repo, err := image.Repository(spec.Image)
		if err != nil {
			return nil, err
		}
		tag := strings.TrimPrefix(strings.TrimPrefix(spec.Image, repo), ":")
		if !read {
			pods, podsErr = currentPods(ctx, cs, k, w)
			read = true
		}
		digest, why := v1.Hash{}, podsErr
		if why == nil {
			digest, why = digestFromStatuses(pods, spec.Name)
		}
		img, err := s.pin(ctx, spec, repo, tag, digest, why)
		if err != nil {
			return nil, err
		}
		out = append(out, img)
	}
	return out, nil
}

// pin is the image of spec: the digest its pods run, else (when allowed)
// the registry's answer for its tag, else an input error saying why not.
func (s *Source) pin(ctx context.Context, spec corev1.Container, repo, tag string, digest v1.Hash, why error) (image.Image, error) {
	if why == nil {
		return image.Image{Repository: repo, Digest: digest, Tag: tag}, nil
	}
	if s.registry == nil {
		return image.Image{}, promote.Input(fmt.Errorf("container %q runs tag %s and %v; "+
			"set FERRY_RESOLVE_TAGS=true to resolve the tag in the registry instead (it may have moved since the pods started)",
			spec.Name, spec.Image, why))
	}
	img, err := s.registry.Resolve(ctx, spec.Image)
	if err != nil {
		return image.Image{}, fmt.Errorf("%v, and %w", why, err)
	}
	return img, nil
}

// currentPods returns the pods of the current revision of w (of kind k,
// nil for a Deployment; a workload's pods being deleted are left out), or
// why there are none to read digests from.
func currentPods(ctx context.Context, cs API, k kindOps, w *workload) ([]corev1.Pod, error) {
	if k == nil {
		d, _ := w.obj.(*appsv1.Deployment)
		rss, err := replicaSetsOf(ctx, cs, d)
		if err != nil {
			return nil, err
		}
		rs := currentReplicaSet(d, rss)
		if rs == nil {
			return nil, errors.New("the deployment has no current replica set yet")
		}
		return podsOf(ctx, cs, d, rs)
	}
	pods, crs, err := workloadPods(ctx, cs, k, w)
	if err != nil {
		return nil, err
	}
	hash := k.currentHash(w, crs)
	var current []corev1.Pod
	for _, p := range pods {
		if hash != "" && p.Labels[podHashLabel(k)] == hash && p.DeletionTimestamp == nil {
			current = append(current, p)
		}
	}
	return current, nil
}

// digestFromStatuses reads the manifest digest from the imageID the
// kubelet reports for container in each running pod. A kubelet with
// containerd reports "repo@sha256:..."; docker-shim prefixed it with
// "docker-pullable://"; a bare "sha256:..." is the config digest, which
// cannot be pulled by and is ignored.
func digestFromStatuses(pods []corev1.Pod, container string) (v1.Hash, error) {
	seen := map[v1.Hash][]string{}
	for _, p := range pods {
		for _, st := range p.Status.ContainerStatuses {
			if st.Name != container || st.State.Running == nil {
				continue
			}
			id := strings.TrimPrefix(st.ImageID, "docker-pullable://")
			at := strings.LastIndex(id, "@")
			if at < 0 {
				continue
			}
			h, err := v1.NewHash(id[at+1:])
			if err != nil {
				continue
			}
			seen[h] = append(seen[h], p.Name)
		}
	}
	switch len(seen) {
	case 0:
		return v1.Hash{}, errors.New("no running pod reports a pullable image digest for it")
	case 1:
		for h := range seen {
			return h, nil
		}
	}
	var parts []string
	for h, ps := range seen {
		sort.Strings(ps)
		parts = append(parts, fmt.Sprintf("%s on %s", h, strings.Join(ps, ", ")))
	}
	sort.Strings(parts)
	return v1.Hash{}, fmt.Errorf("its pods run different digests (%s)", strings.Join(parts, "; "))
}
