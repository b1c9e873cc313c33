package sigstoretest

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	protodsse "github.com/sigstore/protobuf-specs/gen/pb-go/dsse"
	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/testing/ca"
	"google.golang.org/protobuf/encoding/protojson"
)

// Cosign's and SLSA's predicate types.
const (
	PredicateCosignSign = "https://sigstore.dev/cosign/sign/v1"
	PredicateSLSAv1     = "https://slsa.dev/provenance/v1"
	BundleMediaType     = "application/vnd.dev.sigstore.bundle.v0.3+json"
)

// Keyless is a private Sigstore instance in process.
type Keyless struct{ vs *ca.VirtualSigstore }

// NewKeyless starts one.
func NewKeyless() (*Keyless, error) {
	vs, err := ca.NewVirtualSigstore()
	if err != nil {
		return nil, err
	}
	return &Keyless{vs: vs}, nil
}

// TrustedRoot is the instance's trusted_root.json: its Fulcio CA, Rekor
// log and timestamp authority (no CT log).
func (k *Keyless) TrustedRoot() ([]byte, error) {
	// VirtualSigstore names its log by the hex of the log id's bytes, where
	// a trusted root holds the bytes themselves.
	logs := map[string]*root.TransparencyLog{}
	for key, l := range k.vs.RekorLogs() {
		id, err := hex.DecodeString(string(l.ID))
		if err != nil {
			return nil, fmt.Errorf("log id %q: %w", l.ID, err)
		}
		c := *l
		c.ID = id
		logs[key] = &c
	}
	tr, err := root.NewTrustedRoot(root.TrustedRootMediaType01, k.vs.FulcioCertificateAuthorities(), nil, k.vs.TimestampingAuthorities(), logs)
	if err != nil {
		return nil, err
	}
	return tr.MarshalJSON()
}

// Statement is an in-toto statement about digest (sha256:…).
func Statement(digest, predicateType string, predicate any) ([]byte, error) {
	if predicate == nil {
		predicate = map[string]any{}
	}
	hex := digest[len("sha256:"):]
	return json.Marshal(map[string]any{
		"_type":         "https://in-toto.io/Statement/v1",
		"subject":       []any{map[string]any{"name": "image", "digest": map[string]string{"sha256": hex}}},
		"predicateType": predicateType,
		"predicate":     predicate,
	})
}

// Bundle signs statement as identity (certificate subject) issued by
// issuer and returns the Sigstore bundle v0.3 JSON: certificate, DSSE
// envelope, Rekor entry with inclusion proof, RFC 3161 timestamp.
func (k *Keyless) Bundle(identity, issuer string, statement []byte) ([]byte, error) {
	ent, err := k.vs.AttestAtTime(identity, issuer, statement, time.Now().Add(5*time.Minute), true)
	if err != nil {
		return nil, err
	}
	vc, err := ent.VerificationContent()
	if err != nil {
		return nil, err
	}
	sc, err := ent.SignatureContent()
	if err != nil {
		return nil, err
	}
	env := sc.EnvelopeContent().RawEnvelope()
	payload, err := base64.StdEncoding.DecodeString(env.Payload)
	if err != nil {
		return nil, err
	}
	de := &protodsse.Envelope{Payload: payload, PayloadType: env.PayloadType}
	for _, s := range env.Signatures {
		sig, err := base64.StdEncoding.DecodeString(s.Sig)
		if err != nil {
			return nil, err
		}
		de.Signatures = append(de.Signatures, &protodsse.Signature{Sig: sig, Keyid: s.KeyID})
	}
	entries, _ := ent.TlogEntries()
	var tles []*protorekor.TransparencyLogEntry
	for _, e := range entries {
		tle := e.TransparencyLogEntry()
		var kv struct{ Kind, APIVersion string }
		if err := json.Unmarshal(tle.GetCanonicalizedBody(), &kv); err != nil {
			return nil, err
		}
		tle.KindVersion = &protorekor.KindVersion{Kind: kv.Kind, Version: kv.APIVersion}
		tles = append(tles, tle)
	}
	tss, _ := ent.Timestamps()
	tvd := &protobundle.TimestampVerificationData{}
	for _, ts := range tss {
		tvd.Rfc3161Timestamps = append(tvd.Rfc3161Timestamps, &protocommon.RFC3161SignedTimestamp{SignedTimestamp: ts})
	}
	pb := &protobundle.Bundle{
		MediaType: BundleMediaType,
		VerificationMaterial: &protobundle.VerificationMaterial{
			Content:                   &protobundle.VerificationMaterial_Certificate{Certificate: &protocommon.X509Certificate{RawBytes: vc.Certificate().Raw}},
			TlogEntries:               tles,
			TimestampVerificationData: tvd,
		},
		Content: &protobundle.Bundle_DsseEnvelope{DsseEnvelope: de},
	}
	return protojson.Marshal(pb)
}

// rawManifest is a manifest pushed as written.
type rawManifest struct {
	b  []byte
	mt types.MediaType
}

func (r rawManifest) RawManifest() ([]byte, error)        { return r.b, nil }
func (r rawManifest) MediaType() (types.MediaType, error) { return r.mt, nil }

// PushReferrer attaches bundle to subject (repo@sha256:…) as cosign 3
// does: an OCI manifest whose only layer is the bundle, with
// artifactType the bundle media type and subject the image.
func PushReferrer(ctx context.Context, subject string, bundle []byte, opts ...remote.Option) error {
	d, err := name.NewDigest(subject, name.WeakValidation)
	if err != nil {
		return err
	}
	opts = append([]remote.Option{remote.WithContext(ctx)}, opts...)
	sd, err := remote.Head(d, opts...)
	if err != nil {
		return fmt.Errorf("reading the subject %s: %w", d, err)
	}
	empty := []byte("{}")
	emptyDesc := v1.Descriptor{MediaType: "application/vnd.oci.empty.v1+json", Size: 2, Digest: sha(empty)}
	layer := v1.Descriptor{MediaType: BundleMediaType, Size: int64(len(bundle)), Digest: sha(bundle)}
	for _, blob := range []struct {
		b []byte
		h v1.Hash
	}{{empty, emptyDesc.Digest}, {bundle, layer.Digest}} {
		if err := remote.WriteLayer(d.Context(), staticLayer(blob.b), opts...); err != nil {
			return fmt.Errorf("pushing a blob: %w", err)
		}
	}
	m := v1.Manifest{
		SchemaVersion: 2, MediaType: types.OCIManifestSchema1, ArtifactType: BundleMediaType,
		Config: emptyDesc, Layers: []v1.Descriptor{layer},
		Subject: &v1.Descriptor{MediaType: sd.MediaType, Size: sd.Size, Digest: sd.Digest},
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return remote.Put(d.Context().Digest(sha(raw).String()), rawManifest{raw, types.OCIManifestSchema1}, opts...)
}

// Referrers returns the bundles attached to subject.
func Referrers(ctx context.Context, subject string, opts ...remote.Option) ([][]byte, error) {
	d, err := name.NewDigest(subject, name.WeakValidation)
	if err != nil {
		return nil, err
	}
	opts = append([]remote.Option{remote.WithContext(ctx)}, opts...)
	idx, err := remote.Referrers(d, opts...)
	if err != nil {
		return nil, err
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	var out [][]byte
	for _, desc := range im.Manifests {
		img, err := remote.Image(d.Context().Digest(desc.Digest.String()), opts...)
		if err != nil {
			return nil, err
		}
		ls, err := img.Layers()
		if err != nil {
			return nil, err
		}
		for _, l := range ls {
			rc, err := l.Compressed()
			if err != nil {
				return nil, err
			}
			b, err := readAll(rc)
			if err != nil {
				return nil, err
			}
			out = append(out, b)
		}
	}
	return out, nil
}
