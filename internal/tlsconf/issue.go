package tlsconf

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// clockSkewAllowance backdates every certificate so that a machine whose clock is a
// little behind the issuer's still accepts it right after `fileconv up`.
const clockSkewAllowance = time.Hour

// organization names the issuer in every certificate so that an operator looking at
// one in a browser or with openssl sees where it comes from.
const organization = "fileconv"

// role is what a certificate is for; it decides the name and extended key usages.
type role struct {
	commonName  string
	extKeyUsage []x509.ExtKeyUsage
	// hasSANs marks the certificates that servers present, which clients verify
	// against the host they dialled.
	hasSANs bool
}

var (
	// The master serves clients and is a client of the workers, with the same
	// certificate, hence both usages.
	masterRole = role{"fileconv master", []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}, true}
	// Workers serve; clientAuth lets a worker call another tier with its own
	// identity later without reissuing certificates.
	workerRole = role{"fileconv worker", []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}, true}
	clientRole = role{"fileconv client", []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, false}
)

// subjectAltNames holds the names servers' certificates are valid for.
type subjectAltNames struct {
	dnsNames []string
	ips      []net.IP
}

// covers reports whether s includes every name of want.
func (s subjectAltNames) covers(want subjectAltNames) bool {
	for _, name := range want.dnsNames {
		if !slices.ContainsFunc(s.dnsNames, func(have string) bool { return strings.EqualFold(have, name) }) {
			return false
		}
	}
	for _, ip := range want.ips {
		if !slices.ContainsFunc(s.ips, ip.Equal) {
			return false
		}
	}
	return true
}

// defaultHosts are the names a development setup on one machine is reached by.
func defaultHosts() []string {
	hosts := []string{"localhost", "127.0.0.1", "::1"}
	// A machine without a usable host name is still served on loopback.
	if name, err := os.Hostname(); err == nil && name != "" {
		hosts = append(hosts, name)
	}
	return hosts
}

// parseHosts turns host names and IP addresses into certificate names, accepting
// "host:port" and "[v6]" forms so that listen addresses can be passed as they are.
func parseHosts(hosts []string) (subjectAltNames, error) {
	var sans subjectAltNames
	for _, raw := range hosts {
		host := strings.TrimSpace(raw)
		if h, port, err := net.SplitHostPort(host); err == nil && isPort(port) {
			host = h
		}
		host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
		if host == "" {
			continue // ":5000" listens everywhere; the defaults cover loopback
		}
		if ip := net.ParseIP(host); ip != nil {
			if !slices.ContainsFunc(sans.ips, ip.Equal) {
				sans.ips = append(sans.ips, ip)
			}
			continue
		}
		name := strings.ToLower(strings.TrimSuffix(host, "."))
		if !validDNSName(name) {
			return subjectAltNames{}, fmt.Errorf("host %q is neither a DNS name nor an IP address", raw)
		}
		if !slices.Contains(sans.dnsNames, name) {
			sans.dnsNames = append(sans.dnsNames, name)
		}
	}
	return sans, nil
}

func isPort(s string) bool {
	_, err := strconv.ParseUint(s, 10, 16)
	return err == nil
}

// validDNSName accepts host names, including a leading "*." wildcard and the
// underscores some container platforms put in service names.
func validDNSName(name string) bool {
	if name == "" || len(name) > 253 {
		return false
	}
	labels := strings.Split(name, ".")
	for i, label := range labels {
		if label == "*" && i == 0 && len(labels) > 1 {
			continue
		}
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

// newKey returns a P-256 key: the fastest handshakes of the curves every TLS
// implementation supports.
func newKey() (*ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate ECDSA P-256 key: %w", err)
	}
	return key, nil
}

// randomSerial returns a random, positive 128-bit serial number: unpredictable
// serials are what RFC 5280 and the CA/Browser Forum ask for, and they keep two
// certificates from one CA from colliding without any state.
func randomSerial() (*big.Int, error) {
	limit := new(big.Int).Lsh(big.NewInt(1), 128)
	for {
		serial, err := rand.Int(rand.Reader, limit)
		if err != nil {
			return nil, fmt.Errorf("generate serial number: %w", err)
		}
		if serial.Sign() > 0 { // zero is not a valid serial
			return serial, nil
		}
	}
}

// subjectKeyID follows RFC 7093 method 1 (leftmost 160 bits of the SHA-256 of the
// public key), so chains can be built by key identifier rather than by name.
func subjectKeyID(pub *ecdsa.PublicKey) ([]byte, error) {
	ecdhKey, err := pub.ECDH()
	if err != nil {
		return nil, fmt.Errorf("encode public key: %w", err)
	}
	sum := sha256.Sum256(ecdhKey.Bytes())
	return sum[:20], nil
}

// issued is a certificate with its key, in parsed and PEM forms.
type issued struct {
	cert    *x509.Certificate
	key     *ecdsa.PrivateKey
	certPEM []byte
	keyPEM  []byte
}

func (c issued) tlsCertificate() (tls.Certificate, error) {
	return tls.X509KeyPair(c.certPEM, c.keyPEM)
}

// issueCA creates a self-signed CA that may sign leaf certificates only.
func issueCA(notBefore, notAfter time.Time) (issued, error) {
	template := &x509.Certificate{
		Subject:               pkix.Name{Organization: []string{organization}, CommonName: "fileconv development CA"},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		// A stolen leaf key must not be able to mint certificates.
		MaxPathLen:     0,
		MaxPathLenZero: true,
	}
	return sign(template, nil)
}

// issueLeaf creates an end-entity certificate for r, signed by ca when ca is not nil
// and self-signed otherwise.
func issueLeaf(r role, sans subjectAltNames, notBefore, notAfter time.Time, ca *issued) (issued, error) {
	template := &x509.Certificate{
		Subject:   pkix.Name{Organization: []string{organization}, CommonName: r.commonName},
		NotBefore: notBefore,
		NotAfter:  notAfter,
		// ECDSA keys only sign; KeyEncipherment belongs to RSA key exchange.
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           r.extKeyUsage,
		BasicConstraintsValid: true,
	}
	if r.hasSANs {
		template.DNSNames = sans.dnsNames
		template.IPAddresses = sans.ips
	}
	return sign(template, ca)
}

func sign(template *x509.Certificate, ca *issued) (issued, error) {
	key, err := newKey()
	if err != nil {
		return issued{}, err
	}
	if template.SerialNumber, err = randomSerial(); err != nil {
		return issued{}, err
	}
	if template.SubjectKeyId, err = subjectKeyID(&key.PublicKey); err != nil {
		return issued{}, err
	}
	parent, signer := template, crypto.Signer(key)
	if ca != nil {
		parent, signer = ca.cert, ca.key
	}
	der, err := x509.CreateCertificate(rand.Reader, template, parent, &key.PublicKey, signer)
	if err != nil {
		return issued{}, fmt.Errorf("create certificate %q: %w", template.Subject.CommonName, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return issued{}, fmt.Errorf("parse new certificate %q: %w", template.Subject.CommonName, err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return issued{}, fmt.Errorf("encode key of %q: %w", template.Subject.CommonName, err)
	}
	return issued{
		cert:    cert,
		key:     key,
		certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		keyPEM:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
	}, nil
}

// SelfSigned returns an ephemeral, in-memory ECDSA P-256 server certificate for
// hosts (host names or IP addresses; by default localhost, 127.0.0.1, ::1 and the
// machine's host name), valid for DefaultLeafValidity. It is for a server started
// without any certificate flags: traffic is encrypted but clients cannot
// authenticate the server unless they pin this very certificate, so the server
// should log a warning saying so.
func SelfSigned(hosts ...string) (tls.Certificate, error) {
	if len(hosts) == 0 {
		hosts = defaultHosts()
	}
	sans, err := parseHosts(hosts)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("self-signed certificate: %w", err)
	}
	now := time.Now()
	selfSignedRole := role{"fileconv self-signed", []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, true}
	leaf, err := issueLeaf(selfSignedRole, sans, now.Add(-clockSkewAllowance), now.Add(DefaultLeafValidity), nil)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("self-signed certificate: %w", err)
	}
	return leaf.tlsCertificate()
}
