// Package image names container images by digest and resolves references
// through registries. An [Image] is the unit ferry promotes: a repository and
// the immutable manifest digest that every target ends up running.
//
// [Copy] moves an image between registries the way a registry client
// should: blob by blob and streaming (memory does not grow with the image),
// skipping blobs the destination already has, mounting blobs from another
// repository of the same registry, and retrying 429 and 5xx answers with
// bounded backoff that honours Retry-After ([RemoteOptions] says who
// retries what; every registry call of ferry's uses them). It is built on
// go-containerregistry's remote package, which does the existence checks,
// mounts and parallel uploads; Copy adds the policy (platform choice, Heroku
// conversion), counts what happened from the HTTP exchanges, and reads the
// destination back to check the result.
//
// Heroku mode ([CopyOptions].DockerV2S2) exists because registry.heroku.com
// takes exactly one Docker v2 schema 2 manifest per process type: an index
// is narrowed to one platform, and [ConvertForHeroku] relabels OCI media
// types as their Docker equivalents without touching a blob. The config
// blob stays byte-identical, so its digest, which Heroku's formation API
// calls the image id, is the same as the source's.
package image
