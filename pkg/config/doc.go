// Package config reads ferry's settings from the environment and checks
// them before anything is touched.
//
// [Load] reads the environment once into [Settings]: every setting is one
// field, named FERRY_<NAME> in the environment, and the whole environment
// is kept as [Env] for what else ferry needs of it (CI metadata, Docker's
// credential files). [Settings.Check] turns Settings into a [Config] for one
// command, in typed groups, without changing them. Values come from, in increasing precedence:
//
//  1. the ecosystem's own names where one exists (KUBECONFIG,
//     HEROKU_API_KEY),
//  2. FERRY_<NAME>,
//  3. in GitHub Actions only, the step's inputs: the runner passes input
//     "kubeconfig-data" as INPUT_KUBECONFIG-DATA (upper-cased, hyphens
//     kept) and an optional input left out as an empty string.
//
// An empty value counts as unset everywhere, so defaults apply.
//
// [Load] never fails on a bad value: it keeps the problem and
// [Settings.Check] reports it together with every other problem, each
// under the name the user actually set ("FERRY_TIMEOUT", or
// "INPUT_TIMEOUT (input "timeout")" in Actions), with an example of a good
// value. A FERRY_ variable (and in Actions an INPUT_ variable) that is no
// setting is a problem too, with the one it was probably meant to be.
// Secret values never appear in any error.
//
// [Vars] describes every variable from the struct tags; `ferry env`, the
// README and action.yml are generated from it.
package config
