package kube

import (
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

// history builds a Deployment running image cur and its ReplicaSets, one
// per "image@revisions" entry: "b@2,4" is a ReplicaSet of image b that
// held revision 2 and holds revision 4 now.
func history(t *testing.T, cur string, entries ...string) (*appsv1.Deployment, *appsv1.ReplicaSet, []*appsv1.ReplicaSet) {
	t.Helper()
	d := settled(false, corev1.Container{Name: "app", Image: cur})
	var current *appsv1.ReplicaSet
	var rss []*appsv1.ReplicaSet
	for _, e := range entries {
		img, revs, _ := strings.Cut(e, "@")
		all := strings.Split(revs, ",")
		latest := all[len(all)-1]
		rs := replicaSetFor(d)
		rs.Name = "web-" + img
		rs.Annotations = map[string]string{revisionAnnotation: latest}
		if len(all) > 1 {
			rs.Annotations[revisionHistoryAnnotation] = strings.Join(all[:len(all)-1], ",")
		}
		tmpl := settled(false, corev1.Container{Name: "app", Image: img}).Spec.Template
		tmpl.Labels = map[string]string{"app": "web", podTemplateHashLabel: img}
		rs.Spec.Template = tmpl
		rss = append(rss, rs)
		if img == cur {
			current = rs
			d.Annotations[revisionAnnotation] = latest
		}
	}
	return d, current, rss
}

func TestPickRevision(t *testing.T) {
	cases := []struct {
		name    string
		cur     string
		entries []string
		to      int64
		want    string // ReplicaSet image, or an error fragment after "error:"
	}{
		{"the one before", "b", []string{"a@1", "b@2"}, 0, "a"},
		// A promotion of c was restored: b came back as revision 4. c,
		// the build ferry rolled away from, is never "the one before".
		{"skips the build a restore undid", "b", []string{"a@1", "b@2,4", "c@3"}, 0, "a"},
		{"after a later promotion, the restored build", "d", []string{"a@1", "b@2,4", "c@3", "d@5"}, 0, "b"},
		{"nothing before", "a", []string{"a@1"}, 0, "error:no revision before 1"},
		{"explicit revision", "b", []string{"a@1", "b@2,4", "c@3"}, 3, "c"},
		{"explicit revision held earlier", "d", []string{"a@1", "b@2,4", "c@3", "d@5"}, 2, "b"},
		{"explicit revision running now", "b", []string{"a@1", "b@2,4"}, 2, "error:already runs revision 2"},
		{"explicit revision not kept", "b", []string{"a@1", "b@2"}, 9, "error:revision 9 is not in the deployment's history"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, current, rss := history(t, c.cur, c.entries...)
			got, err := pickRevision(d, current, rss, c.to)
			if want, isErr := strings.CutPrefix(c.want, "error:"); isErr {
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Fatalf("pickRevision = %v, %v; want an error about %q", got, err, want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Name != "web-"+c.want {
				t.Errorf("picked %s, want web-%s", got.Name, c.want)
			}
		})
	}
}
