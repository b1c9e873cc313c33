// Package frontends reads ferry's CI front ends — the GitHub Action's
// action.yml, the CircleCI orb's source under orb/src, and the Dockerfile —
// so that tests can hold them to the code they wrap.
//
// [PackOrb] packs an orb source tree the way `circleci orb pack` does:
// src/@orb.yml, then every YAML file of commands/, jobs/, executors/ and
// examples/ under its file name without the extension, with a string that
// is exactly <<include(path)>> replaced by that file's content.
// [Orb.Validate] checks the packed orb against the rules of CircleCI's
// config processor and the orb development kit's review (keys, parameter
// types and defaults, references to commands and executors, parameters
// declared and used), and [Orb.ExpandJob] and [Orb.ExpandCommand] expand an
// invocation into the built-in steps CircleCI would run, so a test can run
// them.
//
// [LoadAction] reads action.yml, and [Action.Env] computes the INPUT_*
// variables the Actions runner hands a docker action. [ParseDockerfile]
// reads the parts of a Dockerfile that end up in an image's config.
//
// Nothing here talks to CircleCI, GitHub or a docker daemon.
package frontends
