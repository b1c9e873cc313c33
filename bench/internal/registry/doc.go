// Package registry runs the CNCF distribution registry (Debian's
// docker-registry) as a child process with filesystem storage in a folder
// of the caller's, on a random loopback port, and puts a counting reverse
// proxy in front of a registry when a benchmark must know, from the
// registry's side, how many blob bytes a client uploaded and how many
// blobs it mounted.
package registry
