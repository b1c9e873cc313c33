package verify

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	"github.com/sigstore/sigstore-go/pkg/bundle"

	"github.com/ferry-dev/ferry/pkg/httpx"
	"github.com/ferry-dev/ferry/pkg/sigpolicy"
)

var timeZero time.Time

// Media types and annotations of what cosign and GitHub store.
const (
	bundleArtifactPrefix = "application/vnd.dev.sigstore.bundle" // .v0.3+json, and +json;version=0.x
	simpleSigning        = "application/vnd.dev.cosign.simplesigning.v1+json"
	annSignature         = "dev.cosignproject.cosign/signature"
	annCertificate       = "dev.sigstore.cosign/certificate"
	annChain             = "dev.sigstore.cosign/chain"
	annRekorBundle       = "dev.sigstore.cosign/bundle"
	// maxBlob bounds what is read of one signature blob.
	maxBlob = 4 << 20
	// maxBundles bounds how many referrers and .sig layers are read: an
	// image carries a handful; a registry listing thousands is not
	// answered with thousands of requests.
	maxBundles = 64
)

// referrers returns the Sigstore bundles attached to d as OCI referrers:
// through the referrers API, or, where the registry has none, its tag
// fallback (an index tagged sha256-<hex>).
func (c *Checker) referrers(d name.Digest, opts []remote.Option) ([]found, error) {
	via := "OCI referrer"
	idx, err := remote.Referrers(d, append(opts[:len(opts):len(opts)], remote.WithReferrersTagFallback(false))...)
	var te *transport.Error
	if err != nil && !errors.As(err, &te) {
		// No referrers API (go-containerregistry says so in an untyped
		// error): read the tag fallback.
		tag := d.Context().Tag(strings.Replace(d.DigestStr(), ":", "-", 1))
		via = "referrers tag " + tag.TagStr() + ":"
		idx, err = remote.Index(tag, opts...)
	}
	if isNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing the referrers of %s: %w", d, err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("reading the referrers of %s: %w", d, err)
	}
	var out []found
	for _, desc := range im.Manifests {
		if !maybeBundle(desc.ArtifactType) {
			continue
		}
		if len(out) >= maxBundles {
			break
		}
		where := via + " " + shortDigest(desc.Digest.String())
		m, err := remote.Image(d.Context().Digest(desc.Digest.String()), opts...)
		if err != nil {
			return nil, fmt.Errorf("reading referrer %s of %s: %w", desc.Digest, d, err)
		}
		layers, err := m.Layers()
		if err != nil {
			return nil, fmt.Errorf("reading referrer %s of %s: %w", desc.Digest, d, err)
		}
		for _, l := range layers {
			mt, err := l.MediaType()
			if err != nil || !strings.HasPrefix(string(mt), bundleArtifactPrefix) {
				continue
			}
			raw, err := readLayer(l)
			if err != nil {
				return nil, fmt.Errorf("reading referrer %s of %s: %w", desc.Digest, d, err)
			}
			b := &bundle.Bundle{}
			f := found{where: where, format: "sigstore bundle", bundle: b}
			if err := b.UnmarshalJSON(raw); err != nil {
				f.bundle, f.err = nil, err
			}
			out = append(out, f)
		}
	}
	return out, nil
}

// legacy returns the cosign signatures in the sha256-<hex>.sig tag, each
// checked.
func (c *Checker) legacy(repo name.Repository, digest v1.Hash, opts []remote.Option) ([]sigpolicy.Evidence, error) {
	tag := repo.Tag(digest.Algorithm + "-" + digest.Hex + ".sig")
	m, err := remote.Image(tag, opts...)
	if isNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", tag, err)
	}
	mf, err := m.Manifest()
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", tag, err)
	}
	var out []sigpolicy.Evidence
	for _, desc := range mf.Layers {
		if string(desc.MediaType) != simpleSigning {
			continue
		}
		if len(out) >= maxBundles {
			break
		}
		where := "tag " + tag.TagStr()
		l, err := m.LayerByDigest(desc.Digest)
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", tag, err)
		}
		payload, err := readLayer(l)
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", tag, err)
		}
		b, err := legacyBundle(payload, desc.Annotations)
		if err != nil {
			out = append(out, sigpolicy.Evidence{Where: where, Format: "cosign signature", Problem: err.Error()})
			continue
		}
		out = append(out, c.checkBundle(where, "cosign signature", b, payload, digest))
	}
	return out, nil
}

// maybeBundle reports whether a referrer of this artifact type may be a
// Sigstore bundle. Some registries (go-containerregistry's among them)
// report the config media type as a referrer's artifactType even when the
// manifest names its own, and cosign's config is the empty descriptor:
// those are read to see their layers.
func maybeBundle(artifactType string) bool {
	return strings.HasPrefix(artifactType, bundleArtifactPrefix) || artifactType == "" || artifactType == "application/vnd.oci.empty.v1+json"
}

func readLayer(l v1.Layer) ([]byte, error) {
	rc, err := l.Compressed()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(httpx.CapBody(rc, maxBlob, httpx.Naming("a signature blob")))
}

func isNotFound(err error) bool {
	var te *transport.Error
	return errors.As(err, &te) && (te.StatusCode == http.StatusNotFound)
}

// legacyBundle puts a cosign signature (payload and annotations) in a
// Sigstore bundle v0.1, the form sigstore-go verifies: a message
// signature over the payload, the signer's certificate chain (keyless) or
// no key material (keyed), and the Rekor entry with its inclusion promise
// when cosign stored one.
func legacyBundle(payload []byte, ann map[string]string) (*bundle.Bundle, error) {
	sig, err := base64Std(ann[annSignature])
	if err != nil || len(sig) == 0 {
		return nil, fmt.Errorf("its %s annotation holds no signature", annSignature)
	}
	sum := sha256Sum(payload)
	vm := &protobundle.VerificationMaterial{}
	if certPEM := ann[annCertificate]; certPEM != "" {
		chain, err := pemChain(certPEM + "\n" + ann[annChain])
		if err != nil {
			return nil, fmt.Errorf("its certificate annotations: %w", err)
		}
		vm.Content = &protobundle.VerificationMaterial_X509CertificateChain{X509CertificateChain: &protocommon.X509CertificateChain{Certificates: chain}}
	} else {
		vm.Content = &protobundle.VerificationMaterial_PublicKey{PublicKey: &protocommon.PublicKeyIdentifier{}}
	}
	if rb := ann[annRekorBundle]; rb != "" {
		entry, err := rekorEntry(rb)
		if err != nil {
			return nil, fmt.Errorf("its %s annotation: %w", annRekorBundle, err)
		}
		vm.TlogEntries = []*protorekor.TransparencyLogEntry{entry}
	}
	pb := &protobundle.Bundle{
		MediaType:            "application/vnd.dev.sigstore.bundle+json;version=0.1",
		VerificationMaterial: vm,
		Content: &protobundle.Bundle_MessageSignature{MessageSignature: &protocommon.MessageSignature{
			MessageDigest: &protocommon.HashOutput{Algorithm: protocommon.HashAlgorithm_SHA2_256, Digest: sum},
			Signature:     sig,
		}},
	}
	b, err := bundle.NewBundle(pb)
	if err != nil {
		return nil, fmt.Errorf("it does not make a Sigstore bundle: %w", err)
	}
	return b, nil
}

// rekorEntry reads cosign's Rekor bundle annotation: the entry's body,
// integrated time, log index and log id, and the signed entry timestamp.
func rekorEntry(s string) (*protorekor.TransparencyLogEntry, error) {
	var rb struct {
		SignedEntryTimestamp string
		Payload              struct {
			Body           string `json:"body"`
			IntegratedTime int64  `json:"integratedTime"`
			LogIndex       int64  `json:"logIndex"`
			LogID          string `json:"logID"`
		}
	}
	if err := json.Unmarshal([]byte(s), &rb); err != nil {
		return nil, err
	}
	body, err := base64Std(rb.Payload.Body)
	if err != nil {
		return nil, fmt.Errorf("body: %w", err)
	}
	set, err := base64Std(rb.SignedEntryTimestamp)
	if err != nil {
		return nil, fmt.Errorf("signed entry timestamp: %w", err)
	}
	logID, err := hexDecode(rb.Payload.LogID)
	if err != nil {
		return nil, fmt.Errorf("log id: %w", err)
	}
	return withKind(&protorekor.TransparencyLogEntry{
		LogIndex:          rb.Payload.LogIndex,
		LogId:             &protocommon.LogId{KeyId: logID},
		IntegratedTime:    rb.Payload.IntegratedTime,
		CanonicalizedBody: body,
	}, set)
}

// withKind completes an entry with the kind and version its body names
// and the inclusion promise (signed entry timestamp).
func withKind(tle *protorekor.TransparencyLogEntry, set []byte) (*protorekor.TransparencyLogEntry, error) {
	var kv struct {
		Kind       string `json:"kind"`
		APIVersion string `json:"apiVersion"`
	}
	if err := json.Unmarshal(tle.GetCanonicalizedBody(), &kv); err != nil || kv.Kind == "" {
		return nil, fmt.Errorf("the entry body names no kind")
	}
	tle.KindVersion = &protorekor.KindVersion{Kind: kv.Kind, Version: kv.APIVersion}
	if len(set) > 0 {
		tle.InclusionPromise = &protorekor.InclusionPromise{SignedEntryTimestamp: set}
	}
	return tle, nil
}
