package master

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"time"
)

// target is one entry of --workers: an address or a DNS name, and a port.
type target struct{ host, port string }

func parseTargets(entries []string) ([]target, error) {
	var ts []target
	for _, e := range entries {
		host, port, err := net.SplitHostPort(e)
		if err != nil {
			return nil, fmt.Errorf("worker %q: %w (want host:port)", e, err)
		}
		if host == "" {
			return nil, fmt.Errorf("worker %q: no host (want host:port)", e)
		}
		ts = append(ts, target{host, port})
	}
	return ts, nil
}

// resolver turns --workers into endpoints. A name stands for every address behind
// it, which is how a Kubernetes headless service or a scaled compose service lists
// its pods; a name that fails to resolve keeps its last addresses, so a DNS blip
// does not empty the pool.
type resolver struct {
	targets []target
	lookup  func(ctx context.Context, host string) ([]string, error)
	last    map[target][]string
	log     *slog.Logger
}

func newResolver(targets []target, log *slog.Logger) *resolver {
	return &resolver{targets: targets, lookup: net.DefaultResolver.LookupHost, last: map[target][]string{}, log: log}
}

func (r *resolver) resolve(ctx context.Context) []endpoint {
	var eps []endpoint
	for _, t := range r.targets {
		if net.ParseIP(t.host) != nil {
			eps = append(eps, endpoint{net.JoinHostPort(t.host, t.port), t.host})
			continue
		}
		lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		addrs, err := r.lookup(lctx, t.host)
		cancel()
		if err != nil {
			r.log.Warn("worker name did not resolve; keeping its last addresses", "name", t.host, "addresses", len(r.last[t]), "err", err)
			addrs = r.last[t]
		} else {
			slices.Sort(addrs)
			if !slices.Equal(addrs, r.last[t]) {
				r.log.Info("worker name resolved", "name", t.host, "addresses", addrs)
			}
			r.last[t] = addrs
		}
		for _, a := range addrs {
			eps = append(eps, endpoint{net.JoinHostPort(a, t.port), t.host})
		}
	}
	return eps
}

// hasNames reports whether any target needs resolving again over time.
func (r *resolver) hasNames() bool {
	for _, t := range r.targets {
		if net.ParseIP(t.host) == nil {
			return true
		}
	}
	return false
}
