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

// runWeb serves the web page and the HTTP API, a client of a master.
func runWeb(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var (
		listen, apiTokenFile, adminAddr string
		open, openAnywhere              bool
		sf                              sendFlags
		wf                              webFlags
		sv                              serverFlags
	)
	fs := newFlagSet("web", "web [--listen 127.0.0.1:8080] [--master 127.0.0.1:5000 --ca F --token-file F] [--open] [flags]", stderr)
	fs.StringVar(&listen, "listen", defaultWebAddr, "address of the web page and the HTTP API (plain HTTP: put TLS in front beyond loopback)")
	fs.StringVar(&sf.addr, "master", client.DefaultAddr, "the master's address host:port")
	fs.StringVar(&sf.ca, "ca", "", "CA certificate that signed the master's (default: "+defaultStateDir+"/ca.pem when present, else the system's)")
	fs.StringVar(&sf.token, "token", "", "the web tier's token for the master (default: first line of --token-file)")
	fs.StringVar(&sf.tokenFile, "token-file", "", "file whose first line is the web tier's token for the master (default: "+defaultStateDir+"/token when present)")
	fs.StringVar(&apiTokenFile, "api-token-file", "", "tokens callers may present as Authorization: Bearer, one per line (FILECONV_API_TOKENS may also hold them); default: the master token itself")
	fs.BoolVar(&open, "open", false, "ask callers for no token (the web tier uses its own); only on a loopback --listen")
	fs.BoolVar(&openAnywhere, "open-anywhere", false, "allow --open on an address that is not loopback, and requests for any host name: anyone who reaches it converts with the web tier's token")
	fs.StringVar(&adminAddr, "master-admin", defaultMasterAdmin, `the master's admin listener, for the status panel, host:port or "off"`)
	fs.IntVar(&sf.retries, "retries", 2, "times a conversion is sent again when the master is busy, unreachable, or drops the connection before answering")
	wf.register(fs, "")
	sv.register(fs, "requests")
	log, err := sv.parse(fs, args, stderr, "web")
	if err != nil {
		return err
	}
	if openAnywhere {
		open = true
	}
	if open && !openAnywhere && !loopbackListen(listen) {
		return fmt.Errorf("%w: --open serves without a token, so only on a loopback --listen (127.0.0.1, [::1], localhost), not %q; add --open-anywhere if you mean it", errUsage, listen)
	}
	sf.timeout = wf.convertTimeout
	sf.concurrency = 16
	c, err := sf.client()
	if err != nil {
		return err
	}
	defer c.Close()
	// What is rotated on the master's side (its CA, the tokens it accepts) must
	// not need a restart here either.
	var watch reloads
	if caFile := sf.caFile(); caFile != "" {
		// Each new connection verifies the master against the bundle as last read.
		cas, err := loadCA(caFile, "--ca")
		if err != nil {
			return err
		}
		c.RootCAs = cas.Pool
		watch.add(cas.Reload, caFile)
	}
	cfg := wf.config(c, log)
	cfg.Open, cfg.OpenAnyHost = open, openAnywhere
	cfg.MasterAdmin = adminAddr
	callersUseMasterToken := !open && callersGiveMasterToken(apiTokenFile)
	if !open {
		if cfg.Tokens, err = webTokens(apiTokenFile, c.Token); err != nil {
			return err
		}
	}
	s, err := web.New(cfg)
	if err != nil {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	if file := sf.tokenFilePath(); file != "" {
		var token atomic.Pointer[string]
		token.Store(&c.Token)
		c.TokenSource = func() string { return *token.Load() }
		watch.add(func() error {
			tok, err := sf.resolveToken()
			if err != nil {
				return err
			}
			if callersUseMasterToken {
				callers, err := webTokens(apiTokenFile, tok)
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
	if !open && apiTokenFile != "" {
		watch.add(func() error {
			callers, err := webTokens(apiTokenFile, "")
			if err != nil {
				return err
			}
			return s.SetTokens(callers)
		}, apiTokenFile)
	}
	watch.watch(ctx, log)
	ln, err := listenTCP(listen)
	if err != nil {
		return err
	}
	log.Info("web listening", "url", "http://"+ln.Addr().String()+"/", "master", sf.addr, "open", open)
	hard, stop := hardStopAfter(ctx, sv.grace)
	defer stop()
	return s.Serve(ctx, hard, ln)
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
