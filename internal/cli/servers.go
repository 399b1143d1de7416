package cli

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fileconv/fileconv/internal/convert"
	"github.com/fileconv/fileconv/internal/engines"
	"github.com/fileconv/fileconv/internal/master"
	"github.com/fileconv/fileconv/internal/metrics"
	"github.com/fileconv/fileconv/internal/office"
	"github.com/fileconv/fileconv/internal/tlsconf"
	"github.com/fileconv/fileconv/internal/worker"
)

const defaultGrace = 30 * time.Second

// tlsFlags are a server's certificate flags.
type tlsFlags struct{ cert, key, ca string }

func (t *tlsFlags) register(fs *flag.FlagSet, caUsage string) {
	fs.StringVar(&t.cert, "cert", "", "certificate (PEM) this process presents (default: a temporary self-signed one)")
	fs.StringVar(&t.key, "key", "", "private key (PEM) of --cert")
	fs.StringVar(&t.ca, "ca", "", caUsage)
}

// source loads --cert/--key into a Reloader, so the certificate can be replaced
// without a restart, or makes a temporary self-signed certificate when neither is
// given, which is fine for trying things and said in the log.
func (t *tlsFlags) source(log *slog.Logger) (*tlsconf.Reloader, tls.Certificate, error) {
	switch {
	case t.cert == "" && t.key == "":
		log.Warn("no --cert/--key: using a temporary self-signed certificate that clients cannot verify")
		cert, err := tlsconf.SelfSigned()
		return nil, cert, err
	case t.cert == "" || t.key == "":
		return nil, tls.Certificate{}, fmt.Errorf("%w: --cert and --key go together", errUsage)
	}
	r, err := tlsconf.NewReloader(t.cert, t.key)
	return r, tls.Certificate{}, err
}

// serverTLS is the listener configuration for --cert/--key, asking clients for a
// certificate signed by a CA of clientCAs when it is not nil.
func (t *tlsFlags) serverTLS(log *slog.Logger, clientCAs *tlsconf.CAReloader) (*tls.Config, *tlsconf.Reloader, error) {
	r, selfSigned, err := t.source(log)
	if err != nil {
		return nil, nil, err
	}
	if r != nil {
		return r.ServerConfig(clientCAs), r, nil
	}
	conf, err := tlsconf.ServerConfigWith(selfSigned, "")
	if err != nil {
		return nil, nil, err
	}
	if clientCAs != nil {
		clientCAs.RequireClientCertificates(conf)
	}
	return conf, nil, nil
}

// loadCA reads the CA bundle of flag, or returns nil when file is empty.
func loadCA(file, flag string) (*tlsconf.CAReloader, error) {
	if file == "" {
		return nil, nil
	}
	cas, err := tlsconf.NewCAReloader(file)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", flag, err)
	}
	return cas, nil
}

// reloads are what a process re-reads on SIGHUP or when their files change.
// Each is reloaded on its own, so a broken file leaves only its own part as it
// was: a CA bundle caught half-written must not hold back a renewed certificate.
type reloads struct {
	files []string
	funcs []func() error
}

func (r *reloads) add(reload func() error, files ...string) {
	r.funcs = append(r.funcs, reload)
	r.files = append(r.files, files...)
}

func (r *reloads) reload() error {
	var errs []error
	for _, f := range r.funcs {
		errs = append(errs, f())
	}
	return errors.Join(errs...)
}

// watch runs watchReload for r until ctx ends, if there is anything to reload.
func (r *reloads) watch(ctx context.Context, log *slog.Logger) {
	if len(r.funcs) > 0 {
		go watchReload(ctx, r.files, log, r.reload)
	}
}

// reloadPoll is how often the files behind tokens, certificates and CA bundles
// are checked for changes; SIGHUP reloads at once.
const reloadPoll = 5 * time.Second

// watchReload calls reload on SIGHUP and whenever one of files changes (size or
// modification time), until ctx ends. A failed reload keeps what was loaded.
func watchReload(ctx context.Context, files []string, log *slog.Logger, reload func() error) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	stamp := func() string {
		var b strings.Builder
		for _, f := range files {
			if st, err := os.Stat(f); err == nil {
				fmt.Fprintf(&b, "%s:%d:%d;", f, st.Size(), st.ModTime().UnixNano())
			}
		}
		return b.String()
	}
	last := stamp()
	tick := time.NewTicker(reloadPoll)
	defer tick.Stop()
	for {
		why := ""
		select {
		case <-ctx.Done():
			return
		case <-hup:
			why = "SIGHUP"
		case <-tick.C:
			if now := stamp(); now != last {
				last, why = now, "file changed"
			}
		}
		if why == "" {
			continue
		}
		if err := reload(); err != nil {
			log.Error("reload failed; what could not be read stays as it was", "trigger", why, "err", err)
			continue
		}
		log.Info("reloaded tokens and certificates", "trigger", why)
	}
}

// convertFlags are the conversion limits and qualities a worker (or up) takes.
type convertFlags struct {
	cfg             convert.Config
	batchScheduling bool
}

func (c *convertFlags) register(fs *flag.FlagSet) {
	fs.Int64Var(&c.cfg.MaxPixels, "max-pixels", convert.DefaultMaxPixels, "largest image accepted, in pixels (width × height, checked before decoding)")
	c.cfg.MaxOfficeInflate = convert.DefaultMaxOfficeInflate
	fs.Var((*byteSize)(&c.cfg.MaxOfficeInflate), "max-office-inflate", "most bytes the parts of an office document's ZIP (DOCX, XLSX, PPTX, ODT, ODS, ODP) may unpack to, checked before LibreOffice opens it")
	fs.IntVar(&c.cfg.MaxFiles, "max-files", convert.DefaultMaxFiles, "most files in one job of several files (merged into one PDF); their bytes together are bounded by --max-body")
	fs.IntVar(&c.cfg.MaxFrames, "max-frames", convert.DefaultMaxFrames, "most frames of an animation or pages of a multi-page image, checked before decoding; the frames converted together are also bounded to 4 × max-pixels")
	fs.IntVar(&c.cfg.MaxPDFDPI, "max-pdf-dpi", convert.DefaultMaxPDFDPI, "highest resolution a PDF's pages are rendered at (dpi option of PDF to images); each page's pixels are also checked against max-pixels before rendering")
	fs.IntVar(&c.cfg.MaxPDFPages, "max-pdf-pages", convert.DefaultMaxPDFPages, "most pages of a PDF converted to text")
	fs.IntVar(&c.cfg.MaxOCRPages, "max-ocr-pages", convert.DefaultMaxOCRPages, "most pages of a PDF one job reads by OCR (the rest are left as they are, with a warning)")
	c.cfg.MaxPDFInflate = convert.DefaultMaxPDFInflate
	fs.Var((*byteSize)(&c.cfg.MaxPDFInflate), "max-pdf-inflate", "most bytes the compressed streams of a PDF may decode to, checked before text extraction (e.g. 256MiB)")
	fs.IntVar(&c.cfg.MaxPDFNesting, "max-pdf-nesting", convert.DefaultMaxPDFNesting, "deepest nesting of arrays and dictionaries in a PDF, 1-500 (graphics states and marked content: 16 times as deep)")
	c.cfg.MaxPDFMemory = convert.DefaultMaxPDFMemory
	c.cfg.MaxImageMemory = convert.DefaultMaxImageMemory
	fs.Var((*byteSize)(&c.cfg.MaxImageMemory), "max-image-memory", "most memory of the process that decodes an image in a format whose decoder is not hardened (HEIC, AVIF, JPEG XL, JPEG 2000, TIFF, SVG, BMP, ICO, TGA, PSD, PNM) or encodes AVIF, HEIC or JPEG XL; it runs apart and is killed at the job's deadline; at least 128MiB")
	fs.Var((*byteSize)(&c.cfg.MaxPDFMemory), "max-pdf-memory", "most memory of the process that reads one PDF for text (poppler runs in a child process, killed at the job's deadline), at least 128MiB")
	fs.IntVar(&c.cfg.MaxTextPages, "max-text-pages", convert.DefaultMaxTextPages, "most pages of the PDF made from a text")
	fs.IntVar(&c.cfg.JPEGQuality, "jpeg-quality", convert.DefaultJPEGQuality, "JPEG output quality, 1-100")
	fs.IntVar(&c.cfg.WEBPQuality, "webp-quality", convert.DefaultWEBPQuality, "WEBP output quality, 1-100")
	fs.IntVar(&c.cfg.WEBPEffort, "webp-effort", convert.DefaultWEBPEffort, "WEBP encoding effort (libwebp's method), 1 (fastest) to 6 (smallest): 2 encodes photos about twice as fast as 4, for files 2-6 % larger")
	fs.IntVar(&c.cfg.PNGCompression, "png-compression", convert.DefaultPNGCompression, "PNG zlib level, 0 (fast, large) to 9 (slow, small)")
	fs.Func("engines", "families of engines this worker runs, separated by commas: "+strings.Join(convert.Families, ",")+" (default: all that work here)", func(v string) error {
		c.cfg.Engines = splitList(v)
		return nil
	})
	fs.Func("disable-conversions", "registry entries this worker does not offer, separated by commas (names as GET /api/v1/formats lists them under conversions)", func(v string) error {
		c.cfg.Disable = splitList(v)
		return nil
	})
	fs.BoolVar(&c.batchScheduling, "batch-scheduling", true, "run this process's threads under Linux's SCHED_BATCH policy, so that thread wake-ups do not preempt conversions (more conversions per second on busy cores)")
}

// schedule applies --batch-scheduling to this process. A process that cannot
// change its policy still works, with the default one.
func (c *convertFlags) schedule(log *slog.Logger) {
	if !c.batchScheduling {
		return
	}
	if err := convert.ScheduleAsBatch(); err != nil {
		log.Warn("could not run this process's threads under SCHED_BATCH; they keep the default policy (--batch-scheduling)", "err", err)
	}
}

// workerFlags are the settings of one worker.
type workerFlags struct {
	maxBody     byteSize
	concurrency int
	jobTimeout  time.Duration
	ioTimeout   time.Duration
	conv        convertFlags
	browserTabs int
	javascript  bool
	office      office.Config
	officeMem   byteSize
}

func (w *workerFlags) register(fs *flag.FlagSet) {
	w.maxBody = worker.DefaultMaxBodyBytes
	fs.Var(&w.maxBody, "max-body", "largest file accepted (e.g. 256MiB)")
	fs.DurationVar(&w.jobTimeout, "job-timeout", worker.DefaultJobTimeout, "longest a job may take on a worker, from its header to its answer")
	fs.DurationVar(&w.ioTimeout, "io-timeout", worker.DefaultIOTimeout, "longest wait for the peer on any read or write")
	fs.IntVar(&w.browserTabs, "browser-tabs", convert.DefaultConcurrency(), "web pages and Markdown printed at once by the worker's Chromium")
	fs.IntVar(&w.office.Processes, "office-processes", convert.DefaultConcurrency(), "warm LibreOffice processes, each converting one office document at a time")
	fs.IntVar(&w.office.Recycle, "office-recycle", 200, "documents a LibreOffice process converts before it is replaced")
	w.officeMem = 1 << 30
	fs.Var(&w.officeMem, "office-max-memory", "a LibreOffice process whose resident memory passes this after a document is replaced")
	fs.BoolVar(&w.javascript, "javascript", false, "let web pages' inline scripts run while they print (off: no script runs; a page never reaches the network either way)")
	w.conv.register(fs)
}

// engines starts the engines that run beside the worker's process.
func (w *workerFlags) engines(log *slog.Logger) *engines.Engines {
	oc := w.office
	oc.MaxMemory = int64(w.officeMem)
	return engines.Start(engines.Config{Families: w.conv.cfg.Engines, BrowserTabs: w.browserTabs, JavaScript: w.javascript, Office: oc, Logger: log})
}

func (w *workerFlags) config(tlsConf *tls.Config, log *slog.Logger) worker.Config {
	return worker.Config{
		TLS:          tlsConf,
		MaxBodyBytes: int64(w.maxBody),
		Concurrency:  w.concurrency,
		JobTimeout:   w.jobTimeout,
		IOTimeout:    w.ioTimeout,
		Convert:      w.conv.cfg,
		Logger:       log,
	}
}

func runWorker(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var (
		listen, adminAddr string
		tf                tlsFlags
		wf                workerFlags
		sv                serverFlags
	)
	fs := newFlagSet("worker", "worker --listen :6000 [--cert F --key F --ca F] [flags]", stderr)
	fs.StringVar(&listen, "listen", ":6000", "address to listen on")
	tf.register(fs, "cluster CA (PEM): when set, only masters with a certificate it signed may connect (mutual TLS)")
	fs.IntVar(&wf.concurrency, "concurrency", convert.DefaultConcurrency(), "conversions at once; more jobs wait for a slot")
	fs.StringVar(&adminAddr, "admin", defaultWorkerAdmin, `admin HTTP listener (/healthz /readyz /metrics), host:port or "off"`)
	wf.register(fs)
	sv.register(fs, "jobs")
	log, err := sv.parse(fs, args, stderr, "worker")
	if err != nil {
		return err
	}
	wf.conv.schedule(log)
	if tf.ca == "" {
		log.Warn("no --ca: any client may send jobs to this worker; give the cluster CA to require the master's certificate")
	}
	masterCAs, err := loadCA(tf.ca, "--ca")
	if err != nil {
		return err
	}
	tlsConf, certs, err := tf.serverTLS(log, masterCAs)
	if err != nil {
		return err
	}
	var watch reloads
	if certs != nil {
		watch.add(certs.Reload, tf.cert, tf.key)
	}
	if masterCAs != nil {
		watch.add(masterCAs.Reload, tf.ca)
	}
	watch.watch(ctx, log)
	reg := metrics.NewRegistry()
	cfg := wf.config(tlsConf, log)
	cfg.Metrics = metrics.NewWorker(reg)
	w, err := worker.New(cfg)
	if err != nil {
		return err
	}
	eng := wf.engines(log)
	defer eng.Close()
	eng.Attach(w.Converter())
	return runTier(ctx, tier{
		name: "worker", listen: listen, admin: adminAddr, grace: sv.grace, log: log, registry: reg,
		ready: w.Ready, status: func() any { return w.Status() }, serve: w.Serve,
		attrs: []any{"mtls", tf.ca != "", "concurrency", cfg.Concurrency},
	})
}

// tier is one long-running tier as a subcommand starts it.
type tier struct {
	name, listen, admin string
	grace               time.Duration
	log                 *slog.Logger
	registry            *prometheus.Registry
	ready               func() error
	status              func() any
	serve               func(ctx, hardStop context.Context, ln net.Listener) error
	attrs               []any // for the "listening" log line
}

// runTier listens, starts the admin listener and serves the tier with the
// lifecycle every server shares.
func runTier(ctx context.Context, t tier) error {
	return runServers(ctx, t.grace, func(srv *servers) error {
		ln, err := listenTCP(t.listen)
		if err != nil {
			return err
		}
		if err := srv.admin(t.admin, t.registry, t.ready, t.status, t.log); err != nil {
			ln.Close()
			return err
		}
		t.log.Info(t.name+" listening", append([]any{"addr", ln.Addr().String()}, t.attrs...)...)
		srv.serve(ln, t.serve)
		return nil
	})
}

// masterFlags are the settings of the orchestration tier.
type masterFlags struct {
	maxBody          byteSize
	jobTimeout       time.Duration
	ioTimeout        time.Duration
	headerTimeout    time.Duration
	dialTimeout      time.Duration
	maxConns         int
	queueSize        int
	queueTimeout     time.Duration
	workerCapacity   int
	healthInterval   time.Duration
	resolveInterval  time.Duration
	retryBuffer      byteSize
	retryBufferTotal byteSize
	maxFiles         int
}

func (m *masterFlags) register(fs *flag.FlagSet) {
	m.maxBody = master.DefaultMaxBodyBytes
	fs.Var(&m.maxBody, "max-body", "largest file accepted (e.g. 256MiB)")
	fs.DurationVar(&m.jobTimeout, "job-timeout", master.DefaultJobTimeout, "longest a job may take, from its header to the end of its answer")
	fs.DurationVar(&m.ioTimeout, "io-timeout", master.DefaultIOTimeout, "longest wait for a client or worker on any read or write")
	fs.DurationVar(&m.headerTimeout, "header-timeout", master.DefaultHeaderTimeout, "longest wait for a request's 94-byte header")
	fs.DurationVar(&m.dialTimeout, "dial-timeout", master.DefaultDialTimeout, "longest wait to connect to a worker")
	fs.IntVar(&m.maxConns, "max-conns", master.DefaultMaxConns, `client connections served at once; past it a client gets "ERROR: busy"`)
	fs.IntVar(&m.queueSize, "queue-size", master.DefaultQueueSize, "jobs that may wait for a free worker slot when every worker is at capacity")
	fs.DurationVar(&m.queueTimeout, "queue-timeout", master.DefaultQueueTimeout, `longest a job waits for a free worker slot before "ERROR: busy"`)
	fs.IntVar(&m.workerCapacity, "worker-capacity", 0, "jobs each worker takes at once (default: what each worker announces, its --concurrency)")
	fs.DurationVar(&m.healthInterval, "health-interval", master.DefaultHealthInterval, "how often each worker is probed")
	fs.DurationVar(&m.resolveInterval, "resolve-interval", master.DefaultResolveInterval, "how often worker DNS names are resolved again")
	m.retryBuffer = master.DefaultRetryBufferBytes
	fs.Var(&m.retryBuffer, "retry-buffer", "largest file kept in memory so that a job can be retried on another worker if its worker fails")
	m.retryBufferTotal = master.DefaultRetryBufferTotal
	fs.Var(&m.retryBufferTotal, "retry-buffer-total", "memory for all retry buffers together")
	fs.IntVar(&m.maxFiles, "max-files", convert.DefaultMaxFiles, "most files in one job of several files (merged into one PDF); their bytes together are bounded by --max-body")
}

func (m *masterFlags) config(front, toWorkers *tls.Config, workers []string, tokens master.Tokens, log *slog.Logger) master.Config {
	return master.Config{
		TLS:              front,
		WorkerTLS:        toWorkers,
		Workers:          workers,
		Tokens:           tokens,
		MaxBodyBytes:     int64(m.maxBody),
		JobTimeout:       m.jobTimeout,
		IOTimeout:        m.ioTimeout,
		HeaderTimeout:    m.headerTimeout,
		DialTimeout:      m.dialTimeout,
		MaxConns:         m.maxConns,
		QueueSize:        m.queueSize,
		QueueTimeout:     m.queueTimeout,
		WorkerCapacity:   m.workerCapacity,
		HealthInterval:   m.healthInterval,
		ResolveInterval:  m.resolveInterval,
		RetryBufferBytes: int64(m.retryBuffer),
		RetryBufferTotal: int64(m.retryBufferTotal),
		MaxFiles:         m.maxFiles,
		Logger:           log,
	}
}

func runMaster(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var (
		listen, workers, tokenFile, clientCA, adminAddr string
		tf                                              tlsFlags
		mf                                              masterFlags
		sv                                              serverFlags
	)
	fs := newFlagSet("master", "master --listen :5000 --workers host:port,... --token-file F [--cert F --key F --ca F] [flags]", stderr)
	fs.StringVar(&listen, "listen", ":5000", "address of the front door")
	fs.StringVar(&workers, "workers", "", "workers' addresses, host:port separated by commas")
	fs.StringVar(&tokenFile, "token-file", "", "file of accepted auth tokens, one per line (FILECONV_TOKENS may also hold them)")
	tf.register(fs, "cluster CA (PEM) that signed the workers' certificates; --cert/--key are then also presented to workers (mutual TLS)")
	fs.StringVar(&clientCA, "client-ca", "", "CA (PEM) whose certificates clients must present at the front door (default: none asked)")
	fs.StringVar(&adminAddr, "admin", defaultMasterAdmin, `admin HTTP listener (/healthz /readyz /metrics /status), host:port or "off"`)
	mf.register(fs)
	sv.register(fs, "jobs")
	log, err := sv.parse(fs, args, stderr, "master")
	if err != nil {
		return err
	}
	tokens, err := loadTokens(tokenFile)
	if err != nil {
		return err
	}
	clientCAs, err := loadCA(clientCA, "--client-ca")
	if err != nil {
		return err
	}
	workerCAs, err := loadCA(tf.ca, "--ca")
	if err != nil {
		return err
	}
	front, certs, err := tf.serverTLS(log, clientCAs)
	if err != nil {
		return err
	}
	toWorkers := &tls.Config{MinVersion: tls.VersionTLS12}
	if workerCAs == nil {
		log.Warn("no --ca: workers' certificates are not verified; give the cluster CA")
		toWorkers.InsecureSkipVerify = true
	} else {
		toWorkers.RootCAs = workerCAs.Pool()
		if certs != nil {
			toWorkers.GetClientCertificate = certs.GetClientCertificate
		}
	}
	reg := metrics.NewRegistry()
	cfg := mf.config(front, toWorkers, splitList(workers), tokens, log)
	if workerCAs != nil {
		cfg.WorkerRootCAs = workerCAs.Pool
	}
	cfg.Metrics = metrics.NewMaster(reg)
	m, err := master.New(cfg)
	if err != nil {
		return err
	}
	var watch reloads
	watch.add(func() error {
		tokens, err := loadTokens(tokenFile)
		if err != nil {
			return err
		}
		return m.SetTokens(tokens)
	}, tokenFile)
	if certs != nil {
		watch.add(certs.Reload, tf.cert, tf.key)
	}
	if workerCAs != nil {
		watch.add(workerCAs.Reload, tf.ca)
	}
	if clientCAs != nil {
		watch.add(clientCAs.Reload, clientCA)
	}
	watch.watch(ctx, log)
	return runTier(ctx, tier{
		name: "master", listen: listen, admin: adminAddr, grace: sv.grace, log: log, registry: reg,
		ready: m.Ready, status: func() any { return m.Status() }, serve: m.Serve,
		attrs: []any{"workers", workers, "tokens", tokens.Len(), "client_certificates", clientCA != ""},
	})
}

// loadTokens reads --token-file and FILECONV_TOKENS; both may hold tokens.
func loadTokens(file string) (master.Tokens, error) {
	return readTokens(file, "--token-file", "FILECONV_TOKENS")
}

// readTokens reads tokens, one per line, from file (given as flag) and from the
// environment variable env; both may hold some.
func readTokens(file, flag, env string) (master.Tokens, error) {
	var text strings.Builder
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return master.Tokens{}, fmt.Errorf("%s: %w", flag, err)
		}
		text.Write(b)
		text.WriteByte('\n')
	}
	text.WriteString(os.Getenv(env))
	tokens, err := master.ParseTokens(strings.NewReader(text.String()))
	if err != nil {
		return master.Tokens{}, fmt.Errorf("%w: tokens from %s/%s: %w", errUsage, flag, env, err)
	}
	return tokens, nil
}

func runCerts(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var dir, hosts string
	fs := newFlagSet("certs", "certs --dir D [--hosts name,ip,...]", stderr)
	fs.StringVar(&dir, "dir", defaultStateDir, "folder to write the CA and certificates into")
	fs.StringVar(&hosts, "hosts", "", "extra names and IP addresses for the master and worker certificates, separated by commas")
	if err := parseNoOperands(fs, args); err != nil {
		return err
	}
	if err := tlsconf.GenerateDevPKI(dir, tlsconf.PKIOptions{Hosts: splitList(hosts)}); err != nil {
		return err
	}
	p := tlsconf.Paths(dir)
	fmt.Fprintf(stdout, "wrote a cluster CA and certificates to %s:\n  CA      %s (keep %s secret)\n  master  %s %s\n  worker  %s %s\n  client  %s %s\n",
		dir, p.CA, p.CAKey, p.MasterCert, p.MasterKey, p.WorkerCert, p.WorkerKey, p.ClientCert, p.ClientKey)
	return nil
}

func parseNoOperands(fs *flag.FlagSet, args []string) error {
	operands, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(operands) > 0 {
		return fmt.Errorf("%w: unexpected argument %q (flags start with --)", errUsage, operands[0])
	}
	return nil
}

func splitList(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

func listenTCP(addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		if errors.Is(err, errAddrInUse) {
			return nil, fmt.Errorf("listen on %s: the address is in use (is another fileconv running?): %w", addr, err)
		}
		return nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	return ln, nil
}
