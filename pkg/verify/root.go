package verify

import (
	_ "embed"
	"fmt"
	"io"
	"os"

	"github.com/sigstore/sigstore-go/pkg/root"

	"github.com/ferry-dev/ferry/pkg/httpx"
)

//go:embed trusted_root.json
var publicGoodRoot []byte

// TrustedRoot reads the Sigstore trusted root in path, or, when path is
// empty, the public-good root shipped in ferry.
func TrustedRoot(path string) (*root.TrustedRoot, error) {
	data := publicGoodRoot
	if path != "" {
		var err error
		if data, err = readRoot(path); err != nil {
			return nil, fmt.Errorf("reading the trusted root: %w", err)
		}
	}
	tr, err := root.NewTrustedRootFromJSON(data)
	if err != nil {
		return nil, fmt.Errorf("not a Sigstore trusted root (trusted_root.json, media type application/vnd.dev.sigstore.trustedroot+json): %w", err)
	}
	return tr, nil
}

// maxRoot bounds a trusted root file; the public-good one is under 10 KiB.
const maxRoot = 4 << 20

func readRoot(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(httpx.CapBody(f, maxRoot, httpx.Naming("the file")))
}
