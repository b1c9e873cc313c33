package config

import (
	"errors"
	"io"
	"os"
	"strings"

	"github.com/ferry-dev/ferry/pkg/httpx"
	"github.com/ferry-dev/ferry/pkg/sigpolicy"
)

// Verify is the signature policy of the source image.
type Verify struct {
	// Policy is what the image must carry; it checks nothing unless
	// Enabled.
	Policy sigpolicy.Policy
	// TrustedRoot is a trusted_root.json to use instead of the built-in
	// public-good one, as seen from where ferry runs; empty for that one.
	TrustedRoot string
}

// verify checks the FERRY_VERIFY_* settings.
func (ch *checker) verify() Verify {
	s := ch.s
	var v Verify
	p := &v.Policy
	p.TLog = s.VerifyTLog
	if s.VerifyKey != "" {
		name, data := ch.s.varName(fieldKeyed("VERIFY_KEY")), []byte(s.VerifyKey)
		if !strings.HasPrefix(strings.TrimSpace(s.VerifyKey), "-----BEGIN") {
			path := s.Env.ContainerPath(s.VerifyKey, exists)
			b, err := readSmallFile(path, maxKeyFile)
			if err != nil {
				ch.add("VERIFY_KEY", "cannot read the public key file: "+fileError(err)+"; give the path of cosign.pub or the PEM itself", "cosign.pub")
				return v
			}
			name, data = name+" ("+s.VerifyKey+")", b
		}
		k, err := sigpolicy.ParseKey(name, data)
		if err != nil {
			ch.add("VERIFY_KEY", err.Error(), "cosign.pub")
		}
		p.Key = k
	}
	switch {
	case s.VerifyIdentity != "" && s.VerifyIssuer == "":
		ch.add("VERIFY_ISSUER", "required with FERRY_VERIFY_IDENTITY: the OIDC issuer of the signer's certificate", "https://token.actions.githubusercontent.com")
	case s.VerifyIdentity == "" && s.VerifyIssuer != "":
		ch.add("VERIFY_IDENTITY", "required with FERRY_VERIFY_ISSUER: a regular expression for the signer's identity", `https://github\.com/acme/shop/\.github/workflows/release\.yml@refs/heads/main`)
	case s.VerifyIdentity != "":
		re, err := sigpolicy.AnchoredIdentity(s.VerifyIdentity)
		if err != nil {
			ch.add("VERIFY_IDENTITY", err.Error(), `https://github\.com/acme/shop/\.github/workflows/release\.yml@refs/heads/main`)
			break
		}
		p.Identity, p.IdentityPattern, p.Issuer = re, s.VerifyIdentity, s.VerifyIssuer
	}
	signer := s.VerifyKey != "" || s.VerifyIdentity != ""
	if s.VerifyProvenance != "" {
		prov, err := sigpolicy.ParseProvenance(s.VerifyProvenance)
		switch {
		case err != nil:
			ch.add("VERIFY_PROVENANCE", err.Error(), "repository=github.com/acme/shop,ref=refs/heads/main")
		case !signer:
			ch.add("VERIFY_PROVENANCE", "needs a signer to trust: set FERRY_VERIFY_KEY, or FERRY_VERIFY_IDENTITY and FERRY_VERIFY_ISSUER", "repository=github.com/acme/shop,ref=refs/heads/main")
		default:
			p.Provenance = &prov
		}
	}
	if s.VerifyTrustedRoot != "" {
		path := s.Env.ContainerPath(s.VerifyTrustedRoot, exists)
		switch fi, err := os.Stat(path); {
		case err == nil && !fi.Mode().IsRegular():
			ch.add("VERIFY_TRUSTED_ROOT", "not a regular file: give the path of a trusted_root.json", "trusted_root.json")
		case err != nil:
			ch.add("VERIFY_TRUSTED_ROOT", "cannot read the trusted root: "+fileError(err), "trusted_root.json")
		case !signer:
			ch.add("VERIFY_TRUSTED_ROOT", "needs a signer to trust: set FERRY_VERIFY_KEY, or FERRY_VERIFY_IDENTITY and FERRY_VERIFY_ISSUER", "")
		default:
			v.TrustedRoot = path
		}
	}
	return v
}

// maxKeyFile bounds what is read of FERRY_VERIFY_KEY's file: a PEM public
// key is well under 4 KiB.
const maxKeyFile = 64 << 10

// readSmallFile reads a regular file of at most max bytes.
func readSmallFile(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, errors.New("not a regular file")
	}
	return io.ReadAll(httpx.CapBody(f, max, httpx.Naming("it")))
}

// fileError is why a file cannot be read, without the path (the
// problem names the variable).
func fileError(err error) string {
	switch {
	case os.IsNotExist(err):
		return "no such file"
	case os.IsPermission(err):
		return "permission denied"
	}
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}
