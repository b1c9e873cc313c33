package image

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/ferry-dev/ferry/pkg/httpx"
	"github.com/ferry-dev/ferry/pkg/redact"
)

// CopyOptions configures [Copy]. The zero value copies anonymously, four
// blobs at a time, for linux/amd64.
type CopyOptions struct {
	// Platform picks the image out of an index in Heroku mode (and names
	// the image whose config digest CopyResult.Config reports when a whole
	// index is copied). Zero means linux/amd64.
	Platform v1.Platform
	// DockerV2S2 is Heroku mode: the destination takes exactly one Docker
	// v2 schema 2 manifest, so an index is narrowed to Platform and OCI
	// media types are converted (see [ConvertForHeroku]).
	DockerV2S2 bool
	// Keychain supplies credentials for source and destination; nil means
	// anonymous.
	Keychain authn.Keychain
	// DestAuth, when set, is used for the destination registry instead of
	// the keychain (registry.heroku.com: user "_", password the API key).
	DestAuth authn.Authenticator
	// Jobs is the number of blobs transferred in parallel; 0 means 4.
	Jobs int
	// Progress, when set, receives progress at most about five times a
	// second, plus once at the end. It may be called from any goroutine,
	// never concurrently, and should return quickly.
	Progress func(Progress)
	// Transport is the base HTTP transport; nil means remote's default.
	Transport http.RoundTripper
	// Retry bounds retries of failed requests (see [RemoteOptions]).
	Retry httpx.Policy
	// Logf, when set, is told about every answer that is retried.
	Logf func(format string, args ...any)
}

// Progress is a snapshot of a copy. Bytes of blobs that the destination
// already had or mounted count as complete.
type Progress struct {
	Complete, Total    int64
	LayersDone, Layers int
}

// CopyResult says what a copy wrote and how.
type CopyResult struct {
	// Manifest is the digest of the manifest (or index) at the destination.
	Manifest v1.Hash
	// Config is the image's config digest, which Heroku calls the image
	// id. When a whole index is copied it is the config of the image for
	// CopyOptions.Platform, or zero when the index has none.
	Config v1.Hash
	// Uploaded is the number of blob bytes (layers and config) sent to the
	// destination; 0 when every blob was already there or mounted.
	Uploaded int64
	// Skipped counts blobs the destination already had; Mounted counts
	// blobs mounted from another repository of the same registry. Both
	// include config blobs.
	Skipped, Mounted int
}

// Bounds on what a registry may serve ferry: a manifest larger than
// MaxManifestBytes is not read past that size (registries commonly refuse
// manifests over 4 MiB), and an image with more than MaxLayers layers is
// not copied, so that a broken or hostile registry cannot make ferry read
// or send without end.
const (
	MaxManifestBytes = 4 << 20
	MaxLayers        = 1000
)

func (o CopyOptions) withDefaults() CopyOptions {
	if o.Platform.OS == "" && o.Platform.Architecture == "" {
		o.Platform = v1.Platform{OS: "linux", Architecture: "amd64"}
	}
	if o.Jobs <= 0 {
		o.Jobs = 4
	}
	if o.Transport == nil {
		o.Transport = remote.DefaultTransport
	}
	return o
}

// Copy copies src to dst, blob by blob, streaming: memory use does not
// grow with the image. Blobs the destination has are skipped (HEAD), blobs
// in another repository of the same registry are mounted, and failed
// requests are retried as opt.Retry says (see [RemoteOptions]).
//
// Without opt.DockerV2S2 the source is copied unchanged, index and all, so
// the destination digest equals src.Digest. With it, one image is written
// in Docker v2 schema 2 form (see [ConvertForHeroku]); its config digest is
// the source's, which Copy checks by reading the destination back.
//
// Errors read "copying SRC to DST: ..." and never contain credentials.
func Copy(ctx context.Context, src Image, dst name.Tag, opt CopyOptions) (res CopyResult, err error) {
	defer func() {
		if err != nil {
			err = redact.Error(fmt.Errorf("copying %s to %s: %w", src.Ref(), dst.String(), err), redact.URLs)
		}
	}()
	c := newCopier(ctx, dst, opt)
	p, err := c.read(src)
	if err != nil {
		return CopyResult{}, err
	}
	stop := c.track(p)
	defer func() { stop(err == nil) }()
	if err := c.write(p); err != nil {
		return CopyResult{}, err
	}
	res = c.result(p)
	if err := c.check(res); err != nil {
		return CopyResult{}, err
	}
	return res, nil
}

// copier is one Copy: its options, the observer of the destination's
// requests, and the remote options of each side.
type copier struct {
	opt              CopyOptions
	dst              name.Tag
	obs              *observer
	srcOpts, dstOpts []remote.Option
	progress         []remote.Option // the write's, when tracked
}

func newCopier(ctx context.Context, dst name.Tag, opt CopyOptions) *copier {
	opt = opt.withDefaults()
	repo := dst.Context()
	obs := newObserver(opt.Transport, repo.RegistryStr(), repo.RepositoryStr())
	common := slices.Concat([]remote.Option{
		remote.WithContext(ctx),
		remote.WithJobs(opt.Jobs),
		remote.WithUserAgent("ferry"),
	}, RemoteOptions(obs, opt.Retry, opt.Logf))
	var srcAuth, dstAuth []remote.Option
	if opt.Keychain != nil {
		srcAuth = []remote.Option{remote.WithAuthFromKeychain(opt.Keychain)}
		dstAuth = srcAuth
	}
	if opt.DestAuth != nil {
		dstAuth = []remote.Option{remote.WithAuth(opt.DestAuth)}
	}
	return &copier{
		opt:     opt,
		dst:     dst,
		obs:     obs,
		srcOpts: slices.Concat(common, srcAuth, []remote.Option{remote.WithPlatform(opt.Platform)}),
		dstOpts: slices.Concat(common, dstAuth),
	}
}

// payload is what a copy writes, one image or an index, with the
// digests the destination must end up with and the blobs involved.
type payload struct {
	img      v1.Image
	idx      v1.ImageIndex
	manifest v1.Hash
	config   v1.Hash
	plan     *plan
}

// read reads the source: its descriptor, then what is written of it.
func (c *copier) read(src Image) (*payload, error) {
	if src.Repository == "" || src.Digest == (v1.Hash{}) {
		return nil, errors.New("source is not pinned to a digest")
	}
	ref, err := name.NewDigest(src.Ref())
	if err != nil {
		return nil, fmt.Errorf("parsing source: %w", err)
	}
	desc, err := remote.Get(ref, c.srcOpts...)
	if err != nil {
		return nil, fmt.Errorf("reading source: %w", err)
	}
	if desc.Digest != src.Digest {
		return nil, fmt.Errorf("source registry served %s for %s", desc.Digest, src.Digest)
	}
	switch {
	case desc.MediaType.IsIndex():
		idx, err := desc.ImageIndex()
		if err != nil {
			return nil, fmt.Errorf("reading source index: %w", err)
		}
		return c.fromIndex(idx, desc.Digest)
	case desc.MediaType.IsImage():
		img, err := desc.Image()
		if err != nil {
			return nil, fmt.Errorf("reading source image: %w", err)
		}
		return c.fromImage(img)
	}
	return nil, fmt.Errorf("source has media type %s, which is neither an image nor an index", desc.MediaType)
}

// fromIndex is what is written of an index: the whole of it, or in
// Heroku mode its image for the platform.
func (c *copier) fromIndex(idx v1.ImageIndex, digest v1.Hash) (*payload, error) {
	if c.opt.DockerV2S2 {
		img, err := selectPlatform(idx, c.opt.Platform)
		if err != nil {
			return nil, err
		}
		return c.fromImage(img)
	}
	p := &payload{idx: idx, manifest: digest, plan: newPlan()}
	if one, err := selectPlatform(idx, c.opt.Platform); err == nil {
		if p.config, err = one.ConfigName(); err != nil {
			return nil, fmt.Errorf("reading config digest: %w", err)
		}
	}
	if err := p.plan.addIndex(idx, 0); err != nil {
		return nil, fmt.Errorf("listing blobs: %w", err)
	}
	return p, nil
}

// fromImage is what is written of an image: itself, or in Heroku mode
// its conversion.
func (c *copier) fromImage(img v1.Image) (*payload, error) {
	config, err := configDigest(img, c.opt.DockerV2S2)
	if err != nil {
		return nil, fmt.Errorf("reading config digest: %w", err)
	}
	if c.opt.DockerV2S2 {
		if img, err = c.forHeroku(img, config); err != nil {
			return nil, err
		}
	}
	p := &payload{img: img, config: config, plan: newPlan()}
	if p.manifest, err = img.Digest(); err != nil {
		return nil, fmt.Errorf("computing manifest digest: %w", err)
	}
	if err := p.plan.addImage(img); err != nil {
		return nil, fmt.Errorf("listing blobs: %w", err)
	}
	return p, nil
}

// forHeroku converts img for registry.heroku.com and checks that the
// conversion kept the platform and the config digest (the image id).
func (c *copier) forHeroku(img v1.Image, config v1.Hash) (v1.Image, error) {
	img, err := ConvertForHeroku(img)
	if err != nil {
		return nil, err
	}
	if err := checkPlatform(img, c.opt.Platform); err != nil {
		return nil, err
	}
	if got, err := img.ConfigName(); err != nil || got != config {
		return nil, fmt.Errorf("conversion changed the config digest from %s to %s", config, got)
	}
	return img, nil
}

// track starts reporting progress, when asked for, and returns what ends
// it: a last report, of everything done when ok.
func (c *copier) track(p *payload) (stop func(ok bool)) {
	if c.opt.Progress == nil {
		return func(bool) {}
	}
	tr := newTracker(c.opt.Progress, p.plan, c.obs)
	updates := make(chan v1.Update, 64)
	end := tr.consume(updates)
	c.progress = []remote.Option{remote.WithProgress(updates)}
	return func(ok bool) { end(); tr.emit(true, ok) }
}

// write writes the payload to the destination.
func (c *copier) write(p *payload) error {
	opts := slices.Concat(c.dstOpts, c.progress)
	var err error
	if p.img != nil {
		err = remote.Write(c.dst, p.img, opts...)
	} else {
		err = remote.WriteIndex(c.dst, p.idx, opts...)
	}
	if err != nil {
		return fmt.Errorf("writing destination: %w", err)
	}
	return nil
}

// result is what the copy did, as the destination's requests showed.
func (c *copier) result(p *payload) CopyResult {
	mounted, pushed, _ := c.obs.counts(p.plan.sizes, nil)
	return CopyResult{
		Manifest: p.manifest,
		Config:   p.config,
		Uploaded: c.obs.uploaded.Load(),
		Skipped:  max(0, len(p.plan.sizes)-mounted-pushed),
		Mounted:  mounted,
	}
}

// check reads the destination back: the tag must name the manifest that
// was written and, for an image, its config digest must be the source's.
func (c *copier) check(res CopyResult) error {
	got, err := remote.Get(c.dst, c.dstOpts...)
	if err != nil {
		return fmt.Errorf("reading destination back: %w", err)
	}
	if got.Digest != res.Manifest {
		return fmt.Errorf("destination tag names %s after the copy, want %s", got.Digest, res.Manifest)
	}
	if c.opt.DockerV2S2 && got.MediaType != types.DockerManifestSchema2 {
		return fmt.Errorf("destination manifest has media type %s, want %s", got.MediaType, types.DockerManifestSchema2)
	}
	if !got.MediaType.IsImage() {
		return nil
	}
	m, err := v1.ParseManifest(bytes.NewReader(got.Manifest))
	if err != nil {
		return fmt.Errorf("parsing destination manifest: %w", err)
	}
	if m.Config.Digest != res.Config {
		return fmt.Errorf("destination config digest is %s, source config digest is %s", m.Config.Digest, res.Config)
	}
	return nil
}

// ForPlatform returns the image desc names for want: desc itself when it
// is an image (refused when its config names another platform), or the
// image an index has for want. It fails with a *PlatformError when there
// is none.
func ForPlatform(desc *remote.Descriptor, want v1.Platform) (v1.Image, error) {
	if desc.MediaType.IsIndex() {
		idx, err := desc.ImageIndex()
		if err != nil {
			return nil, fmt.Errorf("reading index: %w", err)
		}
		return selectPlatform(idx, want)
	}
	img, err := desc.Image()
	if err != nil {
		return nil, err
	}
	return img, checkPlatform(img, want)
}

// selectPlatform returns the index's image for want: an exact match, or
// else the first entry that satisfies it.
func selectPlatform(idx v1.ImageIndex, want v1.Platform) (v1.Image, error) {
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("reading source index: %w", err)
	}
	var (
		have []string
		pick *v1.Descriptor
	)
	for i := range im.Manifests {
		d := &im.Manifests[i]
		if d.Platform == nil || !d.MediaType.IsImage() || d.Platform.OS == "unknown" {
			continue // attestations, nested indexes
		}
		have = append(have, d.Platform.String())
		if d.Platform.Equals(want) {
			pick = d
			break
		}
		if pick == nil && d.Platform.Satisfies(want) {
			pick = d
		}
	}
	if pick == nil {
		return nil, &PlatformError{Want: want, Have: have}
	}
	img, err := idx.Image(pick.Digest)
	if err != nil {
		return nil, fmt.Errorf("reading %s image %s: %w", pick.Platform.String(), pick.Digest, err)
	}
	return img, nil
}

// checkPlatform refuses an image whose config names another platform.
func checkPlatform(img v1.Image, want v1.Platform) error {
	cfg, err := img.ConfigFile()
	if err != nil {
		return fmt.Errorf("reading config: %w", err)
	}
	p := cfg.Platform()
	if p == nil || p.Satisfies(want) {
		return nil
	}
	return &PlatformError{Want: want, Have: []string{p.String()}}
}

// plan lists the blobs a copy involves.
type plan struct {
	sizes     map[v1.Hash]int64 // every distributable blob, configs included
	layers    map[v1.Hash]bool
	manifests int64
}

func newPlan() *plan { return &plan{sizes: map[v1.Hash]int64{}, layers: map[v1.Hash]bool{}} }

func (p *plan) total() int64 {
	t := p.manifests
	for _, s := range p.sizes {
		t += s
	}
	return t
}

func (p *plan) addImage(img v1.Image) error {
	m, err := img.Manifest()
	if err != nil {
		return err
	}
	size, err := img.Size()
	if err != nil {
		return err
	}
	p.manifests += size
	if len(m.Layers) > MaxLayers {
		return fmt.Errorf("the image has %d layers, more than the %d ferry copies (image builders stop at 127): refusing it", len(m.Layers), MaxLayers)
	}
	p.sizes[m.Config.Digest] = m.Config.Size
	for _, l := range m.Layers {
		if !l.MediaType.IsDistributable() {
			continue // remote.Write does not push these either
		}
		p.sizes[l.Digest] = l.Size
		p.layers[l.Digest] = true
	}
	return nil
}

func (p *plan) addIndex(idx v1.ImageIndex, depth int) error {
	if depth > 4 {
		return errors.New("indexes nested too deeply")
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return err
	}
	size, err := idx.Size()
	if err != nil {
		return err
	}
	p.manifests += size
	for _, d := range im.Manifests {
		switch {
		case d.MediaType.IsIndex():
			child, err := idx.ImageIndex(d.Digest)
			if err != nil {
				return err
			}
			if err := p.addIndex(child, depth+1); err != nil {
				return err
			}
		case d.MediaType.IsImage():
			child, err := idx.Image(d.Digest)
			if err != nil {
				return err
			}
			if err := p.addImage(child); err != nil {
				return err
			}
		}
	}
	return nil
}

// tracker turns remote's byte updates and the observer's blob events into
// throttled Progress calls.
type tracker struct {
	fn       func(Progress)
	total    int64
	layers   map[v1.Hash]bool
	obs      *observer
	complete atomic.Int64

	mu   sync.Mutex
	last time.Time
}

const progressInterval = 200 * time.Millisecond

func newTracker(fn func(Progress), p *plan, obs *observer) *tracker {
	return &tracker{fn: fn, total: p.total(), layers: p.layers, obs: obs}
}

// consume reads updates until the channel is closed or stop is called.
func (t *tracker) consume(updates <-chan v1.Update) (stop func()) {
	done := make(chan struct{})
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		for {
			select {
			case u, ok := <-updates:
				if !ok {
					return
				}
				if u.Error == nil {
					t.complete.Store(u.Complete)
					t.emit(false, false)
				}
			case <-done:
				return
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() { close(done) })
		<-exited
	}
}

// emit calls fn unless it was called less than progressInterval ago; final
// calls always go through, and a successful one reports everything done.
func (t *tracker) emit(final, success bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := time.Now()
	if !final && now.Sub(t.last) < progressInterval {
		return
	}
	t.last = now
	_, _, done := t.obs.counts(nil, t.layers)
	p := Progress{Complete: min(t.complete.Load(), t.total), Total: t.total, LayersDone: done, Layers: len(t.layers)}
	if success {
		p.Complete, p.LayersDone = p.Total, p.Layers
	}
	t.fn(p)
}

// configDigest is img's config digest. A plain copy takes it from the
// manifest, whose own digest go-containerregistry has checked: fetching
// and hashing the config blob would cost a round trip for nothing. The
// Heroku conversion reads the config anyway, and hashes it, so that the
// image id it promises is the one the bytes have.
func configDigest(img v1.Image, heroku bool) (v1.Hash, error) {
	if heroku {
		return img.ConfigName()
	}
	m, err := img.Manifest()
	if err != nil {
		return v1.Hash{}, err
	}
	return m.Config.Digest, nil
}
