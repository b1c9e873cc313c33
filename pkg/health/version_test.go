package health

import (
	"net/http"
	"strings"
	"testing"
)

const (
	newDigest = "sha256:4f1c0000000000000000000000000000000000000000000000000000000000aa"
	oldDigest = "sha256:9b2e0000000000000000000000000000000000000000000000000000000000bb"
	commit    = "0123456789abcdef0123456789abcdef01234567"
)

func TestVersionAwareJudge(t *testing.T) {
	hdr := func(v string) http.Header { return http.Header{"X-Version": {v}} }
	byHeader := &Version{Header: "X-Version", Accept: Accepted(newDigest, commit)}
	byJSON := &Version{JSONField: "build.version", Accept: Accepted(newDigest, commit)}
	cases := []struct {
		name string
		v    *Version
		p    Probe
		ok   bool
		why  string
	}{
		{"header shows the digest", byHeader, Probe{Status: 200, Header: hdr(newDigest)}, true, "header X-Version shows"},
		{"header shows the short digest", byHeader, Probe{Status: 200, Header: hdr("4f1c00000000")}, true, ""},
		{"header shows the image reference", byHeader, Probe{Status: 200, Header: hdr("ghcr.io/acme/shop@" + newDigest)}, true, ""},
		{"header shows the commit", byHeader, Probe{Status: 200, Header: hdr(commit)}, true, ""},
		{"header shows the short commit", byHeader, Probe{Status: 200, Header: hdr("0123456")}, true, ""},
		{"an old pod's answer is rejected", byHeader, Probe{Status: 200, Header: hdr(oldDigest)}, false, "not the promoted version"},
		{"no header", byHeader, Probe{Status: 200, Header: http.Header{}}, false, "no header X-Version"},
		{"JSON field shows the commit", byJSON, Probe{Status: 200, Body: []byte(`{"build":{"version":"` + commit + `"}}`)}, true, ""},
		{"JSON field from the previous dyno", byJSON, Probe{Status: 200, Body: []byte(`{"build":{"version":"fedcba9"}}`)}, false, "not the promoted version"},
		{"JSON without the field", byJSON, Probe{Status: 200, Body: []byte(`{"build":{}}`)}, false, "no JSON field build.version"},
		{"not JSON", byJSON, Probe{Status: 200, Body: []byte(`ok`)}, false, "not JSON"},
		{"a bad status fails first", byHeader, Probe{Status: 503, Header: hdr(newDigest)}, false, "status 503"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ok, why := Judge(Check{Version: c.v}, c.p)
			if ok != c.ok || !strings.Contains(why, c.why) {
				t.Errorf("Judge = %v %q, want %v containing %q", ok, why, c.ok, c.why)
			}
		})
	}
}

func TestParseVersion(t *testing.T) {
	for in, want := range map[string]Version{"header:x-version": {Header: "X-Version"}, "json:build.version": {JSONField: "build.version"}} {
		v, err := ParseVersion(in)
		if err != nil || v.Header != want.Header || v.JSONField != want.JSONField {
			t.Errorf("ParseVersion(%q) = %+v, %v", in, v, err)
		}
	}
	for _, bad := range []string{"", "x-version", "header:", "json:a..b", "body:version", "header:a b"} {
		if _, err := ParseVersion(bad); err == nil {
			t.Errorf("ParseVersion(%q) accepted", bad)
		}
	}
}
