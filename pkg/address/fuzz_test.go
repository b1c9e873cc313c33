package address

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// FuzzParse checks the round trip: whatever Parse accepts, String writes as
// one whitespace-free field that Parse reads back to the same Address.
func FuzzParse(f *testing.F) {
	f.Add("k8s:shop/web?context=staging")
	f.Add("k8s:shop/statefulset/db?container=app,migrate")
	f.Add("k8s:shop/DS/agent?context=a/b")
	f.Add("k8s:shop/web?container=app=web,proxy=sidecar&context=a%3Db")
	f.Add("k8s:shop/Rollouts/web?container=app")
	f.Fuzz(func(t *testing.T, s string) {
		a, err := Parse(s)
		if err != nil {
			var ae *Error
			if !errors.As(err, &ae) {
				t.Fatalf("Parse(%q) error %T is not *Error", s, err)
			}
			if err.Error() == "" {
				t.Fatalf("Parse(%q) returned an empty error", s)
			}
			return
		}
		switch a.Kind {
		case KindKube, KindHeroku, KindImage:
		default:
			t.Fatalf("Parse(%q) returned kind %q", s, a.Kind)
		}
		if a.Kind == KindHeroku && len(a.Processes) == 0 {
			t.Fatalf("Parse(%q) returned no process types", s)
		}
		out := a.String()
		if f := strings.Fields(out); len(f) != 1 || f[0] != out {
			t.Fatalf("String() of Parse(%q) = %q is not one whitespace-free field", s, out)
		}
		b, err := Parse(out)
		if err != nil {
			t.Fatalf("Parse(%q) ok, but Parse(String()=%q): %v", s, out, err)
		}
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("Parse(%q) = %#v\nParse(%q) = %#v", s, a, out, b)
		}
		if again := b.String(); again != out {
			t.Fatalf("String is not stable: %q then %q", out, again)
		}
		list, err := ParseList(out + "\n" + out)
		if err != nil || len(list) != 2 || !reflect.DeepEqual(list[0], a) {
			t.Fatalf("ParseList(%q twice) = %#v, %v", out, list, err)
		}
	})
}
