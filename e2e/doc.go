// Package e2e runs the ferry binary the way CI runs it — a subprocess
// configured by environment variables only — against real Kubernetes
// control planes (internal/testenv: etcd, kube-apiserver,
// kube-controller-manager, kube-scheduler, kwok as the kubelets), real
// registries, and the cloud emulators of internal/testenv/cloudlab.
//
// TestMain builds ferry once, starts the cloud lab (a CONNECT proxy with a
// test CA that serves AWS, Google, Entra ID, GitHub's and CircleCI's OIDC
// issuers and the clouds' registries under their real host names), then a
// "staging" and a "production" cluster whose kube-apiservers ask the lab's
// TokenReview webhook about every token that is not one of their static
// ones, with RBAC on; it stops them when the tests end. A cluster, the lab
// or the action sandbox that cannot start fails the run; nothing here
// skips.
//
// runAction runs ferry as the Actions runner runs a docker action: in a
// private mount namespace (sandbox_test.go; root only) whose root holds
// /ko-app/ferry, a CA bundle and the runner's folders mounted at
// /github/workspace, /github/home, /github/workflow and
// /github/file_commands, with HOME /github/home and the runner's own
// variables (RUNNER_TEMP, RUNNER_WORKSPACE naming host paths that do not
// exist inside). The cloud tests (cloud*_test.go) reach the lab through
// HTTPS_PROXY and the CA bundle only, with no plugin on PATH.
package e2e
