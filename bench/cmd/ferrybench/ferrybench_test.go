package main

import (
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ferry-dev/ferry/internal/testenv/herokuemu"
)

func TestSlug(t *testing.T) {
	tests := map[string]string{
		"ferry":                     "ferry",
		"crane copy -j 8":           "crane-copy--j-8",
		"skopeo copy --format v2s2": "skopeo-copy---format-v2s2",
		"Curl Floor":                "curl-floor",
	}
	for in, want := range tests {
		if got := slug(in); got != want {
			t.Errorf("slug(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestHumanBytes(t *testing.T) {
	tests := []struct {
		n    int64
		want string
	}{
		{1 << 30, "1 GiB"},
		{3 << 30, "3 GiB"},
		{256 << 20, "256 MiB"},
		{(1 << 30) + (1 << 20), "1025 MiB"},
		{4096, "4096 bytes"},
	}
	for _, tt := range tests {
		if got := humanBytes(tt.n); got != tt.want {
			t.Errorf("humanBytes(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
}

func TestRolledOut(t *testing.T) {
	two := int32(2)
	d := func(gen, observed int64, updated, replicas, available int32) *appsv1.Deployment {
		return &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Generation: gen},
			Spec:       appsv1.DeploymentSpec{Replicas: &two},
			Status:     appsv1.DeploymentStatus{ObservedGeneration: observed, UpdatedReplicas: updated, Replicas: replicas, AvailableReplicas: available},
		}
	}
	tests := []struct {
		name string
		d    *appsv1.Deployment
		gen  int64
		want bool
	}{
		{"done", d(3, 3, 2, 2, 2), 3, true},
		{"not observed yet", d(3, 2, 2, 2, 2), 3, false},
		{"old replica left", d(3, 3, 2, 3, 2), 3, false},
		{"new pod not available", d(3, 3, 2, 2, 1), 3, false},
		{"an older generation's status", d(2, 2, 2, 2, 2), 3, false},
	}
	for _, tt := range tests {
		if got := rolledOut(tt.d, tt.gen); got != tt.want {
			t.Errorf("%s: rolledOut = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestPromoted(t *testing.T) {
	tests := []struct {
		name    string
		stdout  string
		targets int
		ok      bool
	}{
		{"all promoted", `{"result":"promoted","targets":[{"target":"a","status":"promoted"},{"target":"b","status":"promoted"}]}`, 2, true},
		{"one unchanged", `{"result":"promoted","targets":[{"target":"a","status":"promoted"},{"target":"b","status":"unchanged"}]}`, 2, false},
		{"failed", `{"result":"failed","targets":[{"target":"a","status":"restored"}]}`, 1, false},
		{"target missing", `{"result":"promoted","targets":[{"target":"a","status":"promoted"}]}`, 2, false},
		{"not JSON", `promoted`, 1, false},
	}
	for _, tt := range tests {
		_, err := promoted([]byte(tt.stdout), tt.targets)
		if (err == nil) != tt.ok {
			t.Errorf("%s: err = %v, want ok=%v", tt.name, err, tt.ok)
		}
	}
}

func TestFixtureLayersShareBySeed(t *testing.T) {
	v1, err := fixture(0, 3, 4096, false, platformAMD64)
	if err != nil {
		t.Fatal(err)
	}
	v2, err := fixture(1, 3, 4096, false, platformAMD64)
	if err != nil {
		t.Fatal(err)
	}
	b1, err := blobs(v1)
	if err != nil {
		t.Fatal(err)
	}
	b2, err := blobs(v2)
	if err != nil {
		t.Fatal(err)
	}
	// blobs lists the config first, then the layers in order.
	if b1[0] == b2[0] {
		t.Error("the two images share their config")
	}
	if b1[2] != b2[1] || b1[3] != b2[2] || b1[1] == b2[3] {
		t.Errorf("want v2's layers 1,2 to be v1's layers 2,3 and v2's last layer new:\nv1 %v\nv2 %v", b1[1:], b2[1:])
	}
	again, err := fixture(0, 3, 4096, false, platformAMD64)
	if err != nil {
		t.Fatal(err)
	}
	d1, _ := v1.Digest()
	d2, _ := again.Digest()
	if d1 != d2 {
		t.Errorf("the same fixture has two digests: %s, %s", d1, d2)
	}
}

func TestRecordTime(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(ms int, path string) herokuemu.Request {
		return herokuemu.Request{Path: path, At: t0.Add(time.Duration(ms) * time.Millisecond)}
	}
	rec := "/v2/cost/ferry-record/manifests/latest"
	reqs := []herokuemu.Request{
		at(0, "/apps/cost"),
		at(10, rec), at(12, rec), at(15, rec), // lock: until 20
		at(20, "/apps/cost/releases"),
		at(30, rec), // a save: until 35
		at(35, "/v2/cost/web/blobs/uploads/"),
		at(90, rec), // the last save and the unlock: until the end
	}
	if got, want := recordTime(reqs, "cost", t0.Add(100*time.Millisecond)), 25*time.Millisecond; got != want {
		t.Errorf("recordTime = %s, want %s", got, want)
	}
}
