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
	// converts waits for a conversion to succeed: on a loaded machine a probe
	// that times out ejects the worker for a moment, whatever the pool.
	converts := func(what string) {
		t.Helper()
		cl := newClient(c)
		defer cl.Close()
		deadline := time.Now().Add(10 * time.Second)
		for {
			_, err := cl.ConvertBytes(context.Background(), client.TextToPDF, "a.txt", []byte("hi"))
			if err == nil {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: %v", what, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	converts("with the cluster's CA")

	roots.Store(stranger)
	waitForStatus(t, c, func(st master.Status) bool {
		return len(st.Workers) == 1 && st.Workers[0].State != "healthy" &&
			strings.Contains(st.Workers[0].LastError, "certificate signed by unknown authority")
	})

	roots.Store(cluster)
	converts("with the cluster's CA back")
}
