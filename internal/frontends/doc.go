// Package frontends reads ferry's CI front ends — the GitHub Action's
// action.yml and the CircleCI orb's source under orb/src — so that tests
// can hold them to the code they wrap, and so that a release can be held
// to naming its images by digest.
//
// [PackOrb] packs an orb source tree the way `circleci orb pack` does (the
// CircleCI CLI, which the release workflow publishes with, cannot be
// installed where the tests run): src/@orb.yml, then every YAML file of
// commands/, jobs/, executors/ and examples/ under its file name without
// the extension, with a string that is exactly <<include(path)>> replaced
// by that file's content.
// [CheckWithCircleCI] checks the packed orb with CircleCI's own config
// parser (@circleci/circleci-config-parser, in node): parameter
// declarations, component schemas, references, the examples' use of the
// orb. [Orb.Validate] checks what that parser does not (keys, the orb
// development kit's review rules, parameters declared and used, arguments'
// names and types), and [Orb.ExpandJob] and [Orb.ExpandCommand] expand an
// invocation into the built-in steps CircleCI would run, so a test can run
// them.
//
// [LoadAction] reads action.yml, and [Action.Env] computes the INPUT_*
// variables the Actions runner hands a docker action. [CheckPinned],
// [Action.PinnedImage] and [Orb.CheckPinnedImages] say whether a release's
// action and orb name their images by digest, and [Orb.CheckInstalls]
// whether the orb's install command downloads only the release's own
// binaries.
//
// Nothing here talks to CircleCI, GitHub or a docker daemon.
package frontends
