package testenv

import (
	"testing"

	"k8s.io/client-go/tools/clientcmd"
)

func TestKubeconfig(t *testing.T) {
	staging := &Cluster{Server: "https://127.0.0.1:1001", caPEM: []byte("staging CA"), ferryToken: "staging-token"}
	production := &Cluster{Server: "https://127.0.0.1:1002", caPEM: []byte("production CA"), ferryToken: "production-token"}
	tests := []struct {
		name        string
		contexts    map[string]*Cluster
		opts        []KubeconfigOption
		wantCurrent string
	}{
		{
			name:        "one context",
			contexts:    map[string]*Cluster{"staging": staging},
			wantCurrent: "staging",
		},
		{
			name: "current is the first name in sorted order",
			contexts: map[string]*Cluster{
				"arn:aws:eks:us-east-1:123456789012:cluster/prod": production,
				"admin@staging": staging,
			},
			wantCurrent: "admin@staging",
		},
		{
			name: "current set explicitly",
			contexts: map[string]*Cluster{
				"arn:aws:eks:us-east-1:123456789012:cluster/prod": production,
				"admin@staging": staging,
			},
			opts:        []KubeconfigOption{CurrentContext("arn:aws:eks:us-east-1:123456789012:cluster/prod")},
			wantCurrent: "arn:aws:eks:us-east-1:123456789012:cluster/prod",
		},
		{
			name:        "dangling current context",
			contexts:    map[string]*Cluster{"staging": staging},
			opts:        []KubeconfigOption{CurrentContext("gone")},
			wantCurrent: "gone",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := clientcmd.Load(Kubeconfig(tt.contexts, tt.opts...))
			if err != nil {
				t.Fatal(err)
			}
			if cfg.CurrentContext != tt.wantCurrent {
				t.Errorf("current-context %q, want %q", cfg.CurrentContext, tt.wantCurrent)
			}
			if len(cfg.Contexts) != len(tt.contexts) {
				t.Errorf("%d contexts, want %d", len(cfg.Contexts), len(tt.contexts))
			}
			for name, c := range tt.contexts {
				rc, err := clientcmd.NewNonInteractiveClientConfig(*cfg, name, nil, nil).ClientConfig()
				if err != nil {
					t.Fatalf("context %q: %v", name, err)
				}
				if rc.Host != c.Server || rc.BearerToken != c.ferryToken || string(rc.CAData) != string(c.caPEM) || rc.Insecure {
					t.Errorf("context %q: host %q token %q CA %q insecure %v", name, rc.Host, rc.BearerToken, rc.CAData, rc.Insecure)
				}
			}
		})
	}
}
