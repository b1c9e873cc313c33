package main

import (
	"fmt"

	"github.com/ferry-dev/ferry/pkg/address"
	"github.com/ferry-dev/ferry/pkg/config"
	"github.com/ferry-dev/ferry/pkg/httpx"
	"github.com/ferry-dev/ferry/pkg/image"
	"github.com/ferry-dev/ferry/pkg/promote"
	"github.com/ferry-dev/ferry/pkg/verify"
)

// checks are the source checks of promote and plan: the signature policy,
// when FERRY_VERIFY_* set one. Signatures are read with the keychain of
// the image pulls (a k8s: source's pull secrets included: call it after
// source).
func (a *app) checks() ([]promote.SourceCheck, error) {
	v := a.cfg.Verify
	if !v.Policy.Enabled() {
		return nil, nil
	}
	root, err := verify.TrustedRoot(v.TrustedRoot)
	if err != nil {
		if v.TrustedRoot != "" {
			err = fmt.Errorf("FERRY_VERIFY_TRUSTED_ROOT: %w; give a trusted_root.json of your Sigstore instance, or unset it for the public-good one", err)
		}
		return nil, promote.Input(err)
	}
	for _, t := range a.cfg.Targets {
		if t.Kind == address.KindHeroku && a.cfg.Command == config.CommandPromote {
			a.log.Logf(t.String(), "registry.heroku.com accepts only Docker v2 schema 2 image manifests: the signatures and attestations verified on the source are not copied there; the report keeps the verification")
		}
	}
	return []promote.SourceCheck{&verify.Checker{
		Policy:   v.Policy,
		Root:     root,
		Keychain: a.keychain,
		Options:  image.RemoteOptions(nil, httpx.Policy{}, nil),
	}}, nil
}
