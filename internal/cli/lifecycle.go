package cli

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// servers are the servers of one long-running subcommand (worker, master, web,
// up), which share one lifecycle so that a stop means the same everywhere: they
// serve until the process is asked to stop or one of them ends, then the work in
// flight gets --grace to finish before it is cut.
type servers struct {
	// ctx ends on a stop or when a server ends; the servers drain then.
	ctx   context.Context
	abort context.CancelFunc
	// hard ends grace after ctx: what is still in flight then is cut.
	hard     context.Context
	stopHard context.CancelFunc
	// The admin listener has its own context: it outlives the drain, so that
	// /readyz can say "draining" while jobs finish.
	adminCtx  context.Context
	stopAdmin context.CancelFunc

	grace time.Duration
	// stopLog, when set, gets a line when the drain starts.
	stopLog *slog.Logger

	wg, adminWG sync.WaitGroup
	// afterDrain runs once the servers have drained: the engines' stops.
	afterDrain []func()
	mu         sync.Mutex
	errs       []error
	adminErr   error
}

// runServers runs what start starts with the shared lifecycle, and returns once
// every server has stopped. When start fails, what it had started already is
// stopped before its error is returned.
func runServers(ctx context.Context, grace time.Duration, start func(*servers) error) error {
	s := &servers{grace: grace}
	s.ctx, s.abort = context.WithCancel(ctx)
	defer s.abort()
	s.hard, s.stopHard = hardStopAfter(s.ctx, grace)
	defer s.stopHard()
	s.adminCtx, s.stopAdmin = context.WithCancel(context.Background())
	defer s.stopAdmin()
	if err := start(s); err != nil {
		s.abort()
		s.wait()
		return err
	}
	return s.wait()
}

// serve serves ln in the background. However it ends, the other servers stop
// with it: a server that quit alone would leave a half-working service up.
func (s *servers) serve(ln net.Listener, serve func(ctx, hardStop context.Context, ln net.Listener) error) {
	s.wg.Go(func() {
		defer s.abort()
		if err := serve(s.ctx, s.hard, ln); err != nil {
			s.mu.Lock()
			s.errs = append(s.errs, err)
			s.mu.Unlock()
		}
	})
}

// onStop runs f once the servers have drained.
func (s *servers) onStop(f func()) { s.afterDrain = append(s.afterDrain, f) }

// admin starts the admin HTTP listener on addr, unless it is "off". A failure
// of the admin listener alone leaves the servers running: it is reported when
// they stop.
func (s *servers) admin(addr string, reg *prometheus.Registry, ready func() error, status func() any, log *slog.Logger) error {
	serveAdmin, err := adminListener(s.adminCtx, addr, reg, ready, status, log)
	if err != nil {
		return err
	}
	s.adminWG.Go(func() { s.adminErr = serveAdmin() })
	return nil
}

// wait waits for the stop, the servers' drain, then the admin listener's end.
func (s *servers) wait() error {
	<-s.ctx.Done()
	if s.stopLog != nil {
		s.stopLog.Info("stopping: finishing jobs in flight", "grace", s.grace)
	}
	s.wg.Wait()
	for _, f := range s.afterDrain {
		f()
	}
	s.stopAdmin()
	s.adminWG.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	return errors.Join(append(s.errs, s.adminErr)...)
}

// hardStopAfter returns a context that is cancelled grace after ctx is: jobs in
// flight get that long to finish once a stop is asked for.
func hardStopAfter(ctx context.Context, grace time.Duration) (context.Context, context.CancelFunc) {
	hard, cancel := context.WithCancel(context.Background())
	var once sync.Once
	stopTimer := context.AfterFunc(ctx, func() {
		once.Do(func() { time.AfterFunc(grace, cancel) })
	})
	return hard, func() { stopTimer(); cancel() }
}

// waitReady polls ready until it says yes, ctx ends or limit passes, and
// returns what it said last.
func waitReady(ctx context.Context, ready func() error, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		err := ready()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-tick.C:
		}
	}
}
