// Package image names container images by digest and resolves references
// through registries. An [Image] is the unit ferry promotes: a repository and
// the immutable manifest digest that every target ends up running.
package image
