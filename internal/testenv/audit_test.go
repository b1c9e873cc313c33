package testenv

import (
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// testdata/audit.log holds lines from a real kube-apiserver audit log: a
// watch (ResponseStarted), ferry's create/get/patch/create(409)/patch of a
// missing pod's status/delete/deletecollection, an admin create, the
// marker read of Mutations, a token the server refused (401, audited at
// ResponseStarted only), and a torn last line.
func TestParseAudit(t *testing.T) {
	tests := []struct {
		name string
		keep func(AuditEvent) bool
		want []string // "verb resource/subresource namespace/name code"
	}{
		{
			name: "ferry's mutations",
			keep: isFerryMutation,
			want: []string{
				"create configmaps default/by-ferry 201",
				"patch configmaps default/by-ferry 200",
				"create configmaps default/by-ferry 409",
				"patch pods/status default/nope 404",
				"delete configmaps default/by-ferry 200",
				"deletecollection configmaps default/ 200",
			},
		},
		{
			name: "everything completed",
			keep: func(AuditEvent) bool { return true },
			want: []string{
				"create configmaps default/by-ferry 201",
				"get configmaps default/by-ferry 200",
				"patch configmaps default/by-ferry 200",
				"create configmaps default/by-ferry 409",
				"patch pods/status default/nope 404",
				"delete configmaps default/by-ferry 200",
				"deletecollection configmaps default/ 200",
				"create configmaps default/by-admin 201",
				"get configmaps default/testenv-audit-barrier-5ps54pmuggvxixcchrxmf3xk2g 404",
				"get configmaps default/by-token 401",
			},
		},
		{
			name: "refused tokens",
			keep: func(e AuditEvent) bool { return e.Code == 401 },
			want: []string{"get configmaps default/by-token 401"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := os.Open("testdata/audit.log")
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			events, err := parseAudit(f, tt.keep)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, e := range events {
				res := e.Resource
				if e.Subresource != "" {
					res += "/" + e.Subresource
				}
				got = append(got, strings.Join([]string{e.Verb, res, e.Namespace + "/" + e.Name, strconv.Itoa(e.Code)}, " "))
				if e.Time.IsZero() || !strings.HasPrefix(e.RequestURI, "/api/v1/namespaces/default/") {
					t.Errorf("event %+v: no time or odd URI", e)
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got\n\t%s\nwant\n\t%s", strings.Join(got, "\n\t"), strings.Join(tt.want, "\n\t"))
			}
		})
	}
}

func TestParseAuditRejectsGarbage(t *testing.T) {
	if _, err := parseAudit(strings.NewReader("not json\n"), isFerryMutation); err == nil {
		t.Fatal("parseAudit accepted a line that is not JSON")
	}
}
