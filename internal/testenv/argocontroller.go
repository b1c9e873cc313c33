package testenv

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strconv"
	"time"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// ArgoRolloutsNamespace is the namespace the Argo Rollouts controller
// runs as (POD_NAMESPACE): where it would look for its own ConfigMaps.
const ArgoRolloutsNamespace = "argo-rollouts"

// ArgoRolloutsController is Argo Rollouts' real controller
// (cmd/rollouts-controller of github.com/argoproj/argo-rollouts at
// ArgoRolloutsVersion, which hack/build-tool.sh builds from the module
// proxy) running as a process outside the cluster, as `rollouts-controller
// --kubeconfig` does on a laptop: it watches Rollouts in every namespace
// of the cluster and drives their ReplicaSets, whose pods kwok runs.
type ArgoRolloutsController struct {
	// Log is the controller's log file, in the cluster's Dir.
	Log string

	p     *process
	ports []int
}

// StartArgoRollouts installs every CRD of Argo Rollouts into c, starts
// the controller binary bin against c (admin credentials, no leader
// election, healthz and metrics on free ports) and returns once its
// healthz answers. A controller that exits, or does not answer within a
// minute, is an error carrying the end of its log.
func (c *Cluster) StartArgoRollouts(ctx context.Context, bin string) (*ArgoRolloutsController, error) {
	crds, err := ArgoRolloutsControllerCRDs(ctx)
	if err != nil {
		return nil, err
	}
	if err := c.InstallCRDs(ctx, crds); err != nil {
		return nil, err
	}
	kc := filepath.Join(c.Dir, "argo-rollouts.kubeconfig")
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["c"] = &clientcmdapi.Cluster{Server: c.Server, CertificateAuthorityData: c.caPEM}
	cfg.AuthInfos["admin"] = &clientcmdapi.AuthInfo{Token: c.adminToken}
	cfg.Contexts["c"] = &clientcmdapi.Context{Cluster: "c", AuthInfo: "admin"}
	cfg.CurrentContext = "c"
	if err := clientcmd.WriteToFile(*cfg, kc); err != nil {
		return nil, fmt.Errorf("writing the controller's kubeconfig: %w", err)
	}
	ports, err := freePorts(2)
	if err != nil {
		return nil, err
	}
	healthz, metrics := ports[0], ports[1]
	a := &ArgoRolloutsController{Log: filepath.Join(c.Dir, "argo-rollouts.log"), ports: ports}
	a.p, err = startProcessEnv("argo-rollouts", a.Log, bin, []string{"POD_NAMESPACE=" + ArgoRolloutsNamespace},
		"--kubeconfig", kc,
		"--leader-elect=false",
		"--healthzPort", strconv.Itoa(healthz),
		"--metricsPort", strconv.Itoa(metrics),
		"--loglevel", "info",
		// kwok's pods come and go in milliseconds: more throughput
		// than the defaults a real cluster's pods need.
		"--qps", "100", "--burst", "200")
	if err != nil {
		releasePorts(ports)
		return nil, err
	}
	url := "http://127.0.0.1:" + strconv.Itoa(healthz) + "/healthz"
	deadline := time.Now().Add(time.Minute)
	for {
		if a.p.exited() {
			releasePorts(ports)
			return nil, a.p.exitError()
		}
		if healthy(ctx, url) {
			return a, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			err := a.Stop()
			return nil, errors.Join(fmt.Errorf("argo rollouts controller: %s did not answer within a minute; last lines of %s:\n%s", url, a.Log, tail(a.Log, 30)), err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func healthy(ctx context.Context, url string) bool {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// Exited reports whether the controller has ended (it should not, until
// Stop): a test that waited in vain on a Rollout says so.
func (a *ArgoRolloutsController) Exited() bool { return a.p.exited() }

// Tail is the end of the controller's log, for a failing test.
func (a *ArgoRolloutsController) Tail(lines int) string { return tail(a.Log, lines) }

// Stop stops the controller (SIGTERM, SIGKILL after 10 s) and frees its
// ports. A controller that had exited on its own is an error.
func (a *ArgoRolloutsController) Stop() error {
	var err error
	if a.p.exited() {
		err = a.p.exitError()
	}
	err = errors.Join(err, a.p.stop(stopGrace))
	releasePorts(a.ports)
	return err
}
