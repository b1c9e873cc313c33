// Package credcache keeps a registry's short-lived credentials (an ECR
// password, an ACR refresh token), one per host, until shortly before they
// expire, so that a long copy never starts with one about to lapse and
// concurrent copies to one registry ask for it once.
package credcache
