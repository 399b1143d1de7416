package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"sync"
	"sync/atomic"
)

// reloadable is a value loaded from files that Reload replaces, for Reloader and
// CAReloader alike.
type reloadable[T any] struct {
	load    func() (*T, error)
	current atomic.Pointer[T]
	// reloading keeps two overlapping reloads from finishing out of order and
	// leaving the older files' contents in place.
	reloading sync.Mutex
}

func (r *reloadable[T]) init(load func() (*T, error)) error {
	r.load = load
	return r.reload()
}

// reload keeps the value in use when loading fails, so a mistake while replacing
// files neither takes the service down nor, for a CA bundle, leaves peers
// unverified.
func (r *reloadable[T]) reload() error {
	r.reloading.Lock()
	defer r.reloading.Unlock()
	v, err := r.load()
	if err != nil {
		return err
	}
	r.current.Store(v)
	return nil
}

// Reloader holds a certificate loaded from a pair of files and swaps it when Reload
// is called (for example on SIGHUP), so a long-running process picks up a renewed
// certificate without a restart: new handshakes use the new certificate while
// established connections keep theirs. Use its ServerConfig or ClientConfig, or
// put GetCertificate or GetClientCertificate into a tls.Config of your own.
//
// CA bundles are reloaded by a CAReloader.
type Reloader struct {
	cert reloadable[tls.Certificate]
}

// NewReloader loads certFile and keyFile as LoadKeyPair does.
func NewReloader(certFile, keyFile string) (*Reloader, error) {
	r := &Reloader{}
	err := r.cert.init(func() (*tls.Certificate, error) {
		cert, err := LoadKeyPair(certFile, keyFile)
		return &cert, err
	})
	if err != nil {
		return nil, err
	}
	return r, nil
}

// Reload reads the files again. On error the current certificate stays in use.
func (r *Reloader) Reload() error { return r.cert.reload() }

// Certificate returns the certificate in use. Callers must not modify it.
func (r *Reloader) Certificate() *tls.Certificate {
	return r.cert.current.Load()
}

// GetCertificate is for tls.Config.GetCertificate.
func (r *Reloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return r.cert.current.Load(), nil
}

// GetClientCertificate is for tls.Config.GetClientCertificate. It presents the
// certificate whatever CAs the server says it accepts, so that a mismatch shows up
// as a clear rejection by the server rather than as a missing certificate.
func (r *Reloader) GetClientCertificate(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
	return r.cert.current.Load(), nil
}

// ServerConfig is the package's ServerConfig with the certificate taken from r
// and, when clientCAs is not nil, client certificates required and verified
// against its bundle as it is at each handshake.
func (r *Reloader) ServerConfig(clientCAs *CAReloader) *tls.Config {
	cfg := &tls.Config{MinVersion: minVersion, GetCertificate: r.GetCertificate}
	if clientCAs != nil {
		clientCAs.RequireClientCertificates(cfg)
	}
	return cfg
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

// CAReloader holds the pool of CA certificates read from a bundle file and swaps
// it when Reload is called, as Reloader does for a certificate, so that a CA can be
// rotated without a restart: add the new CA to the bundle everywhere, move the
// certificates to the new CA, then remove the old one from the bundle. Each new
// handshake verifies its peer against the pool in use when it starts, resumed
// sessions included (crypto/tls checks their chains against the configuration's
// pool); established connections stay up.
type CAReloader struct {
	pool reloadable[x509.CertPool]
}

// NewCAReloader loads file as LoadCAPool does.
func NewCAReloader(file string) (*CAReloader, error) {
	c := &CAReloader{}
	if err := c.pool.init(func() (*x509.CertPool, error) { return LoadCAPool(file) }); err != nil {
		return nil, err
	}
	return c, nil
}

// Reload reads the bundle again. On error the current pool stays in use: a
// bundle caught half-written must not leave peers unverified or refuse them all.
func (c *CAReloader) Reload() error { return c.pool.reload() }

// Pool returns the pool in use, for tls.Config.RootCAs when a client builds its
// configuration per connection. Callers must not modify it.
func (c *CAReloader) Pool() *x509.CertPool {
	return c.pool.current.Load()
}

// RequireClientCertificates makes the server configuration cfg require a client
// certificate issued by a CA of the bundle, as it is when each handshake starts.
// cfg must not have a GetConfigForClient of its own.
func (c *CAReloader) RequireClientCertificates(cfg *tls.Config) {
	cfg.ClientAuth = tls.RequireAndVerifyClientCert
	// Set as well so that a copy of cfg without the callback still verifies.
	cfg.ClientCAs = c.Pool()
	// A copy per handshake keeps cfg's session ticket keys (crypto/tls takes them
	// from cfg, not from the copy), so sessions resume across reloads, and
	// crypto/tls refuses to resume one whose client chain the pool no longer
	// covers.
	cfg.GetConfigForClient = func(*tls.ClientHelloInfo) (*tls.Config, error) {
		conf := cfg.Clone()
		conf.GetConfigForClient = nil
		conf.ClientCAs = c.Pool()
		return conf, nil
	}
}
