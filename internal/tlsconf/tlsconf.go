// Package tlsconf provides the TLS settings and certificates of every fileconv tier:
//
//	clients --TLS--> master :5000 --mTLS--> workers :6000
//
// A cluster CA signs the master certificate (the front door's server certificate and
// also the client certificate the master presents to workers), the worker
// certificates, and a client certificate for front doors that ask for one.
// GenerateDevPKI and EnsureDevPKI create such a CA and its certificates for
// development and small deployments (`fileconv certs`, `fileconv up`); ServerConfig
// and ClientConfig turn certificate files into tls.Configs; Reloader and CAReloader
// let a running process pick up renewed certificates and CA bundles.
//
// All keys are ECDSA P-256. Configurations accept TLS 1.2 and 1.3 (1.3 is chosen
// whenever both sides support it) and otherwise keep crypto/tls's defaults, which
// track current advice on curves and cipher suites better than a fixed list would.
package tlsconf

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"time"
)

// minVersion excludes TLS 1.0 and 1.1, deprecated by RFC 8996.
const minVersion = tls.VersionTLS12

// ServerConfig returns the configuration of a TLS server presenting certFile and
// keyFile (PEM). When clientCAFile is empty no client certificate is asked for;
// otherwise every client must present a certificate for client authentication
// issued by a CA of clientCAFile, as workers require of the master.
func ServerConfig(certFile, keyFile, clientCAFile string) (*tls.Config, error) {
	cert, err := LoadKeyPair(certFile, keyFile)
	if err != nil {
		return nil, err
	}
	return ServerConfigWith(cert, clientCAFile)
}

// ServerConfigWith is ServerConfig for a certificate already in memory, such as
// one from SelfSigned.
func ServerConfigWith(cert tls.Certificate, clientCAFile string) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: minVersion, Certificates: []tls.Certificate{cert}}
	if err := requireClientCertificates(cfg, clientCAFile); err != nil {
		return nil, err
	}
	return cfg, nil
}

func requireClientCertificates(cfg *tls.Config, clientCAFile string) error {
	if clientCAFile == "" {
		return nil
	}
	pool, err := LoadCAPool(clientCAFile)
	if err != nil {
		return err
	}
	cfg.ClientCAs = pool
	cfg.ClientAuth = tls.RequireAndVerifyClientCert
	return nil
}

// ClientConfig returns the configuration of a TLS client that verifies servers
// against the CAs of caFile, or against the system's roots when caFile is empty.
// When certFile and keyFile are given the client presents that certificate (mutual
// TLS); give both or neither. serverName is the name the server's certificate must
// hold; when empty, tls.Dial and tls.Dialer use the host of the address dialled.
func ClientConfig(caFile, certFile, keyFile, serverName string) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: minVersion, ServerName: serverName}
	if caFile != "" {
		pool, err := LoadCAPool(caFile)
		if err != nil {
			return nil, err
		}
		cfg.RootCAs = pool
	}
	switch {
	case certFile == "" && keyFile == "":
	case certFile == "" || keyFile == "":
		return nil, fmt.Errorf("client certificate %q and key %q: give both files or neither", certFile, keyFile)
	default:
		cert, err := LoadKeyPair(certFile, keyFile)
		if err != nil {
			return nil, err
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// LoadCAPool reads the PEM certificates of file into a pool to verify peers with.
func LoadCAPool(file string) (*x509.CertPool, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, withMissingFileHint(err, createHint)
	}
	pool := x509.NewCertPool()
	read := 0
	for rest := data; ; {
		var block *pem.Block
		if block, rest = pem.Decode(rest); block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: certificate %d: %w", file, read+1, err)
		}
		pool.AddCert(cert)
		read++
	}
	if read == 0 {
		if _, keyErr := parsePrivateKeyPEM(data, file); keyErr == nil {
			return nil, fmt.Errorf("%s holds a private key, not a CA certificate: give the CA's certificate (ca.pem in a fileconv PKI folder)", file)
		}
		return nil, fmt.Errorf("%s holds no PEM certificate (a file starting with -----BEGIN CERTIFICATE-----): give the CA's certificate", file)
	}
	// pem.Decode skips a block it cannot read, so a bundle caught half-written
	// would otherwise load without its last CA, and a reload report success.
	if begun := bytes.Count(data, []byte("-----BEGIN CERTIFICATE-----")); read < begun {
		return nil, fmt.Errorf("%s starts %d certificates but only %d are whole: is it cut short, or still being written?", file, begun, read)
	}
	return pool, nil
}

// LoadKeyPair reads a PEM certificate (optionally followed by its intermediates)
// and its private key. It refuses a certificate that has expired, since every
// handshake with it would fail later with a less helpful message.
func LoadKeyPair(certFile, keyFile string) (tls.Certificate, error) {
	cert, err := loadKeyPair(certFile, keyFile)
	if err != nil {
		return tls.Certificate{}, withMissingFileHint(err, createHint)
	}
	if time.Now().After(cert.Leaf.NotAfter) {
		return tls.Certificate{}, fmt.Errorf("certificate %s expired on %s: %s",
			certFile, cert.Leaf.NotAfter.Format(time.DateOnly), renewHint(certFile))
	}
	return cert, nil
}

// loadKeyPair is LoadKeyPair without the expiry check, for callers that renew
// expired certificates.
func loadKeyPair(certFile, keyFile string) (tls.Certificate, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return tls.Certificate{}, err
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return tls.Certificate{}, err
	}
	// Parsing each file on its own first lets the error name the file at fault,
	// which tls.X509KeyPair's errors do not.
	if _, err := parseCertificatePEM(certPEM, certFile); err != nil {
		return tls.Certificate{}, err
	}
	if _, err := parsePrivateKeyPEM(keyPEM, keyFile); err != nil {
		return tls.Certificate{}, err
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("%s is not the key of %s: %w", keyFile, certFile, err)
	}
	// crypto/tls fills Leaf unless GODEBUG x509keypairleaf=0 says otherwise.
	if cert.Leaf == nil {
		if cert.Leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return tls.Certificate{}, fmt.Errorf("certificate %s: %w", certFile, err)
		}
	}
	return cert, nil
}
