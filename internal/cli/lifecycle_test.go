package cli

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/fileconv/fileconv/internal/metrics"
	"github.com/fileconv/fileconv/internal/testnet"
)

func loopbackListener(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

// untilStop serves nothing until the stop, as a server that drains at once.
func untilStop(ctx, _ context.Context, _ net.Listener) error {
	<-ctx.Done()
	return nil
}

func TestServersOneEndingStopsTheOthers(t *testing.T) {
	broken := errors.New("accept failed")
	done := make(chan error, 1)
	go func() {
		done <- runServers(context.Background(), time.Minute, func(srv *servers) error {
			srv.serve(loopbackListener(t), untilStop)
			srv.serve(loopbackListener(t), func(context.Context, context.Context, net.Listener) error { return broken })
			return nil
		})
	}()
	select {
	case err := <-done:
		if !errors.Is(err, broken) {
			t.Errorf("runServers = %v, want the failed server's error", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the other server still runs 10s after one failed")
	}
}

func TestServersFailedStartStopsWhatStarted(t *testing.T) {
	late := errors.New("the second listener failed")
	stopped := make(chan struct{})
	err := runServers(context.Background(), time.Minute, func(srv *servers) error {
		srv.serve(loopbackListener(t), func(ctx, hard context.Context, ln net.Listener) error {
			defer close(stopped)
			return untilStop(ctx, hard, ln)
		})
		return late
	})
	if !errors.Is(err, late) {
		t.Errorf("runServers = %v, want the start's error", err)
	}
	select {
	case <-stopped:
	default:
		t.Error("runServers returned before the server it had started stopped")
	}
}

// A stop lets work in flight run for the grace period, then cuts it; the admin
// listener answers until the drain is over.
func TestServersDrainForGraceWithAdmin(t *testing.T) {
	const grace = 300 * time.Millisecond
	ctx, stop := context.WithCancel(context.Background())
	adminAddr := testnet.FreeAddr(t)
	var drained time.Duration
	var readyz int
	started := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- runServers(ctx, grace, func(srv *servers) error {
			log := slog.New(slog.NewTextHandler(io.Discard, nil))
			if err := srv.admin(adminAddr, metrics.NewRegistry(), func() error { return ctx.Err() }, nil, log); err != nil {
				return err
			}
			srv.serve(loopbackListener(t), func(ctx, hard context.Context, _ net.Listener) error {
				close(started)
				<-ctx.Done()
				stopAt := time.Now()
				resp, err := http.Get("http://" + adminAddr + "/readyz")
				if err != nil {
					return err
				}
				resp.Body.Close()
				readyz = resp.StatusCode
				<-hard.Done()
				drained = time.Since(stopAt)
				return nil
			})
			return nil
		})
	}()
	<-started
	stop()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no hard stop 10s after the stop")
	}
	if drained < grace/2 || drained > 5*time.Second {
		t.Errorf("the hard stop came %v after the stop, want about %v", drained, grace)
	}
	if readyz != http.StatusServiceUnavailable {
		t.Errorf("/readyz while draining answered %d, want 503", readyz)
	}
}
