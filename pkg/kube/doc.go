// Package kube reads and changes Kubernetes workloads for ferry:
// Deployments (deployment.go, target.go), and StatefulSets, DaemonSets and
// Argo Rollouts' Rollouts through the workload abstraction (workload.go,
// statefulset.go, daemonset.go, rollout_kind.go), each kind with its own
// pure evaluator; Rollouts are read and patched as unstructured objects and
// judged by what their controller reports. Every kind is patched, watched
// (watch.go) and restored (restore.go) by the same code around its
// evaluator; a Deployment's snapshot, description and rollback keep their
// own, which know its ReplicaSets, pausing and revision history. A target may
// change several containers, init containers included, in one patch
// (containers.go); one that Helm, Argo CD or Flux manages is refused
// unless told otherwise (owner.go); plan rehearses a release with access
// reviews and a server-side dry run (rehearse.go).
//
// A [Source] resolves the image a Deployment's container runs to a digest:
// from the spec when it is pinned, else from what the current ReplicaSet's
// pods report in status.containerStatuses[].imageID (a kubelet with
// containerd reports "repo@sha256:<manifest digest>"), else, when the user
// allows it, from the registry.
//
// A [Target] snapshots a Deployment (revision, generation, whole pod
// template), releases by pointing one container at "repo@sha256:..." with a
// JSON patch that first tests the generation it snapshotted, verifies with
// informers (watches that resume after API server restarts) and [Evaluate],
// and restores by putting the snapshotted pod template back — which works
// with revisionHistoryLimit: 0, where `kubectl rollout undo` has nothing to
// go back to.
//
// Every call goes through [API]: Deployments, ReplicaSets and Pods over a
// REST client whose scheme holds apps/v1 and core/v1 only ([NewAPI]), not
// client-go's clientset, which would register every API group there is.
//
// Clients are built from kubeconfig files (KUBECONFIG path lists), from
// kubeconfig bytes held in memory (FERRY_KUBECONFIG_DATA), or from the
// in-cluster service account.
package kube
