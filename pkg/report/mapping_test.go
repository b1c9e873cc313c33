package report

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/ferry-dev/ferry/pkg/promote"
	"github.com/ferry-dev/ferry/pkg/redact"
)

func mappedReport() *promote.Report {
	app, side := "ghcr.io/acme/shop@sha256:"+strings.Repeat("a", 64), "ghcr.io/acme/proxy@sha256:"+strings.Repeat("b", 64)
	r := promote.NewReport("promote", []string{"k8s:shop/web?context=prod&container=app=app,proxy=sidecar"})
	r.Source, r.Outcome = "k8s:shop/web?context=staging", promote.OutcomePromoted
	r.Images = []promote.SourceImage{
		{Container: "app", Image: app, Digest: "sha256:" + strings.Repeat("a", 64)},
		{Container: "sidecar", Image: side, Digest: "sha256:" + strings.Repeat("b", 64)},
	}
	r.Verifications = []promote.Verification{{Check: "signature", Image: side, Passed: true, Expected: "a signature by key sha256:abc", Found: []string{}}}
	r.Targets[0].Status = promote.StatusPromoted
	r.Targets[0].Containers = []promote.ContainerImage{{Container: "app", From: "app", Image: app}, {Container: "proxy", From: "sidecar", Image: side}}
	return r
}

// A mapped report's JSON names the containers (the schema test checks it
// against docs/report.schema.json), and the text and summary show them.
func TestMappingIsShown(t *testing.T) {
	r := mappedReport()
	var b bytes.Buffer
	if err := JSON(&b, r, redact.Secrets{}); err != nil {
		t.Fatal(err)
	}
	js := b.String()
	var compact bytes.Buffer
	if err := json.Compact(&compact, b.Bytes()); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"images":[{"container":"app"`, `"containers":[{"container":"app","from":"app"`, `"from":"sidecar"`} {
		if !strings.Contains(compact.String(), want) {
			t.Errorf("JSON lacks %s: %s", want, js)
		}
	}

	var txt bytes.Buffer
	if err := Text(&txt, r, redact.Secrets{}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"promote promoted from k8s:shop/web?context=staging",
		"source container sidecar runs ghcr.io/acme/proxy@sha256:bbb",
		"signature check of ghcr.io/acme/proxy@sha256:bbb",
		"container proxy takes ghcr.io/acme/proxy@sha256:bbb",
		"(source container sidecar)",
	} {
		if !strings.Contains(txt.String(), want) {
			t.Errorf("text does not say %q:\n%s", want, txt.String())
		}
	}
	md := Summary(r)
	for _, want := range []string{"source container `sidecar` runs", "container `proxy` takes `ghcr.io/acme/proxy@sha256:bbb", "signature check of `ghcr.io/acme/proxy"} {
		if !strings.Contains(md, want) {
			t.Errorf("summary does not say %q:\n%s", want, md)
		}
	}
	if got := sourceImages(r); got != "app="+r.Images[0].Image+" sidecar="+r.Images[1].Image {
		t.Errorf("source-images output = %q", got)
	}
}
