// Package web is the web tier: a drag-and-drop page and an HTTP API
// (/api/v1/...) in front of a master. It is a client of the master like the CLI:
// every conversion goes through the client package, streamed, and nothing is
// written to disk.
//
// Memory: the protocol needs the input's SHA-256 before its body, so each input
// is read into memory (never into a temporary file), up to MaxBodyBytes per
// request and MaxMemoryBytes for all requests in flight together; a request that
// would go past the total is answered 503 with Retry-After. Results are streamed
// from the master to the caller as they arrive, through a fixed buffer.
package web

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/fileconv/fileconv/client"
	"github.com/fileconv/fileconv/internal/master"
)

// Defaults of Config.
const (
	DefaultMaxBodyBytes     = 64 << 20
	DefaultMaxMemoryBytes   = 256 << 20
	DefaultMaxPerClient     = 4
	DefaultConvertTimeout   = 5 * time.Minute
	DefaultReadTimeout      = 2 * time.Minute
	DefaultReadHeaderTimout = 10 * time.Second
	DefaultIdleTimeout      = 2 * time.Minute
	DefaultStatusTimeout    = 3 * time.Second
	DefaultThroughputWindow = time.Minute
)

// Config is the web tier's configuration. Client is required; the rest has
// defaults.
type Config struct {
	// Client reaches the master, with the web tier's own token.
	Client *client.Client
	// Tokens are the bearer tokens callers may present (same format and
	// constant-time check as the master's). Required unless Open.
	Tokens master.Tokens
	// Open serves everyone without a token: for a loopback listener (fileconv up).
	// Requests must then come from the page's own origin and name a loopback
	// host (no DNS rebinding).
	Open bool
	// OpenAnyHost lifts Open's loopback-host check (fileconv web --open-anywhere).
	OpenAnyHost bool
	// MaxBodyBytes is the largest input accepted, in bytes. Default 64 MiB.
	MaxBodyBytes int64
	// MaxMemoryBytes bounds the inputs held in memory by all requests together.
	// Default 256 MiB; at least MaxBodyBytes.
	MaxMemoryBytes int64
	// MaxPerClient is how many conversions one caller (a token, or an address
	// in Open mode) may have in flight; more get 429. Default 4.
	MaxPerClient int
	// ConvertTimeout bounds a conversion once its input is read (504 past it).
	// Default 5 minutes.
	ConvertTimeout time.Duration
	// ReadTimeout bounds reading a request's body. Default 2 minutes.
	ReadTimeout time.Duration
	// MasterStatus returns the master's status for /api/v1/status. When nil and
	// MasterAdmin is set, it is fetched from http://MasterAdmin/status.
	MasterStatus func(ctx context.Context) (any, error)
	// MasterAdmin is the master's admin listener, host:port ("" or "off": none).
	MasterAdmin string
	// ThroughputWindow is how far back "recent throughput" looks. Default 1 minute.
	ThroughputWindow time.Duration
	// Logger gets one line per conversion; default slog.Default().
	Logger *slog.Logger
}

func (c *Config) setDefaults() {
	c.MaxBodyBytes = cmp.Or(c.MaxBodyBytes, DefaultMaxBodyBytes)
	c.MaxMemoryBytes = cmp.Or(c.MaxMemoryBytes, max(DefaultMaxMemoryBytes, c.MaxBodyBytes))
	c.MaxPerClient = cmp.Or(c.MaxPerClient, DefaultMaxPerClient)
	c.ConvertTimeout = cmp.Or(c.ConvertTimeout, DefaultConvertTimeout)
	c.ReadTimeout = cmp.Or(c.ReadTimeout, DefaultReadTimeout)
	c.ThroughputWindow = cmp.Or(c.ThroughputWindow, DefaultThroughputWindow)
	c.Logger = cmp.Or(c.Logger, slog.Default())
}

// Validate reports a configuration that cannot work, after defaults are applied.
func (c *Config) Validate() error {
	c.setDefaults()
	var errs []error
	if c.Client == nil {
		errs = append(errs, errors.New("web: no client for the master"))
	}
	if !c.Open && c.Tokens.Len() == 0 {
		errs = append(errs, errors.New("web: no tokens for callers: give a token list, or serve --open on loopback"))
	}
	if c.MaxBodyBytes < 0 {
		errs = append(errs, fmt.Errorf("web: max body %d is negative", c.MaxBodyBytes))
	}
	if c.MaxMemoryBytes < c.MaxBodyBytes {
		errs = append(errs, fmt.Errorf("web: max memory %d is less than max body %d: no file that large could ever be taken", c.MaxMemoryBytes, c.MaxBodyBytes))
	}
	if c.MaxPerClient < 0 {
		errs = append(errs, fmt.Errorf("web: max per client %d is negative", c.MaxPerClient))
	}
	if c.ConvertTimeout < 0 || c.ReadTimeout < 0 || c.ThroughputWindow < 0 {
		errs = append(errs, errors.New("web: timeouts must not be negative"))
	}
	return errors.Join(errs...)
}
