package tlsconf

import (
	"crypto/tls"
	"sync"
	"sync/atomic"
)

// Reloader holds a certificate loaded from a pair of files and swaps it when Reload
// is called (for example on SIGHUP), so a long-running process picks up a renewed
// certificate without a restart: new handshakes use the new certificate while
// established connections keep theirs. Use its ServerConfig or ClientConfig, or
// put GetCertificate or GetClientCertificate into a tls.Config of your own.
//
// Only the certificate is reloaded; the CA pools of the configurations stay as
// they were built.
type Reloader struct {
	certFile, keyFile string
	current           atomic.Pointer[tls.Certificate]
	// reloading keeps two overlapping reloads from finishing out of order and
	// leaving the older files' certificate in place.
	reloading sync.Mutex
}

// NewReloader loads certFile and keyFile as LoadKeyPair does.
func NewReloader(certFile, keyFile string) (*Reloader, error) {
	r := &Reloader{certFile: certFile, keyFile: keyFile}
	if err := r.Reload(); err != nil {
		return nil, err
	}
	return r, nil
}

// Reload reads the files again. On error the current certificate stays in use, so
// a mistake while replacing files does not take the service down.
func (r *Reloader) Reload() error {
	r.reloading.Lock()
	defer r.reloading.Unlock()
	cert, err := LoadKeyPair(r.certFile, r.keyFile)
	if err != nil {
		return err
	}
	r.current.Store(&cert)
	return nil
}

// Certificate returns the certificate in use. Callers must not modify it.
func (r *Reloader) Certificate() *tls.Certificate {
	return r.current.Load()
}

// GetCertificate is for tls.Config.GetCertificate.
func (r *Reloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return r.current.Load(), nil
}

// GetClientCertificate is for tls.Config.GetClientCertificate. It presents the
// certificate whatever CAs the server says it accepts, so that a mismatch shows up
// as a clear rejection by the server rather than as a missing certificate.
func (r *Reloader) GetClientCertificate(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
	return r.current.Load(), nil
}

// ServerConfig is the package's ServerConfig with the certificate taken from r.
func (r *Reloader) ServerConfig(clientCAFile string) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: minVersion, GetCertificate: r.GetCertificate}
	if err := requireClientCertificates(cfg, clientCAFile); err != nil {
		return nil, err
	}
	return cfg, nil
}

// ClientConfig is the package's ClientConfig with the client certificate taken
// from r.
func (r *Reloader) ClientConfig(caFile, serverName string) (*tls.Config, error) {
	cfg, err := ClientConfig(caFile, "", "", serverName)
	if err != nil {
		return nil, err
	}
	cfg.GetClientCertificate = r.GetClientCertificate
	return cfg, nil
}
