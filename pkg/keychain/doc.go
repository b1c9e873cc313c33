// Package keychain is ferry's registry keychain, in the spirit of ko's:
// one ordered list of places credentials come from — Docker's and
// podman's config files, the clouds' registries (ECR, Artifact Registry
// and GCR, ACR), ghcr.io with a GitHub token, and for a k8s: source the
// pull secrets of its pods — where the first that has credentials for a
// registry serves it, and the log says which one did (never the
// credential).
//
// Files are found from the environment ferry read once (config.Env), not
// from the process environment: DOCKER_CONFIG (else ~/.docker),
// REGISTRY_AUTH_FILE, $XDG_RUNTIME_DIR/containers/auth.json and
// $XDG_CONFIG_HOME/containers/auth.json (podman and skopeo). Credential
// helpers named in a Docker config (credsStore, credHelpers) run as
// Docker runs them, when installed.
package keychain
