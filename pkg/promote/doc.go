// Package promote is ferry's pipeline: resolve the source to one digest,
// snapshot every target, release to the targets that need it (in parallel,
// bounded), verify them, and on any failure restore every target that
// changed, on a context that outlives the caller's cancellation.
//
// Targets and sources are small interfaces defined here, where they are
// used; pkg/kube and pkg/heroku implement them. The package never prints:
// it reports progress through a [Logger] and returns a [Report].
package promote
