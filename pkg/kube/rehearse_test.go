package kube

import (
	"strings"
	"testing"
)

func TestAccessesOf(t *testing.T) {
	str := func(as []access) string {
		var parts []string
		for _, a := range as {
			parts = append(parts, a.String())
		}
		return strings.Join(parts, "; ")
	}
	leases := func(kind string) string {
		return "get leases.coordination.k8s.io ferry." + kind + ".web; update leases.coordination.k8s.io ferry." + kind + ".web; create leases.coordination.k8s.io"
	}
	cases := []struct{ kind, want string }{
		{"", `get deployments.apps web; list deployments.apps web; watch deployments.apps web; patch deployments.apps web; list replicasets.apps; watch replicasets.apps; list pods; watch pods; ` + leases("deployment")},
		{KindStatefulSet, `get statefulsets.apps web; list statefulsets.apps web; watch statefulsets.apps web; patch statefulsets.apps web; delete pods; list pods; watch pods; ` + leases("statefulset")},
		{KindDaemonSet, `get daemonsets.apps web; list daemonsets.apps web; watch daemonsets.apps web; patch daemonsets.apps web; list controllerrevisions.apps; watch controllerrevisions.apps; list pods; watch pods; ` + leases("daemonset")},
		{KindRollout, `get rollouts.argoproj.io web; list rollouts.argoproj.io web; watch rollouts.argoproj.io web; patch rollouts.argoproj.io web; patch rollouts.argoproj.io/status web; list pods; watch pods; ` + leases("rollout")},
	}
	for _, c := range cases {
		if got := str(accessesOf(c.kind, "web")); got != c.want {
			t.Errorf("%q:\n got %s\nwant %s", c.kind, got, c.want)
		}
	}
}
