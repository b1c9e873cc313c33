// Package cloudnet gives tests the public internet's host names without
// the internet: a test certificate authority, a CA bundle file for
// SSL_CERT_FILE, and an HTTP CONNECT proxy for HTTPS_PROXY that sends each
// real host name (sts.amazonaws.com, oauth2.googleapis.com,
// 111122223333.dkr.ecr.eu-west-1.amazonaws.com, ...) to an in-process
// handler registered by an emulator.
//
//	n, err := cloudnet.Start()
//	defer n.Close()
//	n.Handle("sts.amazonaws.com", stsHandler)
//	n.Handle("*.dkr.ecr.*.amazonaws.com", ecrRegistry)
//	cmd.Env = append(cmd.Env, n.Env()...) // HTTPS_PROXY, SSL_CERT_FILE
//
// # How a request travels
//
// The client (ferry, an SDK, go-containerregistry) sends "CONNECT
// host:443" to the proxy, as it would to a corporate proxy. The proxy looks
// the host up in its routes: a known host gets "200 Connection
// established" and the tunnel is served, in process, by a TLS server whose
// certificate for that exact host name is issued on the fly by the test CA
// (HTTP/2 and HTTP/1.1 are both offered); the request then reaches the
// handler registered for the host, with r.Host and r.TLS.ServerName set as
// on the real service. An unknown host is refused with "502 cloudnet: no
// emulator for HOST", which Go clients report verbatim. The client
// verifies the certificate against SSL_CERT_FILE, so nothing is skipped:
// a client that ignores the proxy or the bundle fails.
//
// Every host a client asked for is recorded, refused ones too (Hosts,
// Reached), and so is every request that reached a handler (Requests), so
// a test can assert that no request reached sts.amazonaws.com.
//
// Direct serves one host's handler on its own loopback TLS listener, for
// the SDKs' endpoint settings (AWS_ENDPOINT_URL_STS=https://127.0.0.1:PORT).
// Go's http.ProxyFromEnvironment never proxies loopback addresses, so
// loopback kube-apiservers and registries are reached directly while
// HTTPS_PROXY is set.
//
// # Patterns
//
// A pattern is a host name whose labels may hold '*' (path.Match syntax
// within one label): "sts.*.amazonaws.com" matches sts.eu-west-1.amazonaws.com
// but not sts.amazonaws.com; "*-docker.pkg.dev" matches
// europe-west1-docker.pkg.dev. Exact names win over patterns; patterns are
// tried in the order they were registered.
//
// # In-process clients
//
// Go reads HTTPS_PROXY once per process (http.ProxyFromEnvironment caches
// it) and loads the system roots, and so SSL_CERT_FILE, once per process.
// A test binary that drives SDKs in process must therefore start one Net
// in TestMain and set the environment (SetEnv) before any HTTPS request;
// a subprocess (the ferry binary) gets ProcessEnv(os.Environ()). Both drop
// the Overriding variables first: CI machines set AWS_CA_BUNDLE, which the
// AWS SDK prefers to SSL_CERT_FILE, and proxy exclusions.
//
// # What it does not cover
//
// Plain-http requests through the proxy (absolute-form "GET http://...")
// are refused: every emulated service is https-only. There is no DNS: a
// client that resolves names itself and dials without the proxy fails, as
// it should. Certificates are ECDSA P-256 and live 30 days; no OCSP, no
// CRLs, no certificate transparency.
package cloudnet
