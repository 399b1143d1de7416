package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/fileconv/fileconv/client"
	"github.com/fileconv/fileconv/internal/master"
	"github.com/fileconv/fileconv/internal/web"
)

const defaultWebAddr = "127.0.0.1:8080"

// webFlags are the web tier's settings that up and web share.
type webFlags struct {
	maxBody, maxMemory byteSize
	maxPerClient       int
	convertTimeout     time.Duration
	readTimeout        time.Duration
}

func (w *webFlags) register(fs *flag.FlagSet, prefix string) {
	w.maxBody, w.maxMemory = web.DefaultMaxBodyBytes, web.DefaultMaxMemoryBytes
	fs.Var(&w.maxBody, prefix+"max-body", "largest file the web page and the HTTP API accept (held in memory, never on disk)")
	fs.Var(&w.maxMemory, prefix+"max-memory", "memory for the inputs of all web conversions in flight together; past it callers get 503 and Retry-After")
	fs.IntVar(&w.maxPerClient, prefix+"max-per-client", web.DefaultMaxPerClient, "web conversions one caller (token, or address with --open) may have in flight; more get 429")
	fs.DurationVar(&w.convertTimeout, prefix+"convert-timeout", web.DefaultConvertTimeout, "longest a web conversion may take once its upload is read (504 past it)")
	fs.DurationVar(&w.readTimeout, prefix+"read-timeout", web.DefaultReadTimeout, "longest an upload to the web tier may take")
}

func (w *webFlags) config(c *client.Client, log *slog.Logger) web.Config {
	return web.Config{
		Client: c, Logger: log,
		MaxBodyBytes: int64(w.maxBody), MaxMemoryBytes: int64(w.maxMemory), MaxPerClient: w.maxPerClient,
		ConvertTimeout: w.convertTimeout, ReadTimeout: w.readTimeout,
	}
}

// webCmd are the settings of the web subcommand.
type webCmd struct {
	listen, apiTokenFile, adminAddr string
	open, openAnywhere              bool
	sf                              sendFlags
	wf                              webFlags
	sv                              serverFlags
}

// parse reads web's flags and returns the logger they ask for.
func (w *webCmd) parse(args []string, stderr io.Writer) (*slog.Logger, error) {
	fs := newFlagSet("web", "web [--listen 127.0.0.1:8080] [--master 127.0.0.1:5000 --ca F --token-file F] [--open] [flags]", stderr)
	fs.StringVar(&w.listen, "listen", defaultWebAddr, "address of the web page and the HTTP API (plain HTTP: put TLS in front beyond loopback)")
	fs.StringVar(&w.sf.addr, "master", client.DefaultAddr, "the master's address host:port")
	fs.StringVar(&w.sf.ca, "ca", "", "CA certificate that signed the master's (default: "+defaultStateDir+"/ca.pem when present, else the system's)")
	fs.StringVar(&w.sf.token, "token", "", "the web tier's token for the master (default: first line of --token-file)")
	fs.StringVar(&w.sf.tokenFile, "token-file", "", "file whose first line is the web tier's token for the master (default: "+defaultStateDir+"/token when present)")
	fs.StringVar(&w.apiTokenFile, "api-token-file", "", "tokens callers may present as Authorization: Bearer, one per line (FILECONV_API_TOKENS may also hold them); default: the master token itself")
	fs.BoolVar(&w.open, "open", false, "ask callers for no token (the web tier uses its own); only on a loopback --listen")
	fs.BoolVar(&w.openAnywhere, "open-anywhere", false, "allow --open on an address that is not loopback, and requests for any host name: anyone who reaches it converts with the web tier's token")
	fs.StringVar(&w.adminAddr, "master-admin", defaultMasterAdmin, `the master's admin listener, for the status panel, host:port or "off"`)
	fs.IntVar(&w.sf.retries, "retries", 2, "times a conversion is sent again when the master is busy, unreachable, or drops the connection before answering")
	w.wf.register(fs, "")
	w.sv.register(fs, "requests")
	log, err := w.sv.parse(fs, args, stderr, "web")
	if err != nil {
		return nil, err
	}
	if w.openAnywhere {
		w.open = true
	}
	if w.open && !w.openAnywhere && !loopbackListen(w.listen) {
		return nil, fmt.Errorf("%w: --open serves without a token, so only on a loopback --listen (127.0.0.1, [::1], localhost), not %q; add --open-anywhere if you mean it", errUsage, w.listen)
	}
	return log, nil
}

// runWeb serves the web page and the HTTP API, a client of a master.
func runWeb(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var w webCmd
	log, err := w.parse(args, stderr)
	if err != nil {
		return err
	}
	w.sf.timeout = w.wf.convertTimeout
	w.sf.concurrency = 16
	c, err := w.sf.client()
	if err != nil {
		return err
	}
	defer c.Close()
	// What is rotated on the master's side (its CA, the tokens it accepts) must
	// not need a restart here either.
	var watch reloads
	if caFile := w.sf.caFile(); caFile != "" {
		// Each new connection verifies the master against the bundle as last read.
		cas, err := loadCA(caFile, "--ca")
		if err != nil {
			return err
		}
		c.RootCAs = cas.Pool
		watch.add(cas.Reload, caFile)
	}
	s, err := w.server(c, log)
	if err != nil {
		return err
	}
	w.watchTokens(&watch, c, s)
	watch.watch(ctx, log)
	return runServers(ctx, w.sv.grace, func(srv *servers) error {
		ln, err := listenTCP(w.listen)
		if err != nil {
			return err
		}
		log.Info("web listening", "url", "http://"+ln.Addr().String()+"/", "master", w.sf.addr, "open", w.open)
		srv.serve(ln, s.Serve)
		return nil
	})
}

// server makes the web tier, a client of the master through c.
func (w *webCmd) server(c *client.Client, log *slog.Logger) (*web.Server, error) {
	cfg := w.wf.config(c, log)
	cfg.Open, cfg.OpenAnyHost = w.open, w.openAnywhere
	cfg.MasterAdmin = w.adminAddr
	if !w.open {
		var err error
		if cfg.Tokens, err = webTokens(w.apiTokenFile, c.Token); err != nil {
			return nil, err
		}
	}
	s, err := web.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errUsage, err)
	}
	return s, nil
}

// watchTokens adds to watch the reloads of the web tier's own token for the
// master and of its callers' tokens.
func (w *webCmd) watchTokens(watch *reloads, c *client.Client, s *web.Server) {
	callersUseMasterToken := !w.open && callersGiveMasterToken(w.apiTokenFile)
	if file := w.sf.tokenFilePath(); file != "" {
		var token atomic.Pointer[string]
		token.Store(&c.Token)
		c.TokenSource = func() string { return *token.Load() }
		watch.add(func() error {
			tok, err := w.sf.resolveToken()
			if err != nil {
				return err
			}
			if callersUseMasterToken {
				callers, err := webTokens(w.apiTokenFile, tok)
				if err != nil {
					return err
				}
				if err := s.SetTokens(callers); err != nil {
					return err
				}
			}
			token.Store(&tok)
			return nil
		}, file)
	}
	if !w.open && w.apiTokenFile != "" {
		watch.add(func() error {
			callers, err := webTokens(w.apiTokenFile, "")
			if err != nil {
				return err
			}
			return s.SetTokens(callers)
		}, w.apiTokenFile)
	}
}

// webTokens reads the callers' tokens from file and FILECONV_API_TOKENS, or,
// when neither gives any, accepts the master token the web tier itself uses.
func webTokens(file, masterToken string) (master.Tokens, error) {
	if callersGiveMasterToken(file) {
		return master.ParseTokens(strings.NewReader(masterToken))
	}
	return readTokens(file, "--api-token-file", "FILECONV_API_TOKENS")
}

// callersGiveMasterToken is whether callers present the web tier's own master
// token: neither --api-token-file nor FILECONV_API_TOKENS gives theirs.
func callersGiveMasterToken(apiTokenFile string) bool {
	return apiTokenFile == "" && strings.TrimSpace(os.Getenv("FILECONV_API_TOKENS")) == ""
}

func loopbackListen(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
