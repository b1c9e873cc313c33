// Package rbac holds the Kubernetes access ferry needs, roles.yaml: a Role
// for the namespace of the source Deployment, a Role for the namespace of a
// target, and a RoleBinding to bind them with. README.md shows the same
// file (between its RBAC markers).
//
// Its test proves the file on a real control plane
// (internal/testenv: kube-apiserver with RBAC, the real controllers,
// kwok's pods): it applies roles.yaml as it is, except for the namespaces,
// and runs the ferry binary as a user who has nothing but what the
// RoleBinding gives (ferry's kubeconfig impersonates a user in the
// binding's group). plan, promote, status and rollback from a staging
// Deployment to a production one pass; a promotion that crashes in
// production is restored; a source with no running pod is resolved in a
// registry that wants the credentials of the pull secret its service
// account names. The API server's audit log then shows that no request of
// ferry's was refused (its informers retry a refused watch quietly, so exit
// codes alone would not tell) and that every verb the file grants was used
// (the restore runs with client-go's streaming lists off,
// KUBE_FEATURE_WatchListClient=false, as against an API server without
// them, so the informers' lists are used too). Without the RoleBinding the
// same user is refused.
//
// What it does not prove: that the clouds map their identities to the
// binding's subject (an EKS access entry's group, a GKE service account's
// email, an AKS service principal's object id) — that is the clouds' side,
// covered in the README.
package rbac
