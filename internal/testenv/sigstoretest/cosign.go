package sigstoretest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"

	"github.com/ferry-dev/ferry/internal/testenv"
)

var (
	cosignOnce sync.Once
	cosignPath string
	cosignErr  error
)

// Cosign returns the path of the pinned cosign CLI, building it once
// with hack/build-tool.sh.
func Cosign() (string, error) {
	cosignOnce.Do(func() { cosignPath, cosignErr = testenv.BuildTool(context.Background(), "cosign") })
	return cosignPath, cosignErr
}

// Signer is a cosign key pair in a folder, with the files cosign needs to
// sign offline.
type Signer struct {
	Dir string
	// Key and Pub are the paths of cosign.key and cosign.pub.
	Key, Pub string
	bin      string
}

// password encrypts the test key pairs; it is not a secret of anything.
const password = "ferry-test"

// NewSigner makes a key pair with cosign generate-key-pair in dir.
func NewSigner(ctx context.Context, dir string) (*Signer, error) {
	bin, err := Cosign()
	if err != nil {
		return nil, err
	}
	s := &Signer{Dir: dir, Key: filepath.Join(dir, "cosign.key"), Pub: filepath.Join(dir, "cosign.pub"), bin: bin}
	// A signing config that names no service: sign with the key only, and
	// no transparency log (the cosign 3 way of --tlog-upload=false).
	if err := os.WriteFile(filepath.Join(dir, "signing-config.json"), []byte(`{"mediaType":"application/vnd.dev.sigstore.signingconfig.v0.2+json","rekorTlogConfig":{},"tsaConfig":{}}`), 0o600); err != nil {
		return nil, err
	}
	if _, err := s.run(ctx, "generate-key-pair"); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Signer) run(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, s.bin, args...)
	cmd.Dir = s.Dir
	cmd.Env = []string{"HOME=" + s.Dir, "PATH=" + os.Getenv("PATH"), "COSIGN_PASSWORD=" + password, "TUF_ROOT=" + filepath.Join(s.Dir, "tuf")}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("cosign %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// Sign signs ref (repo@sha256:…) the cosign 3 way: a Sigstore bundle
// pushed as an OCI referrer (through the tag fallback where the registry
// has no referrers API). These are the commands the README shows.
func (s *Signer) Sign(ctx context.Context, ref string) error {
	_, err := s.run(ctx, "sign", "--key", s.Key, "--signing-config", "signing-config.json", "--yes", "--allow-http-registry", ref)
	return err
}

// SignLegacy signs ref the cosign 2 way: a simple-signing payload in the
// sha256-<hex>.sig tag.
func (s *Signer) SignLegacy(ctx context.Context, ref string) error {
	_, err := s.run(ctx, "sign", "--key", s.Key, "--use-signing-config=false", "--tlog-upload=false", "--new-bundle-format=false", "--yes", "--allow-http-registry", ref)
	return err
}

// Attest attaches predicate (a JSON file) of cosign type typ
// (slsaprovenance1, …) to ref as a Sigstore bundle referrer.
func (s *Signer) Attest(ctx context.Context, ref, typ, predicate string) error {
	_, err := s.run(ctx, "attest", "--key", s.Key, "--signing-config", "signing-config.json", "--type", typ, "--predicate", predicate, "--yes", "--allow-http-registry", ref)
	return err
}
