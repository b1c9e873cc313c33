// Package gate measures metrics between the waves of a promotion and
// judges them with Argo Rollouts' analysis semantics, so that a team's
// existing analysis means the same thing here, run from CI and without a
// controller.
//
// A gate is one metric: a provider (Prometheus, instant or range query;
// or web, a URL and a JSONPath) measured count times, interval apart,
// after initialDelay. Each measurement is judged by successCondition and
// failureCondition, expr-lang expressions over result (see [Judge]); the
// metric is judged from its measurements so far by failureLimit,
// inconclusiveLimit and consecutiveErrorLimit (see [Assess]). A provider
// that cannot be reached, or a condition that cannot be evaluated, is an
// Error measurement, never a pass.
//
// FERRY_GATES is YAML: a list of metrics written as in an Argo Rollouts
// AnalysisTemplate's spec.metrics (see [Parse]), with ferry's additions
// for credentials that come from the environment. Everything is checked
// and every expression compiled before anything changes.
//
// Where ferry differs from Argo Rollouts: count defaults to 1 and must be
// at least 1 (a gate has to end); providers other than prometheus and web
// are refused as unsupported.
package gate
