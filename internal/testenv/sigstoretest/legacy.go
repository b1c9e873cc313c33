package sigstoretest

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/tlog"
)

// PushLegacy signs ref (repo@sha256:…) the cosign 2 keyless way and
// pushes the signature to its sha256-<hex>.sig tag: a simple-signing
// payload whose layer carries the signature, the signer's certificate and
// chain, and the Rekor bundle (entry and signed entry timestamp) as
// annotations.
func (k *Keyless) PushLegacy(ctx context.Context, ref, identity, issuer string, opts ...remote.Option) error {
	d, err := name.NewDigest(ref, name.WeakValidation)
	if err != nil {
		return err
	}
	payload, err := json.Marshal(map[string]any{
		"critical": map[string]any{
			"identity": map[string]string{"docker-reference": d.Context().Name()},
			"image":    map[string]string{"docker-manifest-digest": d.DigestStr()},
			"type":     "cosign container image signature",
		},
		"optional": nil,
	})
	if err != nil {
		return err
	}
	ent, err := k.vs.Sign(identity, issuer, payload)
	if err != nil {
		return err
	}
	vc, err := ent.VerificationContent()
	if err != nil {
		return err
	}
	sc, err := ent.SignatureContent()
	if err != nil {
		return err
	}
	entries, err := ent.TlogEntries()
	if err != nil || len(entries) != 1 {
		return fmt.Errorf("the test log made %d entries: %v", len(entries), err)
	}
	e := entries[0]
	tle := e.TransparencyLogEntry()
	logID := hex.EncodeToString([]byte(e.LogKeyID()))
	rp := tlog.RekorPayload{Body: e.Body(), IntegratedTime: tle.GetIntegratedTime(), LogIndex: tle.GetLogIndex(), LogID: logID}
	set, err := k.vs.RekorSignPayload(rp)
	if err != nil {
		return err
	}
	rekorBundle, err := json.Marshal(map[string]any{"SignedEntryTimestamp": set, "Payload": rp})
	if err != nil {
		return err
	}
	cas := k.vs.FulcioCertificateAuthorities()
	ca, ok := cas[0].(*root.FulcioCertificateAuthority)
	if !ok || len(ca.Intermediates) == 0 {
		return errors.New("the test CA has no intermediate")
	}
	var chain []byte
	for _, c := range append(ca.Intermediates, ca.Root) {
		chain = append(chain, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	layer := static.NewLayer(payload, "application/vnd.dev.cosign.simplesigning.v1+json")
	img, err := mutate.Append(mutate.MediaType(empty.Image, types.OCIManifestSchema1), mutate.Addendum{
		Layer: layer,
		Annotations: map[string]string{
			"dev.cosignproject.cosign/signature": base64.StdEncoding.EncodeToString(sc.MessageSignatureContent().Signature()),
			"dev.sigstore.cosign/certificate":    string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: vc.Certificate().Raw})),
			"dev.sigstore.cosign/chain":          string(chain),
			"dev.sigstore.cosign/bundle":         string(rekorBundle),
		},
	})
	if err != nil {
		return err
	}
	tag := d.Context().Tag(d.DigestStr()[:len("sha256")] + "-" + d.DigestStr()[len("sha256:"):] + ".sig")
	return remote.Write(tag, img, append([]remote.Option{remote.WithContext(ctx)}, opts...)...)
}
