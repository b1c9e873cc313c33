// Package testenv starts real Kubernetes control planes for ferry's
// end-to-end tests: no mocks of the API, a few seconds per cluster.
//
// # What is real
//
// Each Cluster runs, as child processes of the test binary on 127.0.0.1:
//
//   - etcd (v3.6) and kube-apiserver (v1.37): the real API, with RBAC, admission,
//     validation, defaulting, TLS (a per-cluster CA; serving certificate for
//     127.0.0.1) and an audit log.
//   - kube-controller-manager: the real Deployment and ReplicaSet
//     controllers, so rollouts, revisions (deployment.kubernetes.io/revision),
//     progress deadlines (ProgressDeadlineExceeded), pod template hashes and
//     rollbacks behave as on any cluster. The node lifecycle controller is off
//     (see below).
//   - kube-scheduler: pods are really scheduled, onto the one node.
//   - on request (Cluster.StartArgoRollouts), Argo Rollouts' real
//     controller (v1.9.2, built from its module by hack/build-tool.sh) with
//     every CRD of the same module: it drives Rollouts, their ReplicaSets,
//     canary steps and aborts as in a cluster, from outside it.
//
// # What is simulated
//
// kwok (v0.8) plays the kubelet of one Node, kwok-node-0. No container ever
// runs: kwok only writes pod status, following the Stages in stages.yaml
// (embedded; written to Dir at start), keyed on substrings of the
// containers' images:
//
//	image contains  pod ends up                                          Ready
//	"nopull"        Pending, ErrImagePull, 1 s later ImagePullBackOff     never
//	"configerr"     Pending, CreateContainerConfigError                   never
//	"crash"         Running, CrashLoopBackOff, restartCount +1 every 5 s  never
//	"slowready"     Running and not ready, Ready after a delay (5 s)      later
//	anything else   Running and Ready at once                             yes
//
// The first matching row wins. Only the containers whose image carries the
// substring fail; the others of the pod run and are ready. The annotation
// slowready.testenv.ferry.dev/delay (a Go duration) sets the "slowready"
// delay; pod-ready.stage.kwok.x-k8s.io/delay delays readiness of ordinary
// pods (which stay Pending without statuses until then). The two keys are
// apart so that one pod template can make only "slowready" images slow.
// Pods owned by a Job complete once Ready. Deleted pods vanish at once (no
// graceful termination).
//
// containerStatuses[].imageID, which a real kubelet with containerd fills
// with REPO@sha256:<manifest digest>, is simulated too, for every container
// whose image counts as pulled, by the first rule that applies:
//
//  1. the image holds "@sha256:": REPO@ that digest (a tag is dropped);
//  2. the pod has the annotation imageid.testenv.ferry.dev/<container name>:
//     its value verbatim, or REPO@<value> when the value is a bare
//     "sha256:..." (tests set it to the digest they pushed);
//  3. else a stable fake, REPO@sha256:<hex sha256 of the image string>.
//
// REPO is the image without tag and digest, as written in the spec (not
// normalised to docker.io/library/...). Nopull and configerr containers
// report an empty imageID, as a kubelet does.
//
// The node never sends heartbeats, so the node lifecycle controller is off
// (it would mark the node unreachable every ~50 s), and the
// TaintNodesByCondition admission plugin is off (the not-ready taint of a new
// node would never be lifted). Services get cluster IPs but route nowhere;
// pod IPs are fake; logs and exec do not work.
//
// # Users
//
// The kube-apiserver knows two static tokens, both in group system:masters:
// AdminUser for Cluster.Admin and the cluster's own components, and
// FerryUser for the kubeconfig that Kubeconfig writes for the code under
// test. Cluster.Mutations reads the audit log and returns the writes made as
// FerryUser, so a test can assert that a bad configuration reached no API
// server. The tokens are random per cluster and live only in Dir (mode 0600).
//
// StartClusterWith's TokenWebhook option adds a webhook token
// authenticator (--authentication-token-webhook-config-file): tokens the
// static file does not know are sent as TokenReviews to a webhook that
// the test serves (internal/testenv/kubeauth checks EKS, GKE and AKS
// tokens minted by the cloud emulators), with RBAC deciding what they may
// do. Off by default.
//
// # Binaries and processes
//
// BinDir finds the binaries: $FERRY_TESTENV_BIN, else the folder printed by
// hack/build-testenv.sh, which builds them from the Go module proxy once per
// machine (about ten minutes cold). A missing binary is an error: tests
// fail, they do not skip.
//
// Every port is a random free loopback port, so several clusters run side by
// side (a plane takes about 570 MiB). Children run in their own process
// group and receive SIGKILL if the test binary dies; Stop ends them in the
// order kwok, kube-scheduler, kube-controller-manager, kube-apiserver, etcd
// and removes Dir unless KeepLogs was called.
package testenv
