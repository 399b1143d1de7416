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
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fileconv/fileconv/client"
	"github.com/fileconv/fileconv/internal/master"
	"github.com/fileconv/fileconv/internal/metrics"
	"github.com/fileconv/fileconv/internal/tlsconf"
	"github.com/fileconv/fileconv/internal/web"
	"github.com/fileconv/fileconv/internal/worker"
)

// runUp starts the embedded default for one machine: a master and N workers in
// this process, with development certificates and a token kept in a state folder.
func runUp(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var (
		dir, listen, hosts string
		adminAddr, webAddr string
		workers            int
		wf                 workerFlags
		webf               webFlags
		sv                 serverFlags
	)
	fset := newFlagSet("up", "up [--dir ./.fileconv] [--listen 127.0.0.1:5000] [--workers N] [flags]", stderr)
	fset.StringVar(&dir, "dir", defaultStateDir, "state folder: CA, certificates, keys and token, created on first start")
	fset.StringVar(&listen, "listen", "127.0.0.1:5000", "address of the master's front door")
	fset.IntVar(&workers, "workers", runtime.NumCPU(), "workers to start, each running one conversion at a time")
	fset.StringVar(&hosts, "hosts", "", "extra names and IP addresses for the generated certificates, separated by commas")
	fset.StringVar(&adminAddr, "admin", defaultMasterAdmin, `admin HTTP listener (/healthz /readyz /metrics /status), host:port or "off"`)
	fset.StringVar(&webAddr, "web", defaultWebAddr, `web page and HTTP API, served with no token asked (--open): a loopback host:port, or "off"`)
	wf.register(fset)
	webf.register(fset, "web-")
	sv.register(fset, "jobs")
	log, err := sv.parse(fset, args, stderr, "")
	if err != nil {
		return err
	}
	if workers < 1 {
		return fmt.Errorf("%w: --workers %d: start at least one", errUsage, workers)
	}
	if webAddr != adminOff && webAddr != "" && !loopbackListen(webAddr) {
		return fmt.Errorf("%w: --web %s: up serves the page without a token, so only on loopback (e.g. 127.0.0.1:8080); run \"fileconv web\" with tokens for other addresses", errUsage, webAddr)
	}
	wf.conv.schedule(log)
	created, err := tlsconf.EnsureDevPKI(dir, tlsconf.PKIOptions{Hosts: splitList(hosts)})
	if err != nil {
		return err
	}
	token, tokenCreated, err := ensureToken(filepath.Join(dir, "token"))
	if err != nil {
		return err
	}
	paths := tlsconf.Paths(dir)

	hard, stopHard := hardStopAfter(ctx, sv.grace)
	defer stopHard()
	var (
		wg       sync.WaitGroup
		errsMu   sync.Mutex
		errs     []error
		addrs    []string
		serveCtx context.Context
		abort    context.CancelFunc
	)
	// One tier failing takes the others down with it rather than leaving a
	// half-working service up.
	serveCtx, abort = context.WithCancel(ctx)
	defer abort()
	run := func(serve func() error) {
		wg.Go(func() {
			if err := serve(); err != nil {
				errsMu.Lock()
				errs = append(errs, err)
				errsMu.Unlock()
				abort()
			}
		})
	}

	workerTLS, err := tlsconf.ServerConfig(paths.WorkerCert, paths.WorkerKey, paths.CA)
	if err != nil {
		return err
	}
	reg := metrics.NewRegistry()
	wf.concurrency = 1
	for i := range workers {
		wlog := log.With("tier", "worker", "worker", i+1)
		cfg := wf.config(workerTLS, wlog)
		// One registry for the whole process: each worker's series carry its number.
		cfg.Metrics = metrics.NewWorker(prometheus.WrapRegistererWith(prometheus.Labels{"worker": strconv.Itoa(i + 1)}, reg))
		w, err := worker.New(cfg)
		if err != nil {
			return err
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return fmt.Errorf("start worker %d: %w", i+1, err)
		}
		addrs = append(addrs, ln.Addr().String())
		run(func() error { return w.Serve(serveCtx, hard, ln) })
	}

	front, err := tlsconf.ServerConfig(paths.MasterCert, paths.MasterKey, "")
	if err != nil {
		return err
	}
	toWorkers, err := tlsconf.ClientConfig(paths.CA, paths.MasterCert, paths.MasterKey, "")
	if err != nil {
		return err
	}
	tokens, err := master.ParseTokens(strings.NewReader(token))
	if err != nil {
		return err
	}
	// The tiers share the limits; the master's job deadline leaves the worker's
	// room to fire first, since its message says more.
	mf := masterFlags{maxBody: wf.maxBody, jobTimeout: wf.jobTimeout + upTransferAllowance, ioTimeout: wf.ioTimeout}
	mcfg := mf.config(front, toWorkers, addrs, tokens, log.With("tier", "master"))
	mcfg.Metrics = metrics.NewMaster(reg)
	m, err := master.New(mcfg)
	if err != nil {
		return err
	}
	ln, err := listenTCP(listen)
	if err != nil {
		abort()
		wg.Wait()
		return err
	}
	adminCtx, stopAdmin := context.WithCancel(context.Background())
	defer stopAdmin()
	serveAdmin, err := adminListener(adminCtx, adminAddr, reg, m.Ready, func() any { return m.Status() }, log)
	if err != nil {
		ln.Close()
		abort()
		wg.Wait()
		return err
	}
	var adminWG sync.WaitGroup
	adminWG.Go(func() { _ = serveAdmin() })
	defer adminWG.Wait()
	defer stopAdmin()
	webURL := ""
	if webAddr != adminOff && webAddr != "" {
		serveWeb, url, err := upWeb(webAddr, ln.Addr().String(), paths.CA, token, m, webf, log.With("tier", "web"))
		if err != nil {
			ln.Close()
			abort()
			wg.Wait()
			return err
		}
		webURL = url
		run(func() error { return serveWeb(serveCtx, hard) })
	}
	run(func() error { return m.Serve(serveCtx, hard, ln) })

	printBanner(stdout, upBanner{
		dir: dir, listen: ln.Addr().String(), workers: addrs, token: token, admin: adminAddr, web: webURL,
		pkiCreated: created, tokenCreated: tokenCreated,
	})
	<-serveCtx.Done()
	log.Info("stopping: finishing jobs in flight", "grace", sv.grace)
	wg.Wait()
	return errors.Join(errs...)
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

// upWeb prepares the web tier of up: open (no token asked, loopback only), a
// client of the master with up's own token, the master's status read directly.
func upWeb(addr, masterAddr, caFile, token string, m *master.Master, wf webFlags, log *slog.Logger) (func(ctx, hard context.Context) error, string, error) {
	tlsConf, err := tlsconf.ClientConfig(caFile, "", "", "")
	if err != nil {
		return nil, "", err
	}
	c := &client.Client{Addr: masterAddr, Token: token, TLSConfig: tlsConf, Timeout: wf.convertTimeout, MaxRetries: 2, MaxIdleConns: 16}
	cfg := wf.config(c, log)
	cfg.Open = true
	cfg.MasterStatus = func(context.Context) (any, error) { return m.Status(), nil }
	s, err := web.New(cfg)
	if err != nil {
		return nil, "", fmt.Errorf("%w: %w", errUsage, err)
	}
	ln, err := listenTCP(addr)
	if err != nil {
		return nil, "", fmt.Errorf("--web: %w", err)
	}
	url := "http://" + ln.Addr().String() + "/"
	log.Info("web listening", "url", url, "open", true)
	return func(ctx, hard context.Context) error {
		defer c.Close()
		return s.Serve(ctx, hard, ln)
	}, url, nil
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
