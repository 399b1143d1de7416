package tlsconf

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

const (
	// DefaultLeafValidity is how long master, worker and client certificates last
	// unless PKIOptions.Validity says otherwise. It is short so that a leaked
	// development key stops working; EnsureDevPKI renews them before they expire,
	// so nobody has to.
	DefaultLeafValidity = 365 * 24 * time.Hour
	// DefaultCAValidity is how long the development CA lasts. It is long because
	// every client trusts ca.pem, and replacing it means redistributing it.
	DefaultCAValidity = 10 * 365 * 24 * time.Hour
	// maxRenewBefore is how long before expiry EnsureDevPKI renews leaves at the
	// latest, so a cluster restarted once a month never runs on an expired one.
	maxRenewBefore = 30 * 24 * time.Hour
)

// Modes of the files of a PKI folder.
const (
	dirMode  fs.FileMode = 0o700
	keyMode  fs.FileMode = 0o600
	certMode fs.FileMode = 0o644
)

// PKIPaths names the files of a PKI folder, as written by GenerateDevPKI (and so by
// `fileconv certs --dir D` and `fileconv up`).
type PKIPaths struct {
	CA, CAKey             string // the development CA: clients pass CA as --ca
	MasterCert, MasterKey string // front-door server certificate, and client certificate towards workers
	WorkerCert, WorkerKey string // worker server certificate
	ClientCert, ClientKey string // for clients when the front door asks for client certificates
}

// Paths returns the file names of the PKI folder dir.
func Paths(dir string) PKIPaths {
	// Unlike filepath.Join this keeps dir as the user spelled it ("./.fileconv"),
	// so paths in error messages can be pasted back into a command.
	join := func(name string) string {
		if dir == "" {
			return name
		}
		return strings.TrimRight(dir, `/\`) + string(os.PathSeparator) + name
	}
	return PKIPaths{
		CA:         join("ca.pem"),
		CAKey:      join("ca-key.pem"),
		MasterCert: join("master.pem"),
		MasterKey:  join("master-key.pem"),
		WorkerCert: join("worker.pem"),
		WorkerKey:  join("worker-key.pem"),
		ClientCert: join("client.pem"),
		ClientKey:  join("client-key.pem"),
	}
}

func (p PKIPaths) all() []string {
	return []string{p.CA, p.CAKey, p.MasterCert, p.MasterKey, p.WorkerCert, p.WorkerKey, p.ClientCert, p.ClientKey}
}

func (p PKIPaths) names() []string {
	names := p.all()
	for i, name := range names {
		names[i] = filepath.Base(name)
	}
	return names
}

// leafFiles pairs each leaf role with its files.
type leafFiles struct {
	role              role
	certFile, keyFile string
}

func (p PKIPaths) leaves() []leafFiles {
	return []leafFiles{
		{masterRole, p.MasterCert, p.MasterKey},
		{workerRole, p.WorkerCert, p.WorkerKey},
		{clientRole, p.ClientCert, p.ClientKey},
	}
}

// PKIOptions adjusts a development PKI. The zero value is ready to use.
type PKIOptions struct {
	// Hosts are names (DNS names or IP addresses) master and worker certificates
	// are valid for, in addition to localhost, 127.0.0.1, ::1 and the machine's host
	// name. "host:port" is accepted and its port ignored, so listen addresses can be
	// passed as they are.
	Hosts []string
	// Validity is how long master, worker and client certificates last; zero means
	// DefaultLeafValidity (1 year). The CA lasts DefaultCAValidity (10 years), or
	// Validity when that is longer.
	Validity time.Duration
}

func (o PKIOptions) leafValidity() (time.Duration, error) {
	switch {
	case o.Validity < 0:
		return 0, fmt.Errorf("PKIOptions.Validity is negative (%v): give a duration such as 8760h, or 0 for the default", o.Validity)
	case o.Validity == 0:
		return DefaultLeafValidity, nil
	default:
		return o.Validity, nil
	}
}

func (o PKIOptions) subjectAltNames() (subjectAltNames, error) {
	sans, err := parseHosts(append(defaultHosts(), o.Hosts...))
	if err != nil {
		return subjectAltNames{}, fmt.Errorf("PKIOptions.Hosts: %w", err)
	}
	return sans, nil
}

// GenerateDevPKI creates a development CA and the master, worker and client
// certificates it signs in dir (see PKIPaths), creating dir with mode 0700 when
// missing. Keys are written with mode 0600, certificates 0644.
//
// It refuses to replace anything: when any of the files exists it writes nothing
// and returns an error that wraps fs.ErrExist and names an existing file.
func GenerateDevPKI(dir string, opts PKIOptions) error {
	return generateDevPKI(dir, opts, time.Now())
}

func generateDevPKI(dir string, opts PKIOptions, now time.Time) error {
	if dir == "" {
		return errors.New("generate development PKI: no folder given")
	}
	sans, err := opts.subjectAltNames()
	if err != nil {
		return err
	}
	leafValidity, err := opts.leafValidity()
	if err != nil {
		return err
	}
	paths := Paths(dir)
	var existing []string
	for _, file := range paths.all() {
		_, err := os.Lstat(file)
		switch {
		case err == nil:
			existing = append(existing, file)
		case !errors.Is(err, fs.ErrNotExist):
			return fmt.Errorf("generate development PKI: %w", err)
		}
	}
	if len(existing) > 0 {
		what := existing[0]
		if len(existing) > 1 {
			what = fmt.Sprintf("%s and %d other PKI files", existing[0], len(existing)-1)
		}
		return fmt.Errorf("refusing to overwrite %s: %w (move the PKI files out of %s, or use another folder)", what, fs.ErrExist, dir)
	}
	if err := os.MkdirAll(dir, dirMode); err != nil {
		return fmt.Errorf("generate development PKI: %w", err)
	}

	ca, err := issueCA(now.Add(-clockSkewAllowance), now.Add(max(DefaultCAValidity, leafValidity)))
	if err != nil {
		return fmt.Errorf("generate development PKI: %w", err)
	}
	files, err := issueLeaves(paths, &ca, sans, now, leafValidity)
	if err != nil {
		return err
	}
	// ca.pem goes last: EnsureDevPKI takes its presence to mean the set is complete.
	files = append(files,
		pendingFile{paths.CAKey, ca.keyPEM, keyMode},
		pendingFile{paths.CA, ca.certPEM, certMode},
	)
	return writeFilesAtomically(files)
}

// issueLeaves creates the master, worker and client certificates, none outliving
// the CA, and returns their files.
func issueLeaves(paths PKIPaths, ca *issued, sans subjectAltNames, now time.Time, validity time.Duration) ([]pendingFile, error) {
	notAfter := now.Add(validity)
	if notAfter.After(ca.cert.NotAfter) {
		notAfter = ca.cert.NotAfter
	}
	var files []pendingFile
	for _, leaf := range paths.leaves() {
		cert, err := issueLeaf(leaf.role, sans, now.Add(-clockSkewAllowance), notAfter, ca)
		if err != nil {
			return nil, fmt.Errorf("generate %s: %w", leaf.certFile, err)
		}
		files = append(files,
			pendingFile{leaf.keyFile, cert.keyPEM, keyMode},
			pendingFile{leaf.certFile, cert.certPEM, certMode})
	}
	return files, nil
}

// EnsureDevPKI prepares the PKI folder dir for `fileconv up`: when dir has no ca.pem
// it generates everything as GenerateDevPKI does; otherwise it checks that every
// file exists, loads, and chains to the CA, and reuses them, so clients keep
// trusting the same ca.pem across restarts.
//
// It reissues the master, worker and client certificates from the existing CA when
// one expires within 30 days (or within a third of its lifetime, if shorter), or
// when master or worker certificate lacks a host the options ask for. created
// reports whether any file was written; ca.pem changes only when it was missing.
func EnsureDevPKI(dir string, opts PKIOptions) (created bool, err error) {
	return ensureDevPKI(dir, opts, time.Now())
}

func ensureDevPKI(dir string, opts PKIOptions, now time.Time) (created bool, err error) {
	if dir == "" {
		return false, errors.New("development PKI: no folder given")
	}
	paths := Paths(dir)
	if _, err := os.Stat(paths.CA); errors.Is(err, fs.ErrNotExist) {
		if err := generateDevPKI(dir, opts, now); err != nil {
			return false, err
		}
		return true, nil
	} else if err != nil {
		return false, fmt.Errorf("development PKI: %w", err)
	}

	sans, err := opts.subjectAltNames()
	if err != nil {
		return false, err
	}
	leafValidity, err := opts.leafValidity()
	if err != nil {
		return false, err
	}
	ca, err := loadCA(paths)
	if err != nil {
		return false, withMissingFileHint(err, restoreHint)
	}
	if now.After(ca.cert.NotAfter) {
		return false, fmt.Errorf("CA certificate %s expired on %s: move the PKI files out of %s and start again to create a new CA (clients then need the new ca.pem)",
			paths.CA, ca.cert.NotAfter.Format(time.DateOnly), dir)
	}
	renew := false
	for _, leaf := range paths.leaves() {
		stale, err := checkLeaf(leaf, ca.cert, sans, now)
		if err != nil {
			return false, withMissingFileHint(err, restoreHint)
		}
		renew = renew || stale
	}
	if !renew {
		return false, nil
	}
	files, err := issueLeaves(paths, &ca, sans, now, leafValidity)
	if err != nil {
		return false, err
	}
	if err := writeFilesAtomically(files); err != nil {
		return false, err
	}
	return true, nil
}

// loadCA reads the CA certificate and its key and checks that they belong together.
func loadCA(paths PKIPaths) (issued, error) {
	certPEM, err := os.ReadFile(paths.CA)
	if err != nil {
		return issued{}, err
	}
	cert, err := parseCertificatePEM(certPEM, paths.CA)
	if err != nil {
		return issued{}, err
	}
	if !cert.IsCA {
		return issued{}, fmt.Errorf("%s is not a CA certificate: move the PKI files out of %s and start again to create a new set", paths.CA, dirOf(paths.CA))
	}
	keyPEM, err := os.ReadFile(paths.CAKey)
	if err != nil {
		return issued{}, err
	}
	key, err := parsePrivateKeyPEM(keyPEM, paths.CAKey)
	if err != nil {
		return issued{}, err
	}
	ecKey, ok := key.(*ecdsa.PrivateKey)
	if !ok || !ecKey.PublicKey.Equal(cert.PublicKey) {
		return issued{}, fmt.Errorf("%s is not the key of %s: restore the matching pair, or move the PKI files out of %s and start again",
			paths.CAKey, paths.CA, dirOf(paths.CA))
	}
	return issued{cert: cert, key: ecKey, certPEM: certPEM, keyPEM: keyPEM}, nil
}

// checkLeaf loads one leaf certificate and its key, checks that the CA issued it
// for its role, and reports whether it is due for renewal.
func checkLeaf(leaf leafFiles, ca *x509.Certificate, want subjectAltNames, now time.Time) (stale bool, err error) {
	pair, err := loadKeyPair(leaf.certFile, leaf.keyFile)
	if err != nil {
		return false, err
	}
	cert := pair.Leaf
	if err := cert.CheckSignatureFrom(ca); err != nil {
		return false, fmt.Errorf("%s was not issued by the CA in %s (%w): restore it, or move the PKI files out of %s and start again",
			leaf.certFile, dirOf(leaf.certFile), err, dirOf(leaf.certFile))
	}
	for _, usage := range leaf.role.extKeyUsage {
		if !slices.Contains(cert.ExtKeyUsage, usage) {
			return false, fmt.Errorf("%s is not a %s certificate (wrong extended key usage): restore it, or move the PKI files out of %s and start again",
				leaf.certFile, leaf.role.commonName, dirOf(leaf.certFile))
		}
	}
	// A leaf already cut short by the CA's expiry would otherwise be reissued on
	// every start without lasting any longer.
	renewBefore := min(maxRenewBefore, cert.NotAfter.Sub(cert.NotBefore)/3)
	if now.Add(renewBefore).After(cert.NotAfter) && cert.NotAfter.Before(ca.NotAfter) {
		return true, nil
	}
	if leaf.role.hasSANs && !(subjectAltNames{cert.DNSNames, cert.IPAddresses}).covers(want) {
		return true, nil
	}
	return false, nil
}

func parseCertificatePEM(data []byte, file string) (*x509.Certificate, error) {
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return nil, fmt.Errorf("%s holds no PEM certificate (a file starting with -----BEGIN CERTIFICATE-----)", file)
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		return cert, nil
	}
}

func parsePrivateKeyPEM(data []byte, file string) (crypto.Signer, error) {
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return nil, fmt.Errorf("%s holds no PEM private key (a file starting with -----BEGIN PRIVATE KEY-----)", file)
		}
		var key any
		var err error
		switch block.Type {
		case "PRIVATE KEY":
			key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
		case "EC PRIVATE KEY":
			key, err = x509.ParseECPrivateKey(block.Bytes)
		case "RSA PRIVATE KEY":
			key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
		default:
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		signer, ok := key.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("%s: unsupported key type %T", file, key)
		}
		return signer, nil
	}
}
