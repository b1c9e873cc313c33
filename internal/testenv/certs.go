package testenv

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"

	"github.com/ferry-dev/ferry/internal/testenv/cloudnet"
)

// pki is what a cluster needs to speak TLS and sign service-account tokens.
type pki struct {
	caCert     []byte // PEM: the CA every client trusts
	serverCert []byte // PEM: serving certificate for 127.0.0.1, signed by the CA
	serverKey  []byte // PEM
	saKey      []byte // PEM: RSA key that signs service-account tokens
}

// apiserverNames are the names and addresses the API server is reached by.
var apiserverNames = []string{"127.0.0.1", "::1", "10.96.0.1", "localhost",
	"kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"}

// newPKI makes a cluster's own CA, its API server's serving certificate
// and its service-account key.
func newPKI() (*pki, error) {
	ca, err := cloudnet.NewCA()
	if err != nil {
		return nil, err
	}
	srv, err := ca.Issue(apiserverNames...)
	if err != nil {
		return nil, err
	}
	srvKey, ok := srv.PrivateKey.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("serving key is a %T, want ECDSA", srv.PrivateKey)
	}
	srvKeyDER, err := x509.MarshalECPrivateKey(srvKey)
	if err != nil {
		return nil, fmt.Errorf("encoding serving key: %w", err)
	}
	saKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("generating service-account key: %w", err)
	}
	return &pki{
		caCert:     ca.PEM(),
		serverCert: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate[0]}),
		serverKey:  pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: srvKeyDER}),
		saKey:      pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(saKey)}),
	}, nil
}

// randomToken returns a random string with 128 bits of entropy.
func randomToken() string { return rand.Text() }
