package e2e

// slowReadyAnnotation delays readiness of pods whose image contains
// "slowready" (see internal/testenv's stages).
const slowReadyAnnotation = "slowready.testenv.ferry.dev/delay"
