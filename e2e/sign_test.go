package e2e

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/ferry-dev/ferry/internal/testenv/images"
	"github.com/ferry-dev/ferry/internal/testenv/sigstoretest"
	"github.com/ferry-dev/ferry/pkg/promote"
)

// signLab is what the signature tests share: a registry with the
// referrers API (the shared one has none: cosign and ferry use the tag
// fallback there), a cosign key pair and another one, and a private
// Sigstore instance with its trusted root file.
type signLab struct {
	host         string
	key, other   *sigstoretest.Signer
	keyless      *sigstoretest.Keyless
	trustedRoot  string
	provenance   string // a SLSA v1 predicate file: github.com/acme/shop, refs/heads/main
	evilProvence string // the same from github.com/evil/shop
}

func newSignLab(t *testing.T) *signLab {
	t.Helper()
	ctx := context.Background()
	host, stop, err := images.StartRegistryWith(images.RegistryOptions{Referrers: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	l := &signLab{host: host}
	if l.key, err = sigstoretest.NewSigner(ctx, t.TempDir()); err != nil {
		t.Fatal(err)
	}
	if l.other, err = sigstoretest.NewSigner(ctx, t.TempDir()); err != nil {
		t.Fatal(err)
	}
	if l.keyless, err = sigstoretest.NewKeyless(); err != nil {
		t.Fatal(err)
	}
	root, err := l.keyless.TrustedRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	l.trustedRoot = filepath.Join(dir, "trusted_root.json")
	l.provenance = filepath.Join(dir, "provenance.json")
	l.evilProvence = filepath.Join(dir, "evil-provenance.json")
	for path, data := range map[string]any{
		l.provenance:   slsaPredicate("https://github.com/acme/shop", "refs/heads/main"),
		l.evilProvence: slsaPredicate("https://github.com/evil/shop", "refs/heads/main"),
	} {
		b, _ := json.Marshal(data)
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(l.trustedRoot, root, 0o600); err != nil {
		t.Fatal(err)
	}
	return l
}

// slsaPredicate is a SLSA v1 predicate as actions/attest-build-provenance
// writes it.
func slsaPredicate(repo, ref string) map[string]any {
	return map[string]any{
		"buildDefinition": map[string]any{
			"buildType":          "https://actions.github.io/buildtypes/workflow/v1",
			"externalParameters": map[string]any{"workflow": map[string]any{"ref": ref, "repository": repo, "path": ".github/workflows/release.yml"}},
		},
		"runDetails": map[string]any{"builder": map[string]any{"id": "https://github.com/actions/runner/github-hosted"}},
	}
}

// signedApp pushes a fresh image to host/repo, runs it on a staging
// Deployment and puts a production Deployment on an older image; it
// returns the namespaces and the image pinned.
func signedApp(t *testing.T, host, repo string) (sns, pns, ref, digest string) {
	t.Helper()
	img, err := images.Build(images.Spec{Seed: seed.Add(1) * 7919})
	if err != nil {
		t.Fatal(err)
	}
	full := host + "/" + repo
	d, err := images.Push(context.Background(), full+":v2", img)
	if err != nil {
		t.Fatal(err)
	}
	sns = namespace(t, staging)
	create(t, staging, sns, deploy{
		name:           "web",
		containers:     []corev1.Container{container("app", full+":v2")},
		podAnnotations: map[string]string{"imageid.testenv.ferry.dev/app": full + "@" + d.String()},
	})
	pns = namespace(t, production)
	create(t, production, pns, deploy{name: "web", containers: []corev1.Container{container("app", full+":v1")}})
	return sns, pns, full + "@" + d.String(), d.String()
}

const (
	releaseWorkflow = "https://github.com/acme/shop/.github/workflows/release.yml@refs/heads/main"
	githubIssuer    = "https://token.actions.githubusercontent.com"
)

func TestSignedSourcePromotes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	l := newSignLab(t)
	keyed := func(pub string) env {
		return baseEnv().with("FERRY_VERIFY_KEY", pub, "FERRY_VERIFY_TLOG", "false")
	}
	keyless := baseEnv().with("FERRY_VERIFY_IDENTITY", `https://github\.com/acme/shop/\.github/workflows/release\.yml@refs/heads/.*`,
		"FERRY_VERIFY_ISSUER", githubIssuer, "FERRY_VERIFY_TRUSTED_ROOT", l.trustedRoot)
	keylessBundle := func(t *testing.T, ref, digest, identity, predicateType string, predicate any) []byte {
		t.Helper()
		st, err := sigstoretest.Statement(digest, predicateType, predicate)
		if err != nil {
			t.Fatal(err)
		}
		b, err := l.keyless.Bundle(identity, githubIssuer, st)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	attach := func(t *testing.T, ref string, bundle []byte) {
		t.Helper()
		if err := sigstoretest.PushReferrer(ctx, ref, bundle); err != nil {
			t.Fatal(err)
		}
	}

	for _, tc := range []signCase{
		{
			name: "cosign bundle as referrer",
			sign: func(t *testing.T, ref, _ string) { must(t, l.key.Sign(ctx, ref)) },
			env:  keyed(l.key.Pub),
			check: func(t *testing.T, v promote.Verification) {
				if s := v.Signature; s == nil || !strings.HasPrefix(s.Where, "OCI referrer ") || s.Format != "sigstore bundle" || !strings.HasPrefix(s.Key, "sha256:") {
					t.Errorf("signature %+v", v.Signature)
				}
			},
		},
		{
			name:     "cosign bundle only through the tag fallback",
			fallback: true,
			sign:     func(t *testing.T, ref, _ string) { must(t, l.key.Sign(ctx, ref)) },
			env:      keyed(l.key.Pub),
			check: func(t *testing.T, v promote.Verification) {
				if s := v.Signature; s == nil || !strings.HasPrefix(s.Where, "referrers tag sha256-") {
					t.Errorf("signature %+v", v.Signature)
				}
			},
		},
		{
			name: "legacy cosign sig tag",
			sign: func(t *testing.T, ref, _ string) { must(t, l.key.SignLegacy(ctx, ref)) },
			env:  keyed(l.key.Pub),
			check: func(t *testing.T, v promote.Verification) {
				if s := v.Signature; s == nil || s.Format != "cosign signature" || !strings.HasSuffix(s.Where, ".sig") {
					t.Errorf("signature %+v", v.Signature)
				}
			},
		},
		{
			name: "cosign signature and provenance",
			sign: func(t *testing.T, ref, _ string) {
				must(t, l.key.Sign(ctx, ref))
				must(t, l.key.Attest(ctx, ref, "slsaprovenance1", l.provenance))
			},
			env: keyed(l.key.Pub).with("FERRY_VERIFY_PROVENANCE", "builder=https://github.com/actions/runner/github-hosted,repository=github.com/acme/shop,ref=refs/heads/main"),
			check: func(t *testing.T, v promote.Verification) {
				if p := v.Provenance; p == nil || p.Repository != "https://github.com/acme/shop" || p.Builder != "https://github.com/actions/runner/github-hosted" {
					t.Errorf("provenance %+v", v.Provenance)
				}
			},
		},
		{
			name: "keyless with a private trusted root",
			sign: func(t *testing.T, ref, digest string) {
				attach(t, ref, keylessBundle(t, ref, digest, releaseWorkflow, sigstoretest.PredicateCosignSign, nil))
				attach(t, ref, keylessBundle(t, ref, digest, releaseWorkflow, sigstoretest.PredicateSLSAv1, slsaPredicate("https://github.com/acme/shop", "refs/heads/main")))
			},
			env: keyless.with("FERRY_VERIFY_PROVENANCE", "repo=github.com/acme/shop,ref=refs/heads/main"),
			check: func(t *testing.T, v promote.Verification) {
				if s := v.Signature; s == nil || s.Identity != releaseWorkflow || s.Issuer != githubIssuer || s.LogIndex == nil {
					t.Errorf("signature %+v", v.Signature)
				}
				if p := v.Provenance; p == nil || p.Identity != releaseWorkflow || p.Ref != "refs/heads/main" {
					t.Errorf("provenance %+v", v.Provenance)
				}
			},
		},
		// Refusals: exit 2, nothing written, expected and found named.
		{
			name: "unsigned",
			sign: func(*testing.T, string, string) {},
			env:  keyed(l.key.Pub),
			want: []string{"is not signed as required: expected a signature by key sha256:", "FERRY_VERIFY_KEY (" + l.key.Pub + ")", "found nothing"},
		},
		{
			name: "signed by another key",
			sign: func(t *testing.T, ref, _ string) { must(t, l.other.Sign(ctx, ref)) },
			env:  keyed(l.key.Pub),
			want: []string{"expected a signature by key sha256:", "found 1: signature (sigstore bundle, OCI referrer sha256:", "signed by another key"},
		},
		{
			name: "signed by another identity",
			sign: func(t *testing.T, ref, digest string) {
				attach(t, ref, keylessBundle(t, ref, digest, "https://github.com/evil/shop/.github/workflows/release.yml@refs/heads/main", sigstoretest.PredicateCosignSign, nil))
			},
			env:  keyless,
			want: []string{`expected a signature by identity matching "https://github\\.com/acme/shop/`, "issued by " + githubIssuer, "by https://github.com/evil/shop/.github/workflows/release.yml@refs/heads/main", "not an accepted identity"},
		},
		{
			name: "signature over another digest",
			sign: func(t *testing.T, ref, digest string) {
				_, _, otherRef, otherDigest := signedApp(t, l.host, "acme/elsewhere")
				must(t, l.key.Sign(ctx, otherRef))
				bundles, err := sigstoretest.Referrers(ctx, otherRef)
				if err != nil || len(bundles) != 1 {
					t.Fatalf("the other image's bundles: %d, %v", len(bundles), err)
				}
				attach(t, ref, bundles[0])
				_ = otherDigest
			},
			env:  keyed(l.key.Pub),
			want: []string{"it covers sha256:", ", not sha256:"},
		},
		{
			name: "provenance from another repository",
			sign: func(t *testing.T, ref, _ string) {
				must(t, l.key.Sign(ctx, ref))
				must(t, l.key.Attest(ctx, ref, "slsaprovenance1", l.evilProvence))
			},
			env:  keyed(l.key.Pub).with("FERRY_VERIFY_PROVENANCE", "repository=github.com/acme/shop"),
			want: []string{"and a SLSA provenance attestation by that signer with repository github.com/acme/shop", `it names repository "https://github.com/evil/shop"`},
		},
		{
			name: "tampered bundle",
			sign: func(t *testing.T, ref, digest string) {
				b := keylessBundle(t, ref, digest, releaseWorkflow, sigstoretest.PredicateCosignSign, nil)
				var m map[string]any
				must(t, json.Unmarshal(b, &m))
				st, _ := sigstoretest.Statement(digest, sigstoretest.PredicateCosignSign, map[string]any{"tampered": true})
				env, ok := m["dsseEnvelope"].(map[string]any)
				if !ok {
					t.Fatalf("no DSSE envelope in the bundle")
				}
				env["payload"] = st
				b, _ = json.Marshal(m)
				attach(t, ref, b)
			},
			env:  keyless,
			want: []string{"found 1: signature (sigstore bundle, OCI referrer sha256:", "it does not verify"},
		},
		{
			name: "keyless against the public-good root",
			sign: func(t *testing.T, ref, digest string) {
				attach(t, ref, keylessBundle(t, ref, digest, releaseWorkflow, sigstoretest.PredicateCosignSign, nil))
			},
			env:  keyless.with("FERRY_VERIFY_TRUSTED_ROOT", ""),
			want: []string{"it does not verify"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) { l.run(t, tc) })
	}
}

// signCase is one source, how it is signed, the policy and the verdict.
type signCase struct {
	name string
	// fallback puts the image in the shared registry, which has no
	// referrers API (cosign and ferry use the tag fallback there).
	fallback bool
	sign     func(t *testing.T, ref, digest string)
	env      env
	// want are substrings of the refusal; none: it promotes.
	want []string
	// check looks at the accepted verification.
	check func(t *testing.T, v promote.Verification)
}

// run promotes tc's source under its policy, after a plan, and checks the
// verdict, the report and what production runs.
func (l *signLab) run(t *testing.T, tc signCase) {
	ctx := context.Background()
	host := l.host
	if tc.fallback {
		host = registryHost
	}
	sns, pns, ref, digest := signedApp(t, host, "acme/signed-"+strings.ReplaceAll(strings.ToLower(tc.name), " ", "-"))
	tc.sign(t, ref, digest)
	e := tc.env.with("FERRY_SOURCE", "k8s:"+sns+"/web?context=staging", "FERRY_TARGETS", target(pns, "web", "production"))
	if tc.env["FERRY_VERIFY_TRUSTED_ROOT"] == "" {
		delete(e, "FERRY_VERIFY_TRUSTED_ROOT")
	}
	before := len(ferryWrites(ctx, t, sns, pns))

	plan := ferry(t, e, "plan")
	r := ferry(t, e, "promote")
	if n := len(ferryWrites(ctx, t, sns, pns)); tc.want != nil && n != before {
		t.Errorf("a refused promotion wrote %d times", n-before)
	}
	for _, res := range []result{plan, r} {
		tc.verdict(t, res)
	}
	img := imageOf(get(t, production, pns, "web"), "app")
	if promoted := img == ref; promoted != (tc.want == nil) {
		t.Errorf("production runs %s after the run (source %s)", img, ref)
	}
}

// verdict checks one run's exit code, report and refusal.
func (tc signCase) verdict(t *testing.T, res result) {
	t.Helper()
	rep := res.report(t)
	if len(rep.Verifications) != 1 {
		t.Fatalf("report has %d verifications\n%s", len(rep.Verifications), res)
	}
	v := rep.Verifications[0]
	if tc.want == nil {
		if res.code != 0 || !v.Passed {
			t.Fatalf("want a pass, exit 0\n%s", res)
		}
		if tc.check != nil {
			tc.check(t, v)
		}
		return
	}
	if res.code != 2 || v.Passed || rep.Outcome != promote.OutcomeBadInput {
		t.Fatalf("want a refusal, exit 2\n%s", res)
	}
	for _, w := range tc.want {
		if !strings.Contains(rep.Error, w) {
			t.Errorf("the refusal does not say %q:\n%s", w, rep.Error)
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// A signed image promoted to Heroku: verified, copied without its
// signatures (registry.heroku.com takes one manifest type), and the log
// and report say so.
func TestSignedSourceToHeroku(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, err := sigstoretest.NewSigner(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	img := push(t, "acme/signed-heroku", "1.0", nil)
	must(t, s.Sign(ctx, img.ref()))
	app := herokuApp(t, "signed-prod")
	seedHeroku(t, app, nil, "web")
	r := ferry(t, herokuEnv().with("FERRY_SOURCE", img.repo+":1.0", "FERRY_TARGETS", "heroku:"+app,
		"FERRY_VERIFY_KEY", s.Pub, "FERRY_VERIFY_TLOG", "false"), "promote")
	if r.code != 0 {
		t.Fatalf("want exit 0\n%s", r)
	}
	assertRuns(t, app, img.config.String(), "web")
	if rep := r.report(t); len(rep.Verifications) != 1 || !rep.Verifications[0].Passed || rep.Verifications[0].Signature == nil {
		t.Errorf("the report does not keep the verification: %+v", rep.Verifications)
	}
	if want := "heroku:" + app + "/web: registry.heroku.com accepts only Docker v2 schema 2 image manifests: the signatures and attestations verified on the source are not copied there"; !strings.Contains(r.stderr, want) {
		t.Errorf("the log does not say %q", want)
	}
}
