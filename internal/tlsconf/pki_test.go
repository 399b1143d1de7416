package tlsconf

import (
	"bytes"
	"crypto/x509"
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// generate creates a PKI in a fresh temporary folder and returns its paths.
func generate(t *testing.T, opts PKIOptions) PKIPaths {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "pki")
	if err := GenerateDevPKI(dir, opts); err != nil {
		t.Fatalf("GenerateDevPKI: %v", err)
	}
	return Paths(dir)
}

func readCert(t *testing.T, file string) *x509.Certificate {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := parseCertificatePEM(data, file)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

func readBytes(t *testing.T, file string) []byte {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestGenerateDevPKIFileModes(t *testing.T) {
	paths := generate(t, PKIOptions{})
	dirInfo, err := os.Stat(filepath.Dir(paths.CA))
	if err != nil {
		t.Fatal(err)
	}
	if got := dirInfo.Mode().Perm(); got != 0o700 {
		t.Errorf("folder mode %v, want 0700", got)
	}
	for _, file := range paths.all() {
		info, err := os.Stat(file)
		if err != nil {
			t.Fatal(err)
		}
		want := fs.FileMode(0o644)
		if strings.HasSuffix(file, "-key.pem") {
			want = 0o600
		}
		if got := info.Mode().Perm(); got != want {
			t.Errorf("%s: mode %v, want %v", file, got, want)
		}
	}
	entries, err := os.ReadDir(filepath.Dir(paths.CA))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != len(paths.all()) {
		t.Errorf("folder holds %d entries, want only the %d PKI files (temporary files left behind?)", len(entries), len(paths.all()))
	}
}

func TestGenerateDevPKICertificates(t *testing.T) {
	before := time.Now()
	paths := generate(t, PKIOptions{Hosts: []string{"fileconv.example", "10.1.2.3:5000", "[fd00::7]"}})

	ca := readCert(t, paths.CA)
	if !ca.IsCA || !ca.BasicConstraintsValid || ca.MaxPathLen != 0 || !ca.MaxPathLenZero {
		t.Errorf("CA basic constraints: IsCA=%v valid=%v MaxPathLen=%d zero=%v", ca.IsCA, ca.BasicConstraintsValid, ca.MaxPathLen, ca.MaxPathLenZero)
	}
	if ca.KeyUsage&x509.KeyUsageCertSign == 0 {
		t.Errorf("CA key usage %v lacks CertSign", ca.KeyUsage)
	}
	if ca.Subject.CommonName != "fileconv development CA" {
		t.Errorf("CA name %q", ca.Subject.CommonName)
	}
	if got := ca.NotAfter.Sub(before); got < DefaultCAValidity-time.Minute {
		t.Errorf("CA valid for %v, want about %v", got, DefaultCAValidity)
	}

	pool := x509.NewCertPool()
	pool.AddCert(ca)
	serials := map[string]bool{ca.SerialNumber.String(): true}
	for _, leaf := range paths.leaves() {
		cert := readCert(t, leaf.certFile)
		if cert.IsCA || !cert.BasicConstraintsValid {
			t.Errorf("%s: IsCA=%v BasicConstraintsValid=%v", leaf.certFile, cert.IsCA, cert.BasicConstraintsValid)
		}
		if cert.KeyUsage != x509.KeyUsageDigitalSignature {
			t.Errorf("%s: key usage %v, want DigitalSignature", leaf.certFile, cert.KeyUsage)
		}
		if !slices.Equal(cert.ExtKeyUsage, leaf.role.extKeyUsage) {
			t.Errorf("%s: extended key usage %v, want %v", leaf.certFile, cert.ExtKeyUsage, leaf.role.extKeyUsage)
		}
		if cert.PublicKeyAlgorithm != x509.ECDSA || cert.SignatureAlgorithm != x509.ECDSAWithSHA256 {
			t.Errorf("%s: %v key signed with %v, want ECDSA / ECDSAWithSHA256", leaf.certFile, cert.PublicKeyAlgorithm, cert.SignatureAlgorithm)
		}
		if len(cert.SubjectKeyId) == 0 || !bytes.Equal(cert.AuthorityKeyId, ca.SubjectKeyId) {
			t.Errorf("%s: key identifiers subject=%x authority=%x, CA's %x", leaf.certFile, cert.SubjectKeyId, cert.AuthorityKeyId, ca.SubjectKeyId)
		}
		if bits := cert.SerialNumber.BitLen(); bits > 128 || bits < 64 || serials[cert.SerialNumber.String()] {
			t.Errorf("%s: serial %v (%d bits) not a fresh random 128-bit number", leaf.certFile, cert.SerialNumber, bits)
		}
		serials[cert.SerialNumber.String()] = true
		if got := cert.NotAfter.Sub(before); got < DefaultLeafValidity-time.Minute || got > DefaultLeafValidity+time.Minute {
			t.Errorf("%s: valid for %v, want about %v", leaf.certFile, got, DefaultLeafValidity)
		}
		if _, err := cert.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: leaf.role.extKeyUsage}); err != nil {
			t.Errorf("%s does not verify against the CA: %v", leaf.certFile, err)
		}
		if !leaf.role.hasSANs {
			if len(cert.DNSNames)+len(cert.IPAddresses) != 0 {
				t.Errorf("%s: unexpected names %v %v", leaf.certFile, cert.DNSNames, cert.IPAddresses)
			}
			continue
		}
		hostname, _ := os.Hostname()
		for _, host := range []string{"localhost", "127.0.0.1", "::1", hostname, "fileconv.example", "10.1.2.3", "fd00::7"} {
			if err := cert.VerifyHostname(host); host != "" && err != nil {
				t.Errorf("%s: %v", leaf.certFile, err)
			}
		}
	}
}

func TestGenerateDevPKIRefusesToOverwrite(t *testing.T) {
	paths := generate(t, PKIOptions{})
	caBefore := readBytes(t, paths.CA)
	err := GenerateDevPKI(filepath.Dir(paths.CA), PKIOptions{})
	if !errors.Is(err, fs.ErrExist) || !strings.Contains(err.Error(), paths.CA) {
		t.Fatalf("second GenerateDevPKI: %v, want fs.ErrExist naming %s", err, paths.CA)
	}
	if !bytes.Equal(readBytes(t, paths.CA), caBefore) {
		t.Error("ca.pem changed")
	}

	// A single leftover file is enough to refuse, and nothing else is written.
	dir := t.TempDir()
	leftover := Paths(dir).WorkerKey
	if err := os.WriteFile(leftover, []byte("keep me"), 0o600); err != nil {
		t.Fatal(err)
	}
	err = GenerateDevPKI(dir, PKIOptions{})
	if !errors.Is(err, fs.ErrExist) || !strings.Contains(err.Error(), leftover) || strings.Contains(err.Error(), "ca.pem") {
		t.Fatalf("GenerateDevPKI over a leftover: %v, want an error naming only %s", err, leftover)
	}
	if _, err := os.Stat(Paths(dir).CA); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ca.pem written despite the refusal: %v", err)
	}
}

func TestGenerateDevPKIRejectsBadOptions(t *testing.T) {
	for name, opts := range map[string]PKIOptions{
		"negative validity": {Validity: -time.Hour},
		"bad host":          {Hosts: []string{"not a host"}},
		"URL as host":       {Hosts: []string{"https://example.com/"}},
	} {
		if err := GenerateDevPKI(t.TempDir(), opts); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if err := GenerateDevPKI("", PKIOptions{}); err == nil {
		t.Error("empty folder: no error")
	}
}

func TestEnsureDevPKIReuses(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	created, err := EnsureDevPKI(dir, PKIOptions{})
	if err != nil || !created {
		t.Fatalf("first EnsureDevPKI: created=%v err=%v", created, err)
	}
	paths := Paths(dir)
	before := map[string][]byte{}
	for _, file := range paths.all() {
		before[file] = readBytes(t, file)
	}
	created, err = EnsureDevPKI(dir, PKIOptions{})
	if err != nil || created {
		t.Fatalf("second EnsureDevPKI: created=%v err=%v, want reuse", created, err)
	}
	for _, file := range paths.all() {
		if !bytes.Equal(readBytes(t, file), before[file]) {
			t.Errorf("%s changed on reuse", file)
		}
	}
}

func TestEnsureDevPKIRenewsLeaves(t *testing.T) {
	dir := t.TempDir()
	start := time.Now()
	if err := generateDevPKI(dir, PKIOptions{Validity: 90 * 24 * time.Hour}, start); err != nil {
		t.Fatal(err)
	}
	paths := Paths(dir)
	caBefore := readBytes(t, paths.CA)
	serialsBefore := map[string]string{}
	for _, leaf := range paths.leaves() {
		serialsBefore[leaf.certFile] = readCert(t, leaf.certFile).SerialNumber.String()
	}

	// 45 days in, 45 days are left: more than maxRenewBefore, so nothing happens.
	if created, err := ensureDevPKI(dir, PKIOptions{}, start.Add(45*24*time.Hour)); err != nil || created {
		t.Fatalf("ensure with 45 days left: created=%v err=%v, want reuse", created, err)
	}
	// 70 days in, 20 are left: renew with the default validity.
	later := start.Add(70 * 24 * time.Hour)
	if created, err := ensureDevPKI(dir, PKIOptions{}, later); err != nil || !created {
		t.Fatalf("ensure with 20 days left: created=%v err=%v, want renewal", created, err)
	}
	if !bytes.Equal(readBytes(t, paths.CA), caBefore) {
		t.Error("renewal replaced the CA")
	}
	ca := readCert(t, paths.CA)
	for _, leaf := range paths.leaves() {
		cert := readCert(t, leaf.certFile)
		if cert.SerialNumber.String() == serialsBefore[leaf.certFile] {
			t.Errorf("%s not renewed", leaf.certFile)
		}
		if want := later.Add(DefaultLeafValidity); !cert.NotAfter.Equal(want.Truncate(time.Second)) {
			t.Errorf("%s: renewed until %v, want %v", leaf.certFile, cert.NotAfter, want)
		}
		if err := cert.CheckSignatureFrom(ca); err != nil {
			t.Errorf("%s: %v", leaf.certFile, err)
		}
		if _, err := LoadKeyPair(leaf.certFile, leaf.keyFile); err != nil {
			t.Errorf("renewed pair does not load: %v", err)
		}
	}

	// A host the certificates lack also triggers a renewal, which then covers it.
	if created, err := ensureDevPKI(dir, PKIOptions{Hosts: []string{"10.9.8.7"}}, later); err != nil || !created {
		t.Fatalf("ensure with a new host: created=%v err=%v, want renewal", created, err)
	}
	if err := readCert(t, paths.WorkerCert).VerifyHostname("10.9.8.7"); err != nil {
		t.Error(err)
	}
	if created, err := ensureDevPKI(dir, PKIOptions{Hosts: []string{"10.9.8.7"}}, later); err != nil || created {
		t.Fatalf("ensure again with the same host: created=%v err=%v, want reuse", created, err)
	}
}

func TestEnsureDevPKIDoesNotOutliveCA(t *testing.T) {
	dir := t.TempDir()
	start := time.Now()
	if err := generateDevPKI(dir, PKIOptions{}, start); err != nil {
		t.Fatal(err)
	}
	ca := readCert(t, Paths(dir).CA)
	nearCAExpiry := ca.NotAfter.Add(-10 * 24 * time.Hour)
	if created, err := ensureDevPKI(dir, PKIOptions{}, nearCAExpiry); err != nil || !created {
		t.Fatalf("ensure near the CA's expiry: created=%v err=%v, want renewal", created, err)
	}
	if got := readCert(t, Paths(dir).MasterCert).NotAfter; !got.Equal(ca.NotAfter) {
		t.Errorf("renewed leaf valid until %v, want the CA's %v", got, ca.NotAfter)
	}
	// Reissuing cannot extend it further, so it must not happen at every start.
	if created, err := ensureDevPKI(dir, PKIOptions{}, nearCAExpiry.Add(time.Hour)); err != nil || created {
		t.Fatalf("ensure again: created=%v err=%v, want reuse", created, err)
	}
	_, err := ensureDevPKI(dir, PKIOptions{}, ca.NotAfter.Add(time.Hour))
	if err == nil || !strings.Contains(err.Error(), "expired") || !strings.Contains(err.Error(), Paths(dir).CA) {
		t.Fatalf("ensure after the CA's expiry: %v, want an error naming the expired CA", err)
	}
}

func TestEnsureDevPKIReportsBrokenFolders(t *testing.T) {
	t.Run("missing leaf", func(t *testing.T) {
		paths := generate(t, PKIOptions{})
		if err := os.Remove(paths.WorkerKey); err != nil {
			t.Fatal(err)
		}
		_, err := EnsureDevPKI(filepath.Dir(paths.CA), PKIOptions{})
		if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), paths.WorkerKey) || !strings.Contains(err.Error(), "restore it") {
			t.Fatalf("got %v, want a not-exist error naming %s and how to fix it", err, paths.WorkerKey)
		}
	})
	t.Run("leaf from another CA", func(t *testing.T) {
		paths := generate(t, PKIOptions{})
		other := generate(t, PKIOptions{})
		for _, pair := range [][2]string{{other.ClientCert, paths.ClientCert}, {other.ClientKey, paths.ClientKey}} {
			if err := os.WriteFile(pair[1], readBytes(t, pair[0]), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		_, err := EnsureDevPKI(filepath.Dir(paths.CA), PKIOptions{})
		if err == nil || !strings.Contains(err.Error(), paths.ClientCert) || !strings.Contains(err.Error(), "not issued by") {
			t.Fatalf("got %v, want an error naming %s", err, paths.ClientCert)
		}
	})
	t.Run("key of another certificate", func(t *testing.T) {
		paths := generate(t, PKIOptions{})
		if err := os.WriteFile(paths.MasterKey, readBytes(t, paths.WorkerKey), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := EnsureDevPKI(filepath.Dir(paths.CA), PKIOptions{})
		if err == nil || !strings.Contains(err.Error(), paths.MasterKey+" is not the key of "+paths.MasterCert) {
			t.Fatalf("got %v, want an error naming the mismatched pair", err)
		}
	})
	t.Run("CA key of another CA", func(t *testing.T) {
		paths := generate(t, PKIOptions{})
		other := generate(t, PKIOptions{})
		if err := os.WriteFile(paths.CAKey, readBytes(t, other.CAKey), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := EnsureDevPKI(filepath.Dir(paths.CA), PKIOptions{})
		if err == nil || !strings.Contains(err.Error(), paths.CAKey) {
			t.Fatalf("got %v, want an error naming %s", err, paths.CAKey)
		}
	})
}

func TestPathsKeepTheFolderAsGiven(t *testing.T) {
	sep := string(os.PathSeparator)
	if got, want := Paths("./.fileconv").MasterCert, "./.fileconv"+sep+"master.pem"; got != want {
		t.Errorf("Paths(./.fileconv).MasterCert = %q, want %q", got, want)
	}
	if got, want := Paths("/etc/fileconv/").CA, "/etc/fileconv"+sep+"ca.pem"; got != want {
		t.Errorf("Paths(/etc/fileconv/).CA = %q, want %q", got, want)
	}
}

func TestMissingFileErrorSaysHowToCreateIt(t *testing.T) {
	_, err := LoadKeyPair("./.fileconv-missing/master.pem", "./.fileconv-missing/master-key.pem")
	want := `open ./.fileconv-missing/master.pem: no such file or directory: run "fileconv certs --dir ./.fileconv-missing" to create it`
	if err == nil || err.Error() != want {
		t.Errorf("got  %v\nwant %s", err, want)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		t.Error("error does not wrap fs.ErrNotExist")
	}
}

func TestParseHosts(t *testing.T) {
	sans, err := parseHosts([]string{"Example.COM.", "example.com", "*.svc.local", "my_service", "127.0.0.1", "127.0.0.1:5000", "127.0.0.1:0", "[::1]:6000", "::1", ":5000", " "})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"example.com", "*.svc.local", "my_service"}; !slices.Equal(sans.dnsNames, want) {
		t.Errorf("DNS names %v, want %v", sans.dnsNames, want)
	}
	if want := []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("::1")}; !slices.EqualFunc(sans.ips, want, net.IP.Equal) {
		t.Errorf("IPs %v, want %v", sans.ips, want)
	}
	for _, bad := range []string{"-lead.example", "a..b", "x/y", "fe80::1%eth0", "a*.example", "*"} {
		if _, err := parseHosts([]string{bad}); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
