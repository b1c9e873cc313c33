// Package config reads ferry's settings from the environment and checks
// them before anything is touched.
//
// Every setting is one field of [Config], named FERRY_<NAME> in the
// environment. Values come from, in increasing precedence:
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
// [Config.Validate] reports it together with every other problem, each
// under the name the user actually set ("FERRY_TIMEOUT", or
// "INPUT_TIMEOUT (input "timeout")" in Actions), with an example of a good
// value. Secret values never appear in any error.
//
// [Vars] describes every variable from the struct tags; `ferry env`, the
// README and action.yml are generated from it.
package config
