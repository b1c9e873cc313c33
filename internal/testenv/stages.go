package testenv

import _ "embed"

// stagesYAML is the kwok Stage set every cluster runs with; see stages.yaml
// for the behaviour it gives Nodes and Pods.
//
//go:embed stages.yaml
var stagesYAML []byte
