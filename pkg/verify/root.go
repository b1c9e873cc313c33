package verify

import (
	_ "embed"
	"fmt"
	"os"

	"github.com/sigstore/sigstore-go/pkg/root"
)

//go:embed trusted_root.json
var publicGoodRoot []byte

// TrustedRoot reads the Sigstore trusted root in path, or, when path is
// empty, the public-good root shipped in ferry.
func TrustedRoot(path string) (*root.TrustedRoot, error) {
	data := publicGoodRoot
	if path != "" {
		var err error
		if data, err = os.ReadFile(path); err != nil {
			return nil, fmt.Errorf("reading the trusted root: %w", err)
		}
	}
	tr, err := root.NewTrustedRootFromJSON(data)
	if err != nil {
		return nil, fmt.Errorf("not a Sigstore trusted root (trusted_root.json, media type application/vnd.dev.sigstore.trustedroot+json): %w", err)
	}
	return tr, nil
}
