// Package images builds deterministic container images for tests and serves
// them from in-process registries, without a docker daemon.
//
// [Build] makes a single-platform image whose layers are gzip (or zstd)
// tarballs holding one file of pseudo-random bytes. Everything is derived
// from [Spec.Seed]: the same Spec always yields the same layer, config and
// manifest digests. Layer i is generated from Seed+i, so two images whose
// seeds differ by k share Layers-k layer blobs, which is how tests exercise
// "only the new layer is uploaded". [Index] combines several images into a
// multi-platform OCI index.
//
// [StartRegistry] serves go-containerregistry's registry on a loopback port.
// Unlike the stock handler, blobs are visible per repository and cross-
// repository mounts (POST .../blobs/uploads/?mount=D&from=R) are honoured,
// as real registries do, so existence checks and mounts can be told apart.
// [StartRegistryWith] adds a middleware hook; [UploadCounter] and [Fault]
// are ready-made middlewares that count uploaded bytes and inject failures.
package images
