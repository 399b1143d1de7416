package cli

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fileconv/fileconv/client"
	"github.com/fileconv/fileconv/internal/master"
	"github.com/fileconv/fileconv/internal/metrics"
	"github.com/fileconv/fileconv/internal/tlsconf"
	"github.com/fileconv/fileconv/internal/web"
	"github.com/fileconv/fileconv/internal/worker"
)

// upFlags are the settings of up.
type upFlags struct {
	dir, listen, hosts string
	admin, web         string
	workers            int
	wf                 workerFlags
	webf               webFlags
	sv                 serverFlags
}

// parse reads up's flags and returns the logger they ask for.
func (u *upFlags) parse(args []string, stderr io.Writer) (*slog.Logger, error) {
	fset := newFlagSet("up", "up [--dir ./.fileconv] [--listen 127.0.0.1:5000] [--workers N] [flags]", stderr)
	fset.StringVar(&u.dir, "dir", defaultStateDir, "state folder: CA, certificates, keys and token, created on first start")
	fset.StringVar(&u.listen, "listen", "127.0.0.1:5000", "address of the master's front door")
	fset.IntVar(&u.workers, "workers", runtime.NumCPU(), "workers to start, each running one conversion at a time")
	fset.StringVar(&u.hosts, "hosts", "", "extra names and IP addresses for the generated certificates, separated by commas")
	fset.StringVar(&u.admin, "admin", defaultMasterAdmin, `admin HTTP listener (/healthz /readyz /metrics /status), host:port or "off"`)
	fset.StringVar(&u.web, "web", defaultWebAddr, `web page and HTTP API, served with no token asked (--open): a loopback host:port, or "off"`)
	u.wf.register(fset)
	u.webf.register(fset, "web-")
	u.sv.register(fset, "jobs")
	log, err := u.sv.parse(fset, args, stderr, "")
	if err != nil {
		return nil, err
	}
	if u.workers < 1 {
		return nil, fmt.Errorf("%w: --workers %d: start at least one", errUsage, u.workers)
	}
	if u.webOn() && !loopbackListen(u.web) {
		return nil, fmt.Errorf("%w: --web %s: up serves the page without a token, so only on loopback (e.g. 127.0.0.1:8080); run \"fileconv web\" with tokens for other addresses", errUsage, u.web)
	}
	return log, nil
}

func (u *upFlags) webOn() bool { return u.web != adminOff && u.web != "" }

// runUp starts the embedded default for one machine: a master and N workers in
// this process, with development certificates and a token kept in a state folder.
func runUp(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var u upFlags
	log, err := u.parse(args, stderr)
	if err != nil {
		return err
	}
	u.wf.conv.schedule(log)
	created, err := tlsconf.EnsureDevPKI(u.dir, tlsconf.PKIOptions{Hosts: splitList(u.hosts)})
	if err != nil {
		return err
	}
	token, tokenCreated, err := ensureToken(filepath.Join(u.dir, "token"))
	if err != nil {
		return err
	}
	banner := upBanner{dir: u.dir, token: token, admin: u.admin, pkiCreated: created, tokenCreated: tokenCreated}
	return runServers(ctx, u.sv.grace, func(srv *servers) error {
		return u.start(srv, banner, stdout, log)
	})
}

// upReadyLimit bounds the wait for the master's readiness before the banner: a
// master that is slow to get there still gets its banner, with a warning.
const upReadyLimit = 10 * time.Second

// start starts the workers, the master, its admin listener and the web tier,
// and prints the banner only once the master is ready, so that whoever reads
// the banner can send at once.
func (u *upFlags) start(srv *servers, b upBanner, stdout io.Writer, log *slog.Logger) error {
	paths := tlsconf.Paths(u.dir)
	reg := metrics.NewRegistry()
	var err error
	if b.workers, err = u.startWorkers(srv, paths, reg, log); err != nil {
		return err
	}
	m, err := u.newMaster(b.workers, paths, b.token, reg, log.With("tier", "master"))
	if err != nil {
		return err
	}
	ln, err := listenTCP(u.listen)
	if err != nil {
		return err
	}
	srv.serve(ln, m.Serve)
	b.listen = ln.Addr().String()
	if err := srv.admin(u.admin, reg, m.Ready, func() any { return m.Status() }, log); err != nil {
		return err
	}
	if u.webOn() {
		if b.web, err = upWeb(srv, u.web, b.listen, paths.CA, b.token, m, u.webf, log.With("tier", "web")); err != nil {
			return err
		}
	}
	srv.stopLog = log
	if err := waitReady(srv.ctx, m.Ready, upReadyLimit); err != nil {
		if srv.ctx.Err() != nil {
			return nil
		}
		log.Warn("the master is not ready yet; the banner comes anyway", "err", err)
	}
	printBanner(stdout, b)
	return nil
}

// startWorkers starts the workers on loopback ports of their own and returns
// their addresses.
func (u *upFlags) startWorkers(srv *servers, paths tlsconf.PKIPaths, reg *prometheus.Registry, log *slog.Logger) ([]string, error) {
	workerTLS, err := tlsconf.ServerConfig(paths.WorkerCert, paths.WorkerKey, paths.CA)
	if err != nil {
		return nil, err
	}
	u.wf.concurrency = 1
	// One set of engines (one Chromium) serves every worker of the process.
	eng := u.wf.engines(log.With("tier", "engines"))
	srv.onStop(func() { eng.Close() })
	var addrs []string
	for i := range u.workers {
		cfg := u.wf.config(workerTLS, log.With("tier", "worker", "worker", i+1))
		// One registry for the whole process: each worker's series carry its number.
		cfg.Metrics = metrics.NewWorker(prometheus.WrapRegistererWith(prometheus.Labels{"worker": strconv.Itoa(i + 1)}, reg))
		w, err := worker.New(cfg)
		if err != nil {
			return nil, err
		}
		eng.Attach(w.Converter())
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("start worker %d: %w", i+1, err)
		}
		addrs = append(addrs, ln.Addr().String())
		srv.serve(ln, w.Serve)
	}
	return addrs, nil
}

// newMaster makes up's master: the front door with the master certificate, and
// mutual TLS with the workers.
func (u *upFlags) newMaster(workers []string, paths tlsconf.PKIPaths, token string, reg *prometheus.Registry, log *slog.Logger) (*master.Master, error) {
	front, err := tlsconf.ServerConfig(paths.MasterCert, paths.MasterKey, "")
	if err != nil {
		return nil, err
	}
	toWorkers, err := tlsconf.ClientConfig(paths.CA, paths.MasterCert, paths.MasterKey, "")
	if err != nil {
		return nil, err
	}
	tokens, err := master.ParseTokens(strings.NewReader(token))
	if err != nil {
		return nil, err
	}
	// The tiers share the limits; the master's job deadline leaves the worker's
	// room to fire first, since its message says more.
	mf := masterFlags{maxBody: u.wf.maxBody, jobTimeout: u.wf.jobTimeout + upTransferAllowance, ioTimeout: u.wf.ioTimeout}
	cfg := mf.config(front, toWorkers, workers, tokens, log)
	cfg.Metrics = metrics.NewMaster(reg)
	return master.New(cfg)
}

// upTransferAllowance is added to the workers' --job-timeout for the master, which
// also waits for the upload and the download.
const upTransferAllowance = time.Minute

type upBanner struct {
	dir, listen, token, admin string
	web                       string // the page's URL; empty when --web off
	workers                   []string
	pkiCreated, tokenCreated  bool
}

func printBanner(w io.Writer, b upBanner) {
	self := "fileconv"
	if strings.ContainsRune(os.Args[0], filepath.Separator) {
		self = os.Args[0]
	}
	state := "reused"
	if b.pkiCreated || b.tokenCreated {
		state = "created"
	}
	ca := filepath.Join(b.dir, "ca.pem")
	tokenFile := filepath.Join(b.dir, "token")
	webLine := ""
	if b.web != "" {
		webLine = fmt.Sprintf("  web      %s (page and HTTP API /api/v1; no token asked on loopback)\n", b.web)
	}
	fmt.Fprintf(w, `fileconv is up.
  master   %s (TLS; certificate signed by %s)
  workers  %d on %s
  state    %s (%s: CA, certificates, keys, token)
  token    %s
  admin    %s (/healthz /readyz /metrics /status; "fileconv status --admin %s")
%s
Convert a file:
  %s send --addr %s --ca %s --token-file %s --to png FILE
`, b.listen, ca, len(b.workers), strings.Join(b.workers, " "), b.dir, state, b.token,
		b.admin, b.admin, webLine, self, b.listen, ca, tokenFile)
	if b.web != "" {
		fmt.Fprintf(w, "  curl -sS --data-binary @photo.png -o photo.jpg '%sapi/v1/convert?to=jpg'\n  or drop files on %s\n", b.web, b.web)
	}
	fmt.Fprint(w, "\nStop with Ctrl-C.\n")
}

// upWeb starts the web tier of up: open (no token asked, loopback only), a
// client of the master with up's own token, the master's status read directly.
// It returns the page's URL.
func upWeb(srv *servers, addr, masterAddr, caFile, token string, m *master.Master, wf webFlags, log *slog.Logger) (string, error) {
	tlsConf, err := tlsconf.ClientConfig(caFile, "", "", "")
	if err != nil {
		return "", err
	}
	c := &client.Client{Addr: masterAddr, Token: token, TLSConfig: tlsConf, Timeout: wf.convertTimeout, MaxRetries: 2, MaxIdleConns: 16}
	cfg := wf.config(c, log)
	cfg.Open = true
	cfg.MasterStatus = func(context.Context) (any, error) { return m.Status(), nil }
	s, err := web.New(cfg)
	if err != nil {
		c.Close()
		return "", fmt.Errorf("%w: %w", errUsage, err)
	}
	ln, err := listenTCP(addr)
	if err != nil {
		c.Close()
		return "", fmt.Errorf("--web: %w", err)
	}
	url := "http://" + ln.Addr().String() + "/"
	log.Info("web listening", "url", url, "open", true)
	srv.serve(ln, func(ctx, hard context.Context, ln net.Listener) error {
		defer c.Close()
		return s.Serve(ctx, hard, ln)
	})
	return url, nil
}

// ensureToken returns the token in file, creating the file with a new random
// token when it does not exist.
func ensureToken(file string) (token string, created bool, err error) {
	token, err = readTokenFile(file)
	if err == nil {
		return token, false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", false, fmt.Errorf("token: %w", err)
	}
	// 24 random bytes are 32 base64 characters: the protocol's whole token field.
	var b [24]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", false, fmt.Errorf("token: %w", err)
	}
	token = base64.RawURLEncoding.EncodeToString(b[:])
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", false, fmt.Errorf("token: %w", err)
	}
	if _, err := fmt.Fprintln(f, token); err != nil {
		f.Close()
		return "", false, fmt.Errorf("token: %w", err)
	}
	if err := f.Close(); err != nil {
		return "", false, fmt.Errorf("token: %w", err)
	}
	return token, true, nil
}
