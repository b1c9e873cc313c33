// Package address parses and formats the addresses that name where ferry
// reads an image from and where it promotes it to.
//
// Three forms exist:
//
//	k8s:NAMESPACE/DEPLOYMENT?context=CTX&container=NAME[,NAME...]&health=URL
//	k8s:NAMESPACE/KIND/NAME?...   (KIND: deployment, statefulset, daemonset, rollout)
//	heroku:APP[/PROCESS[,PROCESS...]]?health=URL
//	ghcr.io/acme/shop:1.4.2   (any image reference, by tag or digest)
//
// A k8s: address names a Deployment unless a kind word sits between the
// namespace and the name; kubectl's spellings are accepted (statefulsets,
// sts, ds, any case) and [Address.String] writes the singular lower-case
// one, leaving a Deployment's out. container lists the containers to
// change, init containers included, separated by commas.
//
// Options ride on the query after the first "?": pairs separated by "&",
// split on the first "=", values percent-decoded ("+" stays a plus, so
// kubeconfig context names such as
// "arn:aws:eks:eu-west-1:123456789012:cluster/prod" need no escaping).
//
// [Address.String] is canonical: it escapes only what would otherwise break
// a round trip or the whitespace-separated lists [ParseList] reads, and
// Parse(a.String()) returns a again for every a that Parse returns.
package address
