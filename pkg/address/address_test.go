package address

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

const digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestParseGood(t *testing.T) {
	tests := []struct {
		in   string
		want Address
		str  string // canonical form; "" means the input itself
	}{
		{in: "k8s:shop/web", want: Address{Kind: KindKube, Namespace: "shop", Deployment: "web"}},
		{in: "k8s:shop/api.v1", want: Address{Kind: KindKube, Namespace: "shop", Deployment: "api.v1"}},
		{in: "k8s:shop/deployment/web", want: Address{Kind: KindKube, Namespace: "shop", Deployment: "web"}, str: "k8s:shop/web"},
		{in: "k8s:shop/statefulset/db", want: Address{Kind: KindKube, Namespace: "shop", Deployment: "db", Workload: WorkloadStatefulSet}},
		{in: "k8s:shop/StatefulSets/db", want: Address{Kind: KindKube, Namespace: "shop", Deployment: "db", Workload: WorkloadStatefulSet},
			str: "k8s:shop/statefulset/db"},
		{in: "k8s:shop/sts/db?container=app", want: Address{Kind: KindKube, Namespace: "shop", Deployment: "db", Workload: WorkloadStatefulSet, Container: "app"},
			str: "k8s:shop/statefulset/db?container=app"},
		{in: "k8s:kube-system/ds/agent", want: Address{Kind: KindKube, Namespace: "kube-system", Deployment: "agent", Workload: WorkloadDaemonSet},
			str: "k8s:kube-system/daemonset/agent"},
		{in: "k8s:shop/web?container=app=web,proxy=sidecar,migrate=web",
			want: Address{Kind: KindKube, Namespace: "shop", Deployment: "web", Container: "app=web,proxy=sidecar,migrate=web"}},
		{in: "k8s:shop/web?container=app%3Dweb", // an escaped '=' is a '=' all the same
			want: Address{Kind: KindKube, Namespace: "shop", Deployment: "web", Container: "app=web"},
			str:  "k8s:shop/web?container=app=web"},
		{in: "k8s:shop/ro/web?container=app", want: Address{Kind: KindKube, Namespace: "shop", Deployment: "web", Workload: WorkloadRollout, Container: "app"},
			str: "k8s:shop/rollout/web?container=app"},
		{in: "k8s:shop/web?container=app,migrate,sidecar",
			want: Address{Kind: KindKube, Namespace: "shop", Deployment: "web", Container: "app,migrate,sidecar"}},
		{
			in: "k8s:shop/web?context=arn:aws:eks:eu-west-1:123456789012:cluster/prod&container=app&health=https://shop.example.com/healthz",
			want: Address{Kind: KindKube, Namespace: "shop", Deployment: "web",
				Context: "arn:aws:eks:eu-west-1:123456789012:cluster/prod", Container: "app", Health: "https://shop.example.com/healthz"},
		},
		{in: "k8s:shop/web?context=gke_proj_europe-west1_prod",
			want: Address{Kind: KindKube, Namespace: "shop", Deployment: "web", Context: "gke_proj_europe-west1_prod"}},
		{in: "k8s:shop/web?context=user@cluster",
			want: Address{Kind: KindKube, Namespace: "shop", Deployment: "web", Context: "user@cluster"}},
		{in: "k8s:shop/web?context=a+b", // "+" is a plus, not a space
			want: Address{Kind: KindKube, Namespace: "shop", Deployment: "web", Context: "a+b"}},
		{in: "k8s:shop/web?health=/healthz&container=app&context=prod", // fixed key order
			want: Address{Kind: KindKube, Namespace: "shop", Deployment: "web", Context: "prod", Container: "app", Health: "/healthz"},
			str:  "k8s:shop/web?context=prod&container=app&health=/healthz"},
		{in: "k8s:shop/web?context=my%20cluster",
			want: Address{Kind: KindKube, Namespace: "shop", Deployment: "web", Context: "my cluster"}},
		{in: "k8s:shop/web?context=a%2fb%3Ac", // needless escapes are dropped
			want: Address{Kind: KindKube, Namespace: "shop", Deployment: "web", Context: "a/b:c"},
			str:  "k8s:shop/web?context=a/b:c"},
		{in: "k8s:shop/web?context=100%25%26%3D%23",
			want: Address{Kind: KindKube, Namespace: "shop", Deployment: "web", Context: "100%&=#"}},
		{in: "k8s:shop/web?health=https://shop.example.com/h?full=1", // "=" after the first one belongs to the value
			want: Address{Kind: KindKube, Namespace: "shop", Deployment: "web", Health: "https://shop.example.com/h?full=1"},
			str:  "k8s:shop/web?health=https://shop.example.com/h?full%3D1"},
		{in: "k8s:shop/web?context=caf%C3%A9",
			want: Address{Kind: KindKube, Namespace: "shop", Deployment: "web", Context: "café"},
			str:  "k8s:shop/web?context=café"},
		{in: "heroku:shop", want: Address{Kind: KindHeroku, App: "shop", Processes: []string{"web"}}, str: "heroku:shop/web"},
		{in: "heroku:shop-production/web,worker?health=/healthz",
			want: Address{Kind: KindHeroku, App: "shop-production", Processes: []string{"web", "worker"}, Health: "/healthz"}},
		{in: "heroku:shop/worker,web", want: Address{Kind: KindHeroku, App: "shop", Processes: []string{"worker", "web"}}},
		{in: "heroku:a1b/Clock_2-x", want: Address{Kind: KindHeroku, App: "a1b", Processes: []string{"Clock_2-x"}}},
		{in: "heroku:shop/web?health=http://shop.example.com:8080/up",
			want: Address{Kind: KindHeroku, App: "shop", Processes: []string{"web"}, Health: "http://shop.example.com:8080/up"}},
		{in: "ghcr.io/acme/shop:1.4.2", want: Address{Kind: KindImage, Ref: "ghcr.io/acme/shop:1.4.2"}},
		{in: "localhost:5000/shop@" + digest, want: Address{Kind: KindImage, Ref: "localhost:5000/shop@" + digest}},
		{in: "nginx", want: Address{Kind: KindImage, Ref: "nginx"}},
		{in: "nginx:1.25", want: Address{Kind: KindImage, Ref: "nginx:1.25"}},
		{in: "docker:dind", want: Address{Kind: KindImage, Ref: "docker:dind"}},
		{in: "heroku/heroku:22", want: Address{Kind: KindImage, Ref: "heroku/heroku:22"}}, // a Docker Hub image, not heroku:
		{in: "registry.heroku.com/shop/web", want: Address{Kind: KindImage, Ref: "registry.heroku.com/shop/web"}},
		{in: "k8s.gcr.io/pause:3.9", want: Address{Kind: KindImage, Ref: "k8s.gcr.io/pause:3.9"}},
		{in: "  k8s:shop/web\n", want: Address{Kind: KindKube, Namespace: "shop", Deployment: "web"}, str: "k8s:shop/web"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := Parse(tt.in)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.in, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Parse(%q) = %#v, want %#v", tt.in, got, tt.want)
			}
			want := tt.str
			if want == "" {
				want = tt.in
			}
			s := got.String()
			if s != want {
				t.Errorf("String() = %q, want %q", s, want)
			}
			again, err := Parse(s)
			if err != nil {
				t.Fatalf("Parse(String()=%q): %v", s, err)
			}
			if !reflect.DeepEqual(again, got) {
				t.Errorf("Parse(String()) = %#v, want %#v", again, got)
			}
		})
	}
}

func TestParseBad(t *testing.T) {
	tests := []struct {
		in   string
		want []string // substrings of the error
	}{
		{"", []string{"empty address", "k8s:NAMESPACE/DEPLOYMENT"}},
		{"   ", []string{"empty address"}},
		{"k8:shop/web", []string{`unknown address scheme "k8" in "k8:shop/web": use k8s:NAMESPACE/DEPLOYMENT, heroku:APP/PROCESS or an image reference`, "did you mean k8s:shop/web?"}},
		{"kube:x/y", []string{`unknown address scheme "kube" in "kube:x/y"`, "did you mean k8s:x/y?"}},
		{"kube:web", []string{`unknown address scheme "kube"`}},
		{"K8S:shop/web", []string{`unknown address scheme "K8S"`}},
		{"Heroku:shop", []string{`unknown address scheme "Heroku"`, "did you mean heroku:shop?"}},
		{"docker://nginx", []string{`unknown address scheme "docker" in "docker://nginx"`, `without "docker://": nginx`}},
		{"https://ghcr.io/acme/shop:1", []string{`unknown address scheme "https"`, "ghcr.io/acme/shop:1"}},
		{"shop:web/x", []string{`unknown address scheme "shop"`}},
		{"k8s:web", []string{`k8s address "k8s:web" is not k8s:NAMESPACE/DEPLOYMENT`, "for example k8s:shop/web?context=production"}},
		{"k8s:/web", []string{"is not k8s:NAMESPACE/DEPLOYMENT"}},
		{"k8s:shop/", []string{"is not k8s:NAMESPACE/DEPLOYMENT"}},
		{"k8s:shop/web/x", []string{`unknown workload kind "web"`, "statefulset"}},
		{"k8s:shop/statefulset/db/x", []string{"is not k8s:NAMESPACE/DEPLOYMENT or k8s:NAMESPACE/KIND/NAME"}},
		{"k8s:shop//db", []string{`unknown workload kind ""`}},
		{"k8s:shop/sts/DB", []string{`statefulset name "DB"`}},
		{"k8s:shop/web?container=app,", []string{`container name ""`}},
		{"k8s:shop/web?container=app,app", []string{`container "app" appears twice`}},
		{"k8s:shop/web?container=app=App", []string{`container name "App"`}},
		{"heroku:shop/web?container=web=app", []string{"has a container option", "one image per process type", "list them after the app"}},
		{"k8s:shop/web?container=app=", []string{`container name ""`}},
		{"k8s:shop/web?container==app", []string{`container name ""`}},
		{"k8s:shop/web?container=app=a=b", []string{`container mapping "app=a=b"`, "more than one '='", "TARGET=SOURCE"}},
		{"k8s:shop/web?container=app=web,migrate", []string{`container "migrate"`, "no source container", "write migrate=migrate"}},
		{"k8s:shop/web?container=migrate,app=web", []string{`container "migrate"`, "no source container"}},
		{"k8s:shop/web?container=app=a,app=b", []string{`container "app" appears twice`}},
		{"k8s:Shop/web", []string{`namespace "Shop" in "k8s:Shop/web"`, "lower-case"}},
		{"k8s:sh.op/web", []string{`namespace "sh.op"`}},
		{"k8s:" + strings.Repeat("a", 64) + "/web", []string{"namespace", "at most 63"}},
		{"k8s:shop/Web", []string{`deployment name "Web"`}},
		{"k8s:shop/web-", []string{`deployment name "web-"`}},
		{"k8s:shop/web?", []string{`empty "?"`, "context, container and health"}},
		{"k8s:shop/web?context=a&", []string{`stray "&"`}},
		{"k8s:shop/web?foo=1", []string{`unknown option "foo" in "k8s:shop/web?foo=1": k8s addresses take context, container and health`}},
		{"k8s:shop/web?Context=a", []string{`unknown option "Context"`}},
		{"k8s:shop/web?=a", []string{`unknown option ""`}},
		{"k8s:shop/web?context=a&context=b", []string{`option "context" appears twice`}},
		{"k8s:shop/web?context=", []string{`option "context" in "k8s:shop/web?context=" has no value`}},
		{"k8s:shop/web?container", []string{`option "container"`, "has no value"}},
		{"k8s:shop/web?context=%zz", []string{`option "context"`, "bad %-escape", "%25"}},
		{"k8s:shop/web?context=100%", []string{`option "context"`, "bad %-escape"}},
		{"k8s:shop/web?context=%ff", []string{`option "context"`, "UTF-8"}},
		{"k8s:shop/web?context=a%0Ab", []string{`option "context"`, "control character"}},
		{"k8s:shop/web?container=App", []string{`container name "App"`}},
		{"k8s:shop/web?health=ftp://x/h", []string{`health check "ftp://x/h"`, "http(s) URL"}},
		{"k8s:shop/web?health=healthz", []string{`health check "healthz"`}},
		{"k8s:shop/web?health=//shop.example.com/h", []string{`health check "//shop.example.com/h"`}},
		{"k8s:shop/web?health=http:///h", []string{"health check"}},
		{"k8s:shop/web?health=https:shop.example.com", []string{"health check"}},
		{"heroku:", []string{`heroku address "heroku:" names no app`, "heroku:shop-production/web"}},
		{"heroku:/web", []string{"names no app"}},
		{"heroku:ab", []string{`heroku app name "ab"`, "3 to 30"}},
		{"heroku:" + strings.Repeat("a", 31), []string{"heroku app name"}},
		{"heroku:Shop", []string{`heroku app name "Shop"`}},
		{"heroku:1shop", []string{`heroku app name "1shop"`}},
		{"heroku:shop-", []string{`heroku app name "shop-"`}},
		{"heroku:shop_x", []string{`heroku app name "shop_x"`}},
		{"heroku:shop/", []string{"empty process type"}},
		{"heroku:shop/web,", []string{"empty process type"}},
		{"heroku:shop/web,web", []string{`process type "web" appears twice`}},
		{"heroku:shop/we.b", []string{`process type "we.b"`}},
		{"heroku:shop/web/x", []string{`process type "web/x"`}},
		{"heroku:shop?context=x", []string{`unknown option "context" in "heroku:shop?context=x": heroku addresses take only health`}},
		{"heroku:shop?health=/a&health=/b", []string{`option "health" appears twice`}},
		{"nginx?health=/x", []string{`image reference "nginx?health=/x" takes no options`}},
		{"Nginx", []string{`image reference "Nginx" is not valid`, "ghcr.io/acme/shop:1.4.2"}},
		{"ghcr.io/acme/shop:", []string{`image reference "ghcr.io/acme/shop:" is not valid`}},
		{"shop@sha256:abc", []string{`image reference "shop@sha256:abc" is not valid`}},
		{"k8s:shop/web nginx", []string{"contains whitespace", "%20"}},
		{"k8s:shop/web?context=a\u00a0b", []string{"contains whitespace"}},
		{"k8s:shop/web\x00", []string{"control character"}},
		{"k8s:shop/web?context=\xff", []string{"not valid UTF-8"}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := Parse(tt.in)
			if err == nil {
				t.Fatalf("Parse(%q) = %#v, want an error", tt.in, got)
			}
			var ae *Error
			if !errors.As(err, &ae) {
				t.Fatalf("Parse(%q) error %T is not *Error", tt.in, err)
			}
			msg := err.Error()
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("Parse(%q) error %q does not contain %q", tt.in, msg, w)
				}
			}
			if msg != strings.ToLower(msg[:1])+msg[1:] {
				t.Errorf("error %q does not start lower-case", msg)
			}
		})
	}
}

func TestParseHealthCredentialsNotEchoed(t *testing.T) {
	in := "k8s:shop/web?context=prod&health=https://ops:hunter2@shop.example.com/healthz"
	_, err := Parse(in)
	if err == nil {
		t.Fatal("want an error for credentials in a health URL")
	}
	var ae *Error
	if !errors.As(err, &ae) {
		t.Fatalf("error %T is not *Error", err)
	}
	for _, s := range []string{err.Error(), ae.Input} {
		if strings.Contains(s, "hunter2") {
			t.Errorf("error text %q shows the password", s)
		}
		if !strings.Contains(s, "shop.example.com") {
			t.Errorf("error text %q does not show which URL", s)
		}
	}
}

func TestParseList(t *testing.T) {
	got, err := ParseList("k8s:shop/web?context=prod heroku:shop\n\tnginx:1.25\r\n")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"k8s:shop/web?context=prod", "heroku:shop/web", "nginx:1.25"}
	if len(got) != len(want) {
		t.Fatalf("ParseList gave %d addresses, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i].String() != want[i] {
			t.Errorf("address %d = %q, want %q", i, got[i], want[i])
		}
	}

	for _, empty := range []string{"", " \n\t "} {
		if _, err := ParseList(empty); err == nil || !strings.Contains(err.Error(), "no addresses given") {
			t.Errorf("ParseList(%q) error = %v, want \"no addresses given\"", empty, err)
		}
	}

	_, err = ParseList("k8:x/y nginx heroku:Shop k8s:a/b")
	if err == nil {
		t.Fatal("want an error")
	}
	multi, ok := err.(interface{ Unwrap() []error })
	if !ok {
		t.Fatalf("error %T does not unwrap to a list", err)
	}
	errs := multi.Unwrap()
	if len(errs) != 2 {
		t.Fatalf("got %d errors, want 2: %v", len(errs), err)
	}
	for i, in := range []string{"k8:x/y", "heroku:Shop"} {
		var ae *Error
		if !errors.As(errs[i], &ae) || ae.Input != in {
			t.Errorf("error %d = %v, want an *Error for %q", i, errs[i], in)
		}
	}
}

func TestStringEscapesWhitespaceForLists(t *testing.T) {
	a := Address{Kind: KindKube, Namespace: "shop", Deployment: "web",
		Context: "my cluster\u00a0x\u2028&=#%", Health: "https://x.example.com/a b"}
	s := a.String()
	if f := strings.Fields(s); len(f) != 1 {
		t.Fatalf("String() = %q splits into %d fields", s, len(f))
	}
	want := "k8s:shop/web?context=my%20cluster%C2%A0x%E2%80%A8%26%3D%23%25&health=https://x.example.com/a%20b"
	if s != want {
		t.Errorf("String() = %q, want %q", s, want)
	}
	got, err := Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, a) {
		t.Errorf("Parse(%q) = %#v, want %#v", s, got, a)
	}

	// Control characters are escaped too, even though Parse refuses them
	// once decoded.
	a.Context = "a\tb\x7f"
	if s := a.String(); s != "k8s:shop/web?context=a%09b%7F&health=https://x.example.com/a%20b" {
		t.Errorf("String() = %q", s)
	}
}

func TestIdentity(t *testing.T) {
	tests := []struct {
		a, b string
		same bool
	}{
		{"k8s:shop/web", "k8s:shop/web?health=/x&container=app", true},
		{"k8s:shop/web?context=a", "k8s:shop/web?context=b", false},
		{"k8s:shop/web", "k8s:shop/api", false},
		{"k8s:shop/web", "k8s:shop/deploy/web", true},
		{"k8s:shop/web", "k8s:shop/statefulset/web", false},
		{"k8s:shop/sts/web", "k8s:shop/statefulset/web?container=a,b", true},
		{"k8s:shop/ds/web", "k8s:shop/statefulset/web", false},
		{"heroku:shop/web", "heroku:shop/worker?health=/x", true},
		{"heroku:shop", "heroku:shop-2", false},
		{"nginx:1", "nginx:1", true},
		{"nginx:1", "nginx:2", false},
	}
	for _, tt := range tests {
		a, err := Parse(tt.a)
		if err != nil {
			t.Fatal(err)
		}
		b, err := Parse(tt.b)
		if err != nil {
			t.Fatal(err)
		}
		if got := a.Identity() == b.Identity(); got != tt.same {
			t.Errorf("%q and %q: same identity = %v (%q, %q), want %v", tt.a, tt.b, got, a.Identity(), b.Identity(), tt.same)
		}
	}
}

func TestMapping(t *testing.T) {
	tests := []struct {
		in         string
		containers []string
		mapping    []ContainerMap
	}{
		{"k8s:shop/web", nil, nil},
		{"k8s:shop/web?container=app,migrate", []string{"app", "migrate"}, nil},
		{"k8s:shop/web?container=app=web,proxy=sidecar,migrate=web", []string{"app", "proxy", "migrate"},
			[]ContainerMap{{"app", "web"}, {"proxy", "sidecar"}, {"migrate", "web"}}},
		{"k8s:shop/web?container=app=app", []string{"app"}, []ContainerMap{{"app", "app"}}},
	}
	for _, tt := range tests {
		a, err := Parse(tt.in)
		if err != nil {
			t.Fatalf("Parse(%q): %v", tt.in, err)
		}
		if got := a.Containers(); !reflect.DeepEqual(got, tt.containers) {
			t.Errorf("Parse(%q).Containers() = %q, want %q", tt.in, got, tt.containers)
		}
		if got := a.Mapping(); !reflect.DeepEqual(got, tt.mapping) {
			t.Errorf("Parse(%q).Mapping() = %v, want %v", tt.in, got, tt.mapping)
		}
	}
}

// TestSplitContainerOption reads container options as kube does, without
// an address around them.
func TestSplitContainerOption(t *testing.T) {
	cases := []struct {
		in    string
		names []string
		m     []ContainerMap
	}{
		{"", nil, nil},
		{"app,migrate", []string{"app", "migrate"}, nil},
		{"app=web,proxy=sidecar", []string{"app", "proxy"}, []ContainerMap{{Container: "app", From: "web"}, {Container: "proxy", From: "sidecar"}}},
	}
	for _, c := range cases {
		if got := SplitContainers(c.in); !reflect.DeepEqual(got, c.names) {
			t.Errorf("SplitContainers(%q) = %q, want %q", c.in, got, c.names)
		}
		if got := SplitMapping(c.in); !reflect.DeepEqual(got, c.m) {
			t.Errorf("SplitMapping(%q) = %v, want %v", c.in, got, c.m)
		}
	}
}
