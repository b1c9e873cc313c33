// Command image builds ferry's container image without a docker daemon
// and pushes it, or writes it as an OCI image layout.
//
// The image is one layer on scratch (or on -base): /ferry (mode 0755) and
// the build machine's CA bundle at /etc/ssl/certs/ca-certificates.crt, with
// ENTRYPOINT ["/ferry"], PATH and SSL_CERT_FILE set, OCI labels, and user
// root. Time stamps come from -epoch (default $SOURCE_DATE_EPOCH, else 0),
// so the same inputs give the same digests. With one -binary it builds an
// image; with several, an OCI index of them. The Dockerfile at the
// repository root builds the same image with docker; the tests keep the two
// in step.
//
//	go run ./hack/image \
//	    -binary linux/amd64=dist/ferry_linux_amd64 \
//	    -binary linux/arm64=dist/ferry_linux_arm64 \
//	    -version v1.2.3 \
//	    -tag ghcr.io/ferry-dev/ferry:v1.2.3 -tag ghcr.io/ferry-dev/ferry:v1
//
// Credentials come from the docker config (~/.docker/config.json and its
// helpers) or, for the registries named by -tag only, from
// REGISTRY_USERNAME and REGISTRY_PASSWORD.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Environ(), os.Stdout, os.Stderr))
}

// options are the command line.
type options struct {
	binaries map[string]string // platform → binary path
	base     string
	caCerts  string
	version  string
	tags     []string
	layout   string
	epoch    time.Time
}

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error { *l = append(*l, s); return nil }

func parse(args, environ []string, stderr io.Writer) (options, error) {
	fs := flag.NewFlagSet("image", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var bins, tags listFlag
	var o options
	fs.Var(&bins, "binary", "`os/arch=path` of a ferry binary (linux only; repeat for an index of several platforms)")
	fs.StringVar(&o.base, "base", "", "base `image` (default: none, like FROM scratch)")
	fs.StringVar(&o.caCerts, "ca-certs", "/etc/ssl/certs/ca-certificates.crt", "CA bundle of the build machine to copy into the image")
	fs.StringVar(&o.version, "version", "dev", "value of the org.opencontainers.image.version label")
	fs.Var(&tags, "tag", "`reference` to push to (repeatable)")
	fs.StringVar(&o.layout, "oci-layout", "", "write the image to this OCI image layout `directory`")
	epoch := fs.String("epoch", lookup(environ, "SOURCE_DATE_EPOCH"), "time stamp of the image's files and config, in Unix `seconds`")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	var problems []string
	o.binaries = map[string]string{}
	for _, b := range bins {
		p, file, ok := strings.Cut(b, "=")
		if !ok || file == "" {
			problems = append(problems, fmt.Sprintf("-binary %q: want os/arch=path", b))
			continue
		}
		plat, err := v1.ParsePlatform(p)
		if err != nil || plat.OS != "linux" || plat.Architecture == "" {
			problems = append(problems, fmt.Sprintf("-binary %q: %q is not a linux platform", b, p))
			continue
		}
		if _, dup := o.binaries[plat.String()]; dup {
			problems = append(problems, fmt.Sprintf("-binary: %s given twice", plat))
		}
		o.binaries[plat.String()] = file
	}
	if len(o.binaries) == 0 {
		problems = append(problems, "give at least one -binary")
	}
	if len(tags) == 0 && o.layout == "" {
		problems = append(problems, "give -tag or -oci-layout (or both)")
	}
	for _, t := range tags {
		if _, err := name.NewTag(t); err != nil {
			problems = append(problems, fmt.Sprintf("-tag %q: %v", t, err))
		}
	}
	o.tags = tags
	if *epoch != "" {
		sec, err := strconv.ParseInt(*epoch, 10, 64)
		if err != nil || sec < 0 {
			problems = append(problems, fmt.Sprintf("-epoch %q: not Unix seconds", *epoch))
		}
		o.epoch = time.Unix(sec, 0).UTC()
	} else {
		o.epoch = time.Unix(0, 0).UTC()
	}
	if len(problems) > 0 {
		return o, errors.New(strings.Join(problems, "\n"))
	}
	return o, nil
}

func run(ctx context.Context, args, environ []string, stdout, stderr io.Writer) int {
	o, err := parse(args, environ, stderr)
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(stderr, "image: %v\n", err)
		}
		return 2
	}
	if err := build(ctx, o, environ, stdout); err != nil {
		fmt.Fprintf(stderr, "image: %v\n", err)
		return 1
	}
	return 0
}

func build(ctx context.Context, o options, environ []string, stdout io.Writer) error {
	kc := keychain(o.tags, environ)
	ca, err := os.ReadFile(o.caCerts)
	if err != nil {
		return fmt.Errorf("reading the CA bundle: %w", err)
	}
	platforms := make([]string, 0, len(o.binaries))
	for p := range o.binaries {
		platforms = append(platforms, p)
	}
	sort.Strings(platforms)

	var imgs []v1.Image
	for _, p := range platforms {
		plat, _ := v1.ParsePlatform(p)
		bin, err := os.ReadFile(o.binaries[p])
		if err != nil {
			return fmt.Errorf("%s: reading the binary: %w", p, err)
		}
		s := imageSpec{platform: *plat, binary: bin, caCerts: ca, version: o.version, epoch: o.epoch}
		if o.base != "" {
			ref, err := name.ParseReference(o.base)
			if err != nil {
				return fmt.Errorf("-base %q: %w", o.base, err)
			}
			s.base, err = remote.Image(ref, remote.WithContext(ctx), remote.WithPlatform(*plat), remote.WithAuthFromKeychain(kc))
			if err != nil {
				return fmt.Errorf("%s: pulling the base image %s: %w", p, o.base, err)
			}
		}
		img, err := buildImage(s)
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		if err := describe(stdout, p, img); err != nil {
			return err
		}
		imgs = append(imgs, img)
	}

	var index v1.ImageIndex
	if len(imgs) > 1 {
		if index, err = buildIndex(imgs, o.version); err != nil {
			return err
		}
	}
	if o.layout != "" {
		if err := writeLayout(o.layout, imgs, index); err != nil {
			return fmt.Errorf("writing %s: %w", o.layout, err)
		}
		fmt.Fprintf(stdout, "wrote OCI image layout %s\n", o.layout)
	}
	for i, t := range o.tags {
		tag, _ := name.NewTag(t)
		opts := []remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(kc)}
		var d v1.Hash
		switch {
		case i > 0 && index != nil:
			err = remote.Tag(tag, index, opts...)
		case i > 0:
			err = remote.Tag(tag, imgs[0], opts...)
		case index != nil:
			err = remote.WriteIndex(tag, index, opts...)
		default:
			err = remote.Write(tag, imgs[0], opts...)
		}
		if err != nil {
			return fmt.Errorf("pushing %s: %w", t, err)
		}
		if index != nil {
			d, err = index.Digest()
		} else {
			d, err = imgs[0].Digest()
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "pushed %s@%s\n", t, d)
	}
	return nil
}

func describe(w io.Writer, platform string, img v1.Image) error {
	d, err := img.Digest()
	if err != nil {
		return err
	}
	size, err := compressedSize(img)
	if err != nil {
		return err
	}
	layers, err := img.Layers()
	if err != nil {
		return err
	}
	top, err := layers[len(layers)-1].Size()
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "%s: %s, %d layer(s), %d bytes compressed (ferry's layer: %d)\n", platform, d, len(layers), size, top)
	return nil
}

func writeLayout(dir string, imgs []v1.Image, index v1.ImageIndex) error {
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return err
	}
	if index != nil {
		return p.AppendIndex(index)
	}
	return p.AppendImage(imgs[0])
}

// keychain is the docker config's keychain, preceded for the registries of
// tags by REGISTRY_USERNAME/REGISTRY_PASSWORD when both are set. Those
// credentials never go to another registry (a base image's, say).
func keychain(tags, environ []string) authn.Keychain {
	user, pass := lookup(environ, "REGISTRY_USERNAME"), lookup(environ, "REGISTRY_PASSWORD")
	if user == "" || pass == "" {
		return authn.DefaultKeychain
	}
	hosts := map[string]bool{}
	for _, t := range tags {
		if tag, err := name.NewTag(t); err == nil {
			hosts[tag.RegistryStr()] = true
		}
	}
	return authn.NewMultiKeychain(envKeychain{hosts: hosts, cfg: authn.AuthConfig{Username: user, Password: pass}}, authn.DefaultKeychain)
}

type envKeychain struct {
	hosts map[string]bool
	cfg   authn.AuthConfig
}

func (k envKeychain) Resolve(r authn.Resource) (authn.Authenticator, error) {
	if k.hosts[r.RegistryStr()] {
		return authn.FromConfig(k.cfg), nil
	}
	return authn.Anonymous, nil
}

func lookup(environ []string, key string) string {
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && k == key {
			return v
		}
	}
	return ""
}
