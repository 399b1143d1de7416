package tlsconf

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// handshakeTimeout bounds every test connection so a bug fails fast instead of
// hanging the suite.
const handshakeTimeout = 5 * time.Second

// testServer accepts TLS connections on loopback and answers each successful
// handshake with the common name of the client's certificate (or "-").
type testServer struct {
	addr string
	// handshakeErrs receives the server side's view of failed handshakes, which
	// says why a client was refused.
	handshakeErrs chan error
}

func startServer(t *testing.T, cfg *tls.Config) *testServer {
	t.Helper()
	listener, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := &testServer{addr: listener.Addr().String(), handshakeErrs: make(chan error, 16)}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		_ = listener.Close()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			conn, err := listener.Accept()
			if err != nil {
				return
			}
			wg.Go(func() { srv.serve(conn.(*tls.Conn)) })
		}
	})
	return srv
}

func (s *testServer) serve(conn *tls.Conn) {
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(handshakeTimeout))
	if err := conn.Handshake(); err != nil {
		select {
		case s.handshakeErrs <- err:
		default:
		}
		return
	}
	peer := "-"
	if certs := conn.ConnectionState().PeerCertificates; len(certs) > 0 {
		peer = certs[0].Subject.CommonName
	}
	_, _ = io.WriteString(conn, peer+"\n")
}

// lastHandshakeError returns why the server refused the latest client.
func (s *testServer) lastHandshakeError(t *testing.T) error {
	t.Helper()
	select {
	case err := <-s.handshakeErrs:
		return err
	case <-time.After(handshakeTimeout):
		t.Fatal("server reported no handshake error")
		return nil
	}
}

// exchange connects to addr and returns what the server said and the connection's
// state. With TLS 1.3 a client finishes its handshake before the server has checked
// the client's certificate, so only the server's answer proves acceptance.
func exchange(addr string, cfg *tls.Config) (string, tls.ConnectionState, error) {
	dialer := &tls.Dialer{NetDialer: &net.Dialer{Timeout: handshakeTimeout}, Config: cfg}
	conn, err := dialer.Dial("tcp", addr)
	if err != nil {
		return "", tls.ConnectionState{}, err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(handshakeTimeout))
	line, err := bufio.NewReader(conn).ReadString('\n')
	return strings.TrimSpace(line), conn.(*tls.Conn).ConnectionState(), err
}

func mustServerConfig(t *testing.T, certFile, keyFile, clientCAFile string) *tls.Config {
	t.Helper()
	cfg, err := ServerConfig(certFile, keyFile, clientCAFile)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func mustClientConfig(t *testing.T, caFile, certFile, keyFile, serverName string) *tls.Config {
	t.Helper()
	cfg, err := ClientConfig(caFile, certFile, keyFile, serverName)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestMutualTLS(t *testing.T) {
	t.Parallel()
	cluster := generate(t, PKIOptions{})
	stranger := generate(t, PKIOptions{})
	worker := startServer(t, mustServerConfig(t, cluster.WorkerCert, cluster.WorkerKey, cluster.CA))

	t.Run("cluster client accepted", func(t *testing.T) {
		peer, state, err := exchange(worker.addr, mustClientConfig(t, cluster.CA, cluster.ClientCert, cluster.ClientKey, "localhost"))
		if err != nil || peer != "fileconv client" {
			t.Fatalf("got %q, %v; want the server to see fileconv client", peer, err)
		}
		if state.Version != tls.VersionTLS13 {
			t.Errorf("negotiated %s, want TLS 1.3", tls.VersionName(state.Version))
		}
	})
	t.Run("master certificate accepted as a client", func(t *testing.T) {
		peer, _, err := exchange(worker.addr, mustClientConfig(t, cluster.CA, cluster.MasterCert, cluster.MasterKey, "127.0.0.1"))
		if err != nil || peer != "fileconv master" {
			t.Fatalf("got %q, %v; want the server to see fileconv master", peer, err)
		}
	})
	t.Run("client without certificate refused", func(t *testing.T) {
		peer, _, err := exchange(worker.addr, mustClientConfig(t, cluster.CA, "", "", "localhost"))
		if err == nil {
			t.Fatalf("accepted, server saw %q", peer)
		}
		if serverErr := worker.lastHandshakeError(t); !strings.Contains(serverErr.Error(), "didn't provide a certificate") {
			t.Errorf("server refused with %v, want a missing certificate", serverErr)
		}
	})
	t.Run("client certificate from another CA refused", func(t *testing.T) {
		foreign, err := LoadKeyPair(stranger.ClientCert, stranger.ClientKey)
		if err != nil {
			t.Fatal(err)
		}
		cfg := mustClientConfig(t, cluster.CA, "", "", "localhost")
		// crypto/tls would otherwise withhold a certificate the server's CA list
		// does not cover, and this case would test nothing more than the last.
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &foreign, nil }
		peer, _, err := exchange(worker.addr, cfg)
		if err == nil {
			t.Fatalf("accepted, server saw %q", peer)
		}
		var unknownAuthority x509.UnknownAuthorityError
		if serverErr := worker.lastHandshakeError(t); !errors.As(serverErr, &unknownAuthority) {
			t.Errorf("server refused with %v, want an unknown authority", serverErr)
		}
	})
	t.Run("cluster certificate without clientAuth refused", func(t *testing.T) {
		ca, err := loadCA(cluster)
		if err != nil {
			t.Fatal(err)
		}
		serverOnly := role{"server only", []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, true}
		now := time.Now()
		issuedCert, err := issueLeaf(serverOnly, subjectAltNames{}, now.Add(-time.Hour), now.Add(time.Hour), &ca)
		if err != nil {
			t.Fatal(err)
		}
		cert, err := issuedCert.tlsCertificate()
		if err != nil {
			t.Fatal(err)
		}
		cfg := mustClientConfig(t, cluster.CA, "", "", "localhost")
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &cert, nil }
		if peer, _, err := exchange(worker.addr, cfg); err == nil {
			t.Fatalf("accepted, server saw %q", peer)
		}
		var invalid x509.CertificateInvalidError
		if serverErr := worker.lastHandshakeError(t); !errors.As(serverErr, &invalid) || invalid.Reason != x509.IncompatibleUsage {
			t.Errorf("server refused with %v, want an incompatible key usage", serverErr)
		}
	})
}

func TestServerNameVerification(t *testing.T) {
	t.Parallel()
	cluster := generate(t, PKIOptions{})
	front := startServer(t, mustServerConfig(t, cluster.MasterCert, cluster.MasterKey, ""))

	for _, name := range []string{"127.0.0.1", "localhost", "::1", ""} {
		peer, _, err := exchange(front.addr, mustClientConfig(t, cluster.CA, "", "", name))
		if err != nil || peer != "-" {
			t.Errorf("server name %q: got %q, %v; want accepted without client certificate", name, peer, err)
		}
	}
	_, _, err := exchange(front.addr, mustClientConfig(t, cluster.CA, "", "", "wrong.example"))
	var hostnameErr x509.HostnameError
	if !errors.As(err, &hostnameErr) {
		t.Errorf("wrong server name: %v, want a host name error", err)
	}
	// Without --ca the system roots apply, which do not include a development CA.
	_, _, err = exchange(front.addr, mustClientConfig(t, "", "", "", "localhost"))
	if err == nil {
		t.Error("system roots accepted the development CA")
	}
}

func TestOldTLSVersionsRefused(t *testing.T) {
	t.Parallel()
	cluster := generate(t, PKIOptions{})
	front := startServer(t, mustServerConfig(t, cluster.MasterCert, cluster.MasterKey, ""))
	cfg := mustClientConfig(t, cluster.CA, "", "", "localhost")
	cfg.MinVersion, cfg.MaxVersion = tls.VersionTLS10, tls.VersionTLS11
	if _, _, err := exchange(front.addr, cfg); err == nil {
		t.Fatal("TLS 1.1 client accepted")
	}
	if err := front.lastHandshakeError(t); !strings.Contains(err.Error(), "version") {
		t.Errorf("server refused with %v, want a version error", err)
	}

	cfg.MinVersion, cfg.MaxVersion = tls.VersionTLS12, tls.VersionTLS12
	if _, state, err := exchange(front.addr, cfg); err != nil || state.Version != tls.VersionTLS12 {
		t.Errorf("TLS 1.2 client: %v, version %s", err, tls.VersionName(state.Version))
	}
}

func TestSelfSigned(t *testing.T) {
	t.Parallel()
	cert, err := SelfSigned()
	if err != nil {
		t.Fatal(err)
	}
	if cert.Leaf == nil || cert.Leaf.PublicKeyAlgorithm != x509.ECDSA {
		t.Fatalf("leaf %+v, want an ECDSA certificate", cert.Leaf)
	}
	srv := startServer(t, &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}})

	if _, _, err := exchange(srv.addr, &tls.Config{ServerName: "localhost", InsecureSkipVerify: true}); err != nil {
		t.Errorf("InsecureSkipVerify client: %v", err)
	}
	// Clients that pin this very certificate can verify it.
	pinned := x509.NewCertPool()
	pinned.AddCert(cert.Leaf)
	if _, _, err := exchange(srv.addr, &tls.Config{ServerName: "127.0.0.1", RootCAs: pinned}); err != nil {
		t.Errorf("client pinning the certificate: %v", err)
	}
	if _, _, err := exchange(srv.addr, &tls.Config{ServerName: "localhost"}); err == nil {
		t.Error("a verifying client without the pin accepted a self-signed certificate")
	}

	custom, err := SelfSigned("fileconv.test", "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	if err := custom.Leaf.VerifyHostname("192.0.2.1"); err != nil {
		t.Error(err)
	}
	if err := custom.Leaf.VerifyHostname("localhost"); err == nil {
		t.Error("explicit hosts should replace the defaults")
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	if err := os.WriteFile(to, readBytes(t, from), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestReloaderSwapsCertificates(t *testing.T) {
	t.Parallel()
	cluster := generate(t, PKIOptions{})
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "server.pem"), filepath.Join(dir, "server-key.pem")
	copyFile(t, cluster.MasterCert, certFile)
	copyFile(t, cluster.MasterKey, keyFile)

	reloader, err := NewReloader(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	clientCAs, err := NewCAReloader(cluster.CA)
	if err != nil {
		t.Fatal(err)
	}
	srv := startServer(t, reloader.ServerConfig(clientCAs))

	clientReloader, err := NewReloader(cluster.ClientCert, cluster.ClientKey)
	if err != nil {
		t.Fatal(err)
	}
	clientCfg, err := clientReloader.ClientConfig(cluster.CA, "localhost")
	if err != nil {
		t.Fatal(err)
	}
	serverCN := func() string {
		t.Helper()
		peer, state, err := exchange(srv.addr, clientCfg)
		if err != nil || peer != "fileconv client" {
			t.Fatalf("got %q, %v; want the server to see fileconv client", peer, err)
		}
		return state.PeerCertificates[0].Subject.CommonName
	}

	if got := serverCN(); got != "fileconv master" {
		t.Fatalf("server presented %q before reload", got)
	}
	copyFile(t, cluster.WorkerCert, certFile)
	copyFile(t, cluster.WorkerKey, keyFile)
	// Handshakes while reloading must see either certificate, never a torn one.
	var wg sync.WaitGroup
	wg.Go(func() {
		for range 5 {
			if _, _, err := exchange(srv.addr, clientCfg); err != nil {
				t.Errorf("handshake during reload: %v", err)
			}
		}
	})
	if err := reloader.Reload(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if got := serverCN(); got != "fileconv worker" {
		t.Fatalf("server presented %q after reload", got)
	}

	// A broken file must not replace the working certificate.
	if err := os.WriteFile(keyFile, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := reloader.Reload(); err == nil || !strings.Contains(err.Error(), keyFile) {
		t.Errorf("reload of a broken key: %v, want an error naming %s", err, keyFile)
	}
	if got := serverCN(); got != "fileconv worker" {
		t.Fatalf("server presented %q after a failed reload", got)
	}
}

func TestConfigErrorsNameTheFile(t *testing.T) {
	t.Parallel()
	cluster := generate(t, PKIOptions{})

	if _, err := ClientConfig(cluster.CA, cluster.ClientCert, "", ""); err == nil {
		t.Error("certificate without key accepted")
	}
	if _, err := LoadCAPool(cluster.CAKey); err == nil || !strings.Contains(err.Error(), "private key") || !strings.Contains(err.Error(), cluster.CAKey) {
		t.Errorf("CA key as CA: %v", err)
	}
	garbled := filepath.Join(t.TempDir(), "garbled.pem")
	caPEM := readBytes(t, cluster.CA)
	if err := os.WriteFile(garbled, append(caPEM, bytes.Replace(caPEM, []byte("\n"), []byte("\n!!"), 3)...), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadCAPool(garbled); err == nil || !strings.Contains(err.Error(), garbled) {
		t.Errorf("a bundle with a garbled second certificate: %v", err)
	}
	if _, err := LoadKeyPair(cluster.MasterKey, cluster.MasterCert); err == nil || !strings.Contains(err.Error(), cluster.MasterKey) {
		t.Errorf("swapped certificate and key: %v", err)
	}
	if _, err := ServerConfig(cluster.MasterCert, cluster.MasterKey, cluster.MasterKey); err == nil || !strings.Contains(err.Error(), cluster.MasterKey) {
		t.Errorf("key as client CA: %v", err)
	}

	expiredDir := t.TempDir()
	past := time.Now().Add(-3 * DefaultLeafValidity)
	if err := generateDevPKI(expiredDir, PKIOptions{}, past); err != nil {
		t.Fatal(err)
	}
	expired := Paths(expiredDir)
	_, err := LoadKeyPair(expired.MasterCert, expired.MasterKey)
	if err == nil || !strings.Contains(err.Error(), "expired") || !strings.Contains(err.Error(), "fileconv up --dir") {
		t.Errorf("expired certificate: %v", err)
	}
	// ... which is what EnsureDevPKI is for.
	if created, err := EnsureDevPKI(expiredDir, PKIOptions{}); err != nil || !created {
		t.Fatalf("EnsureDevPKI over expired leaves: created=%v err=%v", created, err)
	}
	if _, err := LoadKeyPair(expired.MasterCert, expired.MasterKey); err != nil {
		t.Errorf("after renewal: %v", err)
	}
}

// writeBundle writes the certificates of files, one after another, to bundle.
func writeBundle(t *testing.T, bundle string, files ...string) {
	t.Helper()
	var pem []byte
	for _, f := range files {
		pem = append(pem, readBytes(t, f)...)
	}
	if err := os.WriteFile(bundle, pem, 0o600); err != nil {
		t.Fatal(err)
	}
}

func mustCAReloader(t *testing.T, file string) *CAReloader {
	t.Helper()
	cas, err := NewCAReloader(file)
	if err != nil {
		t.Fatal(err)
	}
	return cas
}

// clientWith is a client configuration that presents the certificate of certFile
// whatever CAs the server asks for, and verifies the server against caFile.
func clientWith(t *testing.T, caFile, certFile, keyFile string) *tls.Config {
	t.Helper()
	certs, err := NewReloader(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := certs.ClientConfig(caFile, "localhost")
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// A server rotating its client CA bundle: a client of the new CA is refused before
// the reload and accepted after it, a broken bundle changes nothing, and once the
// old CA leaves the bundle its clients are refused, resumed sessions included.
func TestCAReloaderRotatesClientCAs(t *testing.T) {
	t.Parallel()
	oldCA, newCA := generate(t, PKIOptions{}), generate(t, PKIOptions{})
	bundle := filepath.Join(t.TempDir(), "ca.pem")
	writeBundle(t, bundle, oldCA.CA)
	cas := mustCAReloader(t, bundle)
	certs, err := NewReloader(oldCA.WorkerCert, oldCA.WorkerKey)
	if err != nil {
		t.Fatal(err)
	}
	srv := startServer(t, certs.ServerConfig(cas))

	oldClient := clientWith(t, oldCA.CA, oldCA.ClientCert, oldCA.ClientKey)
	oldClient.ClientSessionCache = tls.NewLRUClientSessionCache(4)
	newClient := clientWith(t, oldCA.CA, newCA.ClientCert, newCA.ClientKey)
	accepted := func(what string, cfg *tls.Config) tls.ConnectionState {
		t.Helper()
		peer, state, err := exchange(srv.addr, cfg)
		if err != nil || peer != "fileconv client" {
			t.Fatalf("%s: got %q, %v; want accepted", what, peer, err)
		}
		return state
	}
	refused := func(what string, cfg *tls.Config) {
		t.Helper()
		if peer, _, err := exchange(srv.addr, cfg); err == nil {
			t.Fatalf("%s: accepted, server saw %q", what, peer)
		}
		var unknownAuthority x509.UnknownAuthorityError
		if err := srv.lastHandshakeError(t); !errors.As(err, &unknownAuthority) {
			t.Errorf("%s: server refused with %v, want an unknown authority", what, err)
		}
	}

	accepted("old CA's client", oldClient)
	refused("new CA's client before the reload", newClient)

	writeBundle(t, bundle, oldCA.CA, newCA.CA)
	// Handshakes while reloading must see either pool, never none.
	var wg sync.WaitGroup
	wg.Go(func() {
		for range 5 {
			if _, _, err := exchange(srv.addr, oldClient); err != nil {
				t.Errorf("handshake during reload: %v", err)
			}
		}
	})
	if err := cas.Reload(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	accepted("new CA's client after the reload", newClient)
	if !accepted("old CA's client with both CAs", oldClient).DidResume {
		t.Fatal("the old CA's client did not resume its session, so the check below would prove nothing")
	}

	// Caught half-written, the new bundle would hold the new CA alone.
	oldPEM := readBytes(t, oldCA.CA)
	if err := os.WriteFile(bundle, append(readBytes(t, newCA.CA), oldPEM[:len(oldPEM)/2]...), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := cas.Reload(); err == nil || !strings.Contains(err.Error(), bundle) || !strings.Contains(err.Error(), "cut short") {
		t.Errorf("reload of a half-written bundle: %v, want an error naming %s", err, bundle)
	}
	accepted("new CA's client after a failed reload", newClient)
	accepted("old CA's client after a failed reload", oldClient)

	writeBundle(t, bundle, newCA.CA)
	if err := cas.Reload(); err != nil {
		t.Fatal(err)
	}
	accepted("new CA's client once the old CA is gone", newClient)
	// Its session would resume if crypto/tls did not check the session's chain
	// against the pool of this handshake.
	refused("old CA's client once the old CA is gone", oldClient)
}

// A client building its configuration per connection from a CAReloader: a server
// of the new CA is refused before the reload and accepted after it, and once the
// old CA leaves the bundle a session with a server of the old CA does not resume.
func TestCAReloaderRotatesRootCAs(t *testing.T) {
	t.Parallel()
	oldCA, newCA := generate(t, PKIOptions{}), generate(t, PKIOptions{})
	bundle := filepath.Join(t.TempDir(), "ca.pem")
	writeBundle(t, bundle, oldCA.CA)
	cas := mustCAReloader(t, bundle)
	oldServer := startServer(t, mustServerConfig(t, oldCA.MasterCert, oldCA.MasterKey, ""))
	newServer := startServer(t, mustServerConfig(t, newCA.MasterCert, newCA.MasterKey, ""))

	// A cache per server: the servers share the name the cache goes by.
	caches := map[string]tls.ClientSessionCache{
		oldServer.addr: tls.NewLRUClientSessionCache(1),
		newServer.addr: tls.NewLRUClientSessionCache(1),
	}
	dial := func(addr string) (tls.ConnectionState, error) {
		cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: "localhost", ClientSessionCache: caches[addr]}
		cfg.RootCAs = cas.Pool()
		_, state, err := exchange(addr, cfg)
		return state, err
	}
	if _, err := dial(oldServer.addr); err != nil {
		t.Fatalf("old CA's server: %v", err)
	}
	var unknownAuthority x509.UnknownAuthorityError
	if _, err := dial(newServer.addr); !errors.As(err, &unknownAuthority) {
		t.Fatalf("new CA's server before the reload: %v, want an unknown authority", err)
	}

	writeBundle(t, bundle, oldCA.CA, newCA.CA)
	if err := cas.Reload(); err != nil {
		t.Fatal(err)
	}
	if _, err := dial(newServer.addr); err != nil {
		t.Fatalf("new CA's server after the reload: %v", err)
	}
	if state, err := dial(oldServer.addr); err != nil || !state.DidResume {
		t.Fatalf("old CA's server with both CAs: resumed %v, %v; want a resumed session", state.DidResume, err)
	}

	if err := os.WriteFile(bundle, readBytes(t, newCA.CAKey), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := cas.Reload(); err == nil || !strings.Contains(err.Error(), "private key") {
		t.Errorf("reload of a key as bundle: %v, want an error", err)
	}
	if cas.Pool() == nil {
		t.Fatal("a failed reload left no pool")
	}
	if _, err := dial(newServer.addr); err != nil {
		t.Fatalf("new CA's server after a failed reload: %v", err)
	}

	writeBundle(t, bundle, newCA.CA)
	if err := cas.Reload(); err != nil {
		t.Fatal(err)
	}
	if _, err := dial(oldServer.addr); !errors.As(err, &unknownAuthority) {
		t.Fatalf("old CA's server once the old CA is gone: %v, want an unknown authority", err)
	}
}
