package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/ferry-dev/ferry/bench/internal/measure"
	"github.com/ferry-dev/ferry/bench/internal/results"
	"github.com/ferry-dev/ferry/internal/testenv/herokuemu"
	"github.com/ferry-dev/ferry/internal/testenv/images"
	"github.com/ferry-dev/ferry/internal/testenv/sigstoretest"
	"github.com/ferry-dev/ferry/pkg/promote"
)

// signRuns is how often each variant runs per round.
const signRuns = 5

// signScenario measures what verifying the source adds: `ferry plan` of a
// plain image reference to a Heroku app (the emulator), with and without
// a signature policy, the source carrying one cosign signature bundle and
// one SLSA provenance attestation bundle as OCI referrers (made by the
// pinned cosign CLI with a key, no transparency log), in a registry on
// loopback with the referrers API.
func (b *bench) signScenario(ctx context.Context) error {
	src, pub, stop, err := b.signedSource(ctx)
	if err != nil {
		return err
	}
	defer stop()
	e, key, err := signTarget(ctx)
	if err != nil {
		return err
	}
	defer e.Close()

	base := append(b.env(), "FERRY_SOURCE="+src, "FERRY_TARGETS=heroku:shop", "HEROKU_API_KEY="+key,
		"FERRY_HEROKU_API_URL="+e.APIURL(), "FERRY_HEROKU_REGISTRY="+e.RegistryHost(), "FERRY_OUTPUT=json")
	policy := []string{"FERRY_VERIFY_KEY=" + pub, "FERRY_VERIFY_TLOG=false", "FERRY_VERIFY_PROVENANCE=builder=https://github.com/actions/runner/github-hosted,repository=github.com/acme/shop,ref=refs/heads/main"}
	variants := []signVariant{
		{"plan with the signature policy", append(append([]string{}, base...), policy...)},
		{"plan without", base},
	}
	res, err := b.signRuns(ctx, variants, len(base))
	if err != nil {
		return err
	}
	with, without := res[variants[0].name], res[variants[1].name]
	for _, v := range variants {
		b.addRaw("source signature check", v.name, res[v.name])
	}
	added := measure.Summarize(col(with, wall)).Median - measure.Summarize(col(without, wall)).Median
	desc := fmt.Sprintf("ferry plan, plain image source → one Heroku app (emulator); the source carries one cosign signature bundle and one slsaprovenance1 attestation bundle (OCI referrers, registry on loopback); %d rounds × %d runs per variant, order alternating", b.cfg.runs, signRuns)
	b.add(results.New("signature and provenance check, added wall time (median with − median without)", "ms", []float64{added * 1000}, "", nil,
		&results.Bound{Text: "≤ 150 ms", Max: 150}).WithNote(desc))
	b.add(results.New("`ferry plan` with the signature check, wall time", "ms", msOf(col(with, wall)), "the same plan without", msOf(col(without, wall)), nil))
	b.add(results.New("`ferry plan` with the signature check, peak RSS", "MB", col(with, rss), "the same plan without", col(without, rss), nil))
	b.addCommand("signature check", "FERRY_SOURCE=REGISTRY/acme/shop@sha256:… FERRY_TARGETS=heroku:shop FERRY_VERIFY_KEY=cosign.pub FERRY_VERIFY_TLOG=false FERRY_VERIFY_PROVENANCE=builder=…,repository=github.com/acme/shop,ref=refs/heads/main ferry plan   # against the same without FERRY_VERIFY_*; signed with cosign sign/attest --key cosign.key --signing-config (no services)")
	return nil
}

// signedSource pushes an image to a registry with the referrers API and
// signs it with cosign: a signature bundle and a slsaprovenance1
// attestation bundle, with a key and no transparency log. It returns the
// image pinned, the public key file, and how to stop the registry.
func (b *bench) signedSource(ctx context.Context) (src, pub string, stop func(), err error) {
	host, stop, err := images.StartRegistryWith(images.RegistryOptions{Referrers: true})
	if err != nil {
		return "", "", nil, err
	}
	defer func() {
		if err != nil {
			stop()
		}
	}()
	img, err := fixture(300, 2, 1<<20, true, platformAMD64)
	if err != nil {
		return "", "", nil, err
	}
	d, err := push(ctx, host+"/acme/shop:v1", img)
	if err != nil {
		return "", "", nil, err
	}
	src = host + "/acme/shop@" + d.String()
	dir := filepath.Join(b.cfg.work, "sign")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", "", nil, err
	}
	s, err := sigstoretest.NewSigner(ctx, dir)
	if err != nil {
		return "", "", nil, err
	}
	pred := filepath.Join(dir, "provenance.json")
	pb, _ := json.Marshal(map[string]any{
		"buildDefinition": map[string]any{"externalParameters": map[string]any{"workflow": map[string]any{"repository": "https://github.com/acme/shop", "ref": "refs/heads/main"}}},
		"runDetails":      map[string]any{"builder": map[string]any{"id": "https://github.com/actions/runner/github-hosted"}},
	})
	if err := os.WriteFile(pred, pb, 0o600); err != nil {
		return "", "", nil, err
	}
	if err := s.Sign(ctx, src); err != nil {
		return "", "", nil, err
	}
	if err := s.Attest(ctx, src, "slsaprovenance1", pred); err != nil {
		return "", "", nil, err
	}

	return src, s.Pub, stop, nil
}

// signTarget starts a Heroku emulator with app shop running an image, and
// returns it with an API key for the app.
func signTarget(ctx context.Context) (e *herokuemu.Emulator, key string, err error) {
	e, err = herokuemu.New(herokuemu.Options{})
	if err != nil {
		return nil, "", err
	}
	key = randomKey()
	e.AddKey(key, "shop")
	if _, err := e.CreateApp("shop", "container"); err != nil {
		return nil, "", err
	}
	seed, err := fixture(301, 1, 16<<10, false, platformAMD64)
	if err != nil {
		return nil, "", err
	}
	if _, err := images.Push(ctx, e.RegistryHost()+"/shop/web:latest", seed, remote.WithAuth(&authn.Basic{Username: "_", Password: e.SeedKey()})); err != nil {
		return nil, "", err
	}
	id, err := seed.ConfigName()
	if err != nil {
		return nil, "", err
	}
	if _, err := e.Deploy("shop", map[string]string{"web": id.String()}); err != nil {
		return nil, "", err
	}
	if err := e.WaitIdle(ctx, "shop"); err != nil {
		return nil, "", err
	}

	return e, key, nil
}

type signVariant struct {
	name string
	env  []string
}

// signRuns runs each variant of ferry plan, in rounds alternating their
// order, and checks that the policy's variant verified the signature and
// the provenance (and only that one: its environment is longer than
// baseLen).
func (b *bench) signRuns(ctx context.Context, variants []signVariant, baseLen int) (map[string][]sample, error) {
	res := map[string][]sample{}
	for round := range b.cfg.runs {
		for _, v := range measure.Rotate(variants, round) {
			for range signRuns {
				cmd := exec.Command(b.cfg.ferry, "plan")
				cmd.Env = v.env
				smp, err := measure.Run(ctx, cmd)
				if err != nil {
					return nil, fmt.Errorf("%s: %w", v.name, err)
				}
				var rep promote.Report
				if err := json.Unmarshal(smp.Stdout, &rep); err != nil {
					return nil, fmt.Errorf("%s: the report: %w", v.name, err)
				}
				verified := len(rep.Verifications) == 1 && rep.Verifications[0].Passed && rep.Verifications[0].Provenance != nil
				if verified != (len(v.env) > baseLen) {
					return nil, fmt.Errorf("%s: verifications %+v", v.name, rep.Verifications)
				}
				res[v.name] = append(res[v.name], sample{wall: smp.Wall.Seconds(), cpu: smp.CPU.Seconds(), rss: float64(smp.MaxRSS) / 1e6, uploaded: -1})
			}
		}
	}
	return res, nil
}

func msOf(s []float64) []float64 {
	out := make([]float64, len(s))
	for i, v := range s {
		out[i] = v * 1000
	}
	return out
}
