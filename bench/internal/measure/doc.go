// Package measure runs commands and summarises repeated measurements: the
// wall time, CPU time (user + system) and peak resident set size of a child
// process, read through GNU time from wait4's rusage, and the median,
// minimum and maximum of a series of samples.
package measure
