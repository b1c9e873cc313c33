// Package kubeauth lets a real kube-apiserver (internal/testenv) trust
// the clouds' tokens as EKS, GKE and AKS clusters do, and writes the
// kubeconfigs the clouds' CLIs write.
//
// # Webhook
//
// StartWebhook serves authentication.k8s.io/v1 TokenReviews over TLS on
// 127.0.0.1; its Config goes into testenv.ClusterOptions.TokenWebhook,
// which starts kube-apiserver with --authentication-token-webhook-config-file,
// --authentication-token-webhook-version=v1 and
// --authentication-token-webhook-cache-ttl=0s; kube-apiserver still
// remembers a successful authentication for 10 s (its own token cache),
// so an expired token is refused at most 10 s after its last accepted
// request, as on a real cluster with a zero webhook cache. The static tokens of AdminUser and
// FerryUser keep working. The webhook accepts only what one of its
// Authenticators accepts; everything else gets authenticated=false, so a
// wrong token is a 401. RBAC stays on: an authenticated user without a
// Role is a 403. Grant binds a user or group to a Role with FerryRules
// (the verbs and resources ferry uses, read off pkg/kube) or any others.
// Reviews lists who was reviewed and why a token was refused, never the
// token.
//
// EKS follows aws-iam-authenticator's pkg/token/token.go Verify: prefix
// "k8s-aws-v1.", at most 4096 bytes, base64url (no padding) of an https
// URL on sts.amazonaws.com or sts.REGION.amazonaws.com with path "/", only
// the allowed query parameters (action, version, x-amz-*), each once,
// Action=GetCallerIdentity, x-k8s-aws-id among the signed headers,
// X-Amz-Expires 0..900, X-Amz-Date no older than MaxAge (15 minutes, as
// EKS; tests make it shorter). It then GETs the URL, with x-k8s-aws-id set
// to its ClusterID and Accept: application/json, from the STS emulator
// (whose SigV4 check fails when the token was minted for another
// cluster), canonicalises the ARN (assumed-role → role) and maps it with
// Mappings (username templates {{AccountID}}, {{SessionName}}); an
// unmapped principal is refused.
//
// GKE accepts "ya29." access tokens its Lookup knows (the Google
// emulator's), user = the service account e-mail or federated principal.
// AKS accepts RS256 Entra ID tokens signed by the tenant's keys, from an
// accepted issuer, with aud 6dae42f8-4368-4678-94ff-3960e28e3630 (or
// spn:...); user = upn or else oid, groups = the groups claim.
//
// # Kubeconfigs
//
// EKSKubeconfig, GKEKubeconfig and AKSKubeconfig write what `aws eks
// update-kubeconfig` (and the EKS guide's aws-iam-authenticator variant),
// `gcloud container clusters get-credentials` and `az aks get-credentials`
// (optionally followed by `kubelogin convert-kubeconfig -l spn |
// workloadidentity | azurecli`) write, each function citing the source it
// follows; only server and CA are the test cluster's.
//
// # What it does not cover
//
// EKS access entries' API, aws-auth ConfigMap parsing, mapAccounts, the
// aws-iam-authenticator server's metrics and dynamic file mode; GKE's
// Google Groups for RBAC and its own authorization layer; AKS Azure RBAC
// for Kubernetes authorization, PoP tokens and group overage claims; the
// EKS/GKE/AKS APIs that the CLIs call to write their kubeconfigs.
package kubeauth
