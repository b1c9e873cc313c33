package kube

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/go-containerregistry/pkg/authn"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ferry-dev/ferry/pkg/keychain"
)

// PullSecrets is a keychain of the credentials the pods of the Deployment
// r names pull their images with, as the kubelet finds them: the pod
// template's imagePullSecrets, then its service account's. A secret that
// is missing or of another type is skipped, as the kubelet skips it; one
// ferry may not read (RBAC) is an error naming the secret and the verb to
// grant. It reads the secrets when first asked.
func PullSecrets(clients *Clients, r Ref) authn.Keychain {
	return keychain.Lazy(func(ctx context.Context) (authn.Keychain, error) {
		kcs, err := pullSecrets(ctx, clients, r)
		if err != nil {
			return nil, fmt.Errorf("the pull secrets of %s: %w", r, err)
		}
		return authn.NewMultiKeychain(kcs...), nil
	})
}

func pullSecrets(ctx context.Context, clients *Clients, r Ref) ([]authn.Keychain, error) {
	cs, err := clients.Client(ctx, r.Context)
	if err != nil {
		return nil, err
	}
	tmpl, err := podTemplate(ctx, cs, r)
	if err != nil {
		return nil, err
	}
	pod := tmpl.Spec
	names := pullSecretNames(pod.ImagePullSecrets)
	sa := pod.ServiceAccountName
	if sa == "" {
		sa = "default"
	}
	acct, err := cs.ServiceAccounts(r.Namespace).Get(ctx, sa, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
	case err != nil:
		return nil, fmt.Errorf("reading service account %s/%s (ferry needs get on serviceaccounts there): %w", r.Namespace, sa, err)
	default:
		names = append(names, pullSecretNames(acct.ImagePullSecrets)...)
	}
	var out []authn.Keychain
	for _, n := range names {
		kc, err := readPullSecret(ctx, cs, r.Namespace, n)
		if err != nil {
			return nil, err
		}
		if kc != nil {
			out = append(out, kc)
		}
	}
	return out, nil
}

func pullSecretNames(refs []corev1.LocalObjectReference) []string {
	var out []string
	for _, r := range refs {
		if r.Name != "" {
			out = append(out, r.Name)
		}
	}
	return out
}

// readPullSecret is the keychain of one pull secret, nil when the secret
// is missing or holds no registry credentials.
func readPullSecret(ctx context.Context, cs API, ns, name string) (authn.Keychain, error) {
	sec, err := cs.Secrets(ns).Get(ctx, name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("reading pull secret %s/%s (ferry needs get on secrets there): %w", ns, name, err)
	}
	var raw []byte
	switch sec.Type {
	case corev1.SecretTypeDockerConfigJson:
		raw = sec.Data[corev1.DockerConfigJsonKey]
	case corev1.SecretTypeDockercfg:
		raw = sec.Data[corev1.DockerConfigKey]
	default:
		return nil, nil
	}
	kc, err := keychain.ConfigJSON(raw)
	if err != nil {
		return nil, errors.New("pull secret " + ns + "/" + name + ": " + err.Error())
	}
	return kc, nil
}

// podTemplate reads the pod template of the workload r names.
func podTemplate(ctx context.Context, cs API, r Ref) (corev1.PodTemplateSpec, error) {
	// Pull secrets belong to the pod: whichever containers r names (a
	// source whose containers a mapping picks names none), the workload
	// only has to be there.
	w, err := readWorkload(ctx, cs, kindOf(r), r.Namespace, r.Name)
	if err != nil {
		return corev1.PodTemplateSpec{}, err
	}
	return w.template, nil
}
