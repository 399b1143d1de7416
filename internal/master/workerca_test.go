package master_test

import (
	"context"
	"crypto/x509"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fileconv/fileconv/client"
	"github.com/fileconv/fileconv/internal/master"
	"github.com/fileconv/fileconv/internal/tlsconf"
)

// WorkerRootCAs is asked at each dial, probes and resumed sessions included: with
// a pool of another CA the workers are refused, and with the cluster's back.
func TestWorkerRootCAsAskedAtEachDial(t *testing.T) {
	dir := t.TempDir()
	if err := tlsconf.GenerateDevPKI(dir, tlsconf.PKIOptions{}); err != nil {
		t.Fatal(err)
	}
	stranger, err := tlsconf.LoadCAPool(tlsconf.Paths(dir).CA)
	if err != nil {
		t.Fatal(err)
	}
	var roots atomic.Pointer[x509.CertPool]
	var cluster *x509.CertPool
	c := startCluster(t, clusterOptions{Master: func(cfg *master.Config) {
		cluster = cfg.WorkerTLS.RootCAs
		roots.Store(cluster)
		cfg.WorkerRootCAs = roots.Load
		cfg.HealthInterval = 50 * time.Millisecond
		cfg.EjectBase, cfg.EjectMax = time.Millisecond, time.Millisecond
	}})
	healthy := func(want bool) func(master.Status) bool {
		return func(st master.Status) bool {
			return len(st.Workers) == 1 && (st.Workers[0].State == "healthy") == want
		}
	}
	convert := func() error {
		cl := newClient(c)
		cl.MaxRetries = -1
		defer cl.Close()
		_, err := cl.ConvertBytes(context.Background(), client.TextToPDF, "a.txt", []byte("hi"))
		return err
	}
	waitForStatus(t, c, healthy(true))
	if err := convert(); err != nil {
		t.Fatalf("with the cluster's CA: %v", err)
	}

	roots.Store(stranger)
	waitForStatus(t, c, healthy(false))
	if logs := c.Logs.String(); !strings.Contains(logs, "failed its health probe") || !strings.Contains(logs, "certificate signed by unknown authority") {
		t.Errorf("no probe refused the worker's certificate; logs:\n%s", c.Logs.String())
	}

	roots.Store(cluster)
	waitForStatus(t, c, healthy(true))
	if err := convert(); err != nil {
		t.Fatalf("with the cluster's CA back: %v", err)
	}
}
