package testenv

import (
	"os"
	"strings"
	"testing"
)

// The controller hack/tools/argo-rollouts builds and the CRDs
// StartArgoRollouts installs come from the same release.
func TestArgoRolloutsControllerMatchesItsCRDs(t *testing.T) {
	b, err := os.ReadFile("../../hack/tools/argo-rollouts/go.mod")
	if err != nil {
		t.Fatal(err)
	}
	want := "github.com/argoproj/argo-rollouts " + ArgoRolloutsVersion
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && (f[0]+" "+f[1] == want || (len(f) >= 3 && f[0] == "require" && f[1]+" "+f[2] == want)) {
			return
		}
	}
	t.Fatalf("hack/tools/argo-rollouts/go.mod does not require %s", want)
}
