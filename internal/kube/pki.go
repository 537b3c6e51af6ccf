package kube

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// pki holds the files the control plane authenticates with, all made fresh
// for one start: a CA, the API server's serving certificate, a cluster-admin
// client certificate (group system:masters) and the key pair that signs and
// verifies ServiceAccount tokens.
type pki struct {
	caFile        string // CA certificate: --client-ca-file, --root-ca-file
	servingCert   string // kube-apiserver --tls-cert-file
	servingKey    string // kube-apiserver --tls-private-key-file
	saPrivateFile string // --service-account-signing-key-file, --service-account-private-key-file
	saPublicFile  string // --service-account-key-file

	caPEM, adminCertPEM, adminKeyPEM []byte // embedded in kubeconfigs and the rest.Config
}

// adminUser is the admin client certificate's subject; system:masters makes
// it a cluster admin without any RBAC binding.
const (
	adminUser  = "canaryflow-admin"
	adminGroup = "system:masters"
)

// newPKI writes a fresh CA, certificates and keys into dir. Certificates
// last a day: long enough for any test run, short enough to be obviously
// throwaway.
func newPKI(dir string) (*pki, error) {
	now := time.Now()
	caKey, err := newKey()
	if err != nil {
		return nil, err
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "canaryflow-test-ca"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caKey.Public(), caKey)
	if err != nil {
		return nil, fmt.Errorf("creating the CA certificate: %w", err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, fmt.Errorf("parsing the CA certificate: %w", err)
	}

	p := &pki{
		caFile:        filepath.Join(dir, "ca.crt"),
		servingCert:   filepath.Join(dir, "apiserver.crt"),
		servingKey:    filepath.Join(dir, "apiserver.key"),
		saPrivateFile: filepath.Join(dir, "sa.key"),
		saPublicFile:  filepath.Join(dir, "sa.pub"),
		caPEM:         pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
	}
	if err := writeFile(p.caFile, p.caPEM); err != nil {
		return nil, err
	}

	// The serving certificate names every address a client may use: the
	// loopback host tests dial, and the in-cluster names and service IP a
	// pod's ServiceAccount kubeconfig would use.
	serving := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "kube-apiserver"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames: []string{
			"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
			"kubernetes.default.svc.cluster.local",
		},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback, net.ParseIP(kubernetesServiceIP)},
	}
	certPEM, keyPEM, err := issue(ca, caKey, serving)
	if err != nil {
		return nil, fmt.Errorf("issuing the API server's serving certificate: %w", err)
	}
	if err := writeFile(p.servingCert, certPEM); err != nil {
		return nil, err
	}
	if err := writeFile(p.servingKey, keyPEM); err != nil {
		return nil, err
	}

	admin := &x509.Certificate{
		SerialNumber: big.NewInt(3),
		Subject:      pkix.Name{CommonName: adminUser, Organization: []string{adminGroup}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if p.adminCertPEM, p.adminKeyPEM, err = issue(ca, caKey, admin); err != nil {
		return nil, fmt.Errorf("issuing the admin client certificate: %w", err)
	}

	saKey, err := newKey()
	if err != nil {
		return nil, err
	}
	saKeyPEM, err := keyToPEM(saKey)
	if err != nil {
		return nil, err
	}
	saPubDER, err := x509.MarshalPKIXPublicKey(saKey.Public())
	if err != nil {
		return nil, fmt.Errorf("encoding the ServiceAccount public key: %w", err)
	}
	if err := writeFile(p.saPrivateFile, saKeyPEM); err != nil {
		return nil, err
	}
	if err := writeFile(p.saPublicFile, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: saPubDER})); err != nil {
		return nil, err
	}
	return p, nil
}

// issue signs tmpl with the CA for a new key and returns both as PEM.
func issue(ca *x509.Certificate, caKey crypto.Signer, tmpl *x509.Certificate) (certPEM, keyPEM []byte, err error) {
	key, err := newKey()
	if err != nil {
		return nil, nil, err
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, key.Public(), caKey)
	if err != nil {
		return nil, nil, fmt.Errorf("signing %q: %w", tmpl.Subject.CommonName, err)
	}
	keyPEM, err = keyToPEM(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), keyPEM, nil
}

// newKey makes a P-256 key: every component accepts ECDSA, and it is far
// quicker to generate than RSA on a busy machine.
func newKey() (*ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating a P-256 key: %w", err)
	}
	return key, nil
}

func keyToPEM(key *ecdsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encoding a private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), nil
}

// writeFile writes owner-only: these are keys, even if throwaway ones.
func writeFile(path string, data []byte) error {
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}
