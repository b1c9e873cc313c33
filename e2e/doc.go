// Package e2e runs the ferry binary the way CI runs it — a subprocess
// configured by environment variables only — against real Kubernetes
// control planes (internal/testenv: etcd, kube-apiserver,
// kube-controller-manager, kube-scheduler, kwok as the kubelets) and a
// real registry.
//
// TestMain builds ferry once, starts a "staging" and a "production"
// cluster, and stops them when the tests end. A cluster that cannot start
// fails the run; nothing here skips.
package e2e
