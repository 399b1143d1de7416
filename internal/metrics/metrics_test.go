package metrics

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

var masterNames = []string{
	"fileconv_master_jobs_total",
	"fileconv_master_job_duration_seconds",
	"fileconv_master_job_input_bytes",
	"fileconv_master_bytes_in_total",
	"fileconv_master_bytes_out_total",
	"fileconv_master_jobs_in_flight",
	"fileconv_master_queue_length",
	"fileconv_master_queue_wait_seconds",
	"fileconv_master_tls_handshake_failures_total",
	"fileconv_master_auth_failures_total",
	"fileconv_master_rejected_total",
	"fileconv_master_worker_healthy",
	"fileconv_master_worker_in_flight",
	"fileconv_master_worker_capacity",
	"fileconv_master_worker_jobs_total",
	"fileconv_master_retries_total",
}

var workerNames = []string{
	"fileconv_worker_jobs_total",
	"fileconv_worker_job_duration_seconds",
	"fileconv_worker_job_input_bytes",
	"fileconv_worker_bytes_in_total",
	"fileconv_worker_bytes_out_total",
	"fileconv_worker_jobs_in_flight",
	"fileconv_worker_conversion_slots_in_use",
	"fileconv_worker_conversion_slots_capacity",
	"fileconv_worker_queue_wait_seconds",
	"fileconv_worker_tls_handshake_failures_total",
}

func gatheredNames(t *testing.T, g prometheus.Gatherer) map[string]bool {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	names := make(map[string]bool)
	for _, mf := range mfs {
		names[mf.GetName()] = true
	}
	return names
}

func TestMasterRecordsEverything(t *testing.T) {
	reg := NewRegistry()
	m := NewMaster(reg)

	done := m.JobStarted("png")
	if got := testutil.ToFloat64(m.inFlight); got != 1 {
		t.Fatalf("in flight during job = %v, want 1", got)
	}
	done("ok", 3000, 5000)
	done("error", 1, 1) // a second call must not count the job again
	if got := testutil.ToFloat64(m.inFlight); got != 0 {
		t.Errorf("in flight after job = %v, want 0", got)
	}
	if got := testutil.ToFloat64(m.jobs.WithLabelValues("png", "ok")); got != 1 {
		t.Errorf("jobs_total{op=2,outcome=ok} = %v, want 1", got)
	}
	if got := testutil.CollectAndCount(m.jobs); got != 1 {
		t.Errorf("jobs_total has %d series, want 1 (second done call counted)", got)
	}
	if got := testutil.ToFloat64(m.bytesIn.WithLabelValues("png")); got != 3000 {
		t.Errorf("bytes_in_total = %v, want 3000", got)
	}
	if got := testutil.ToFloat64(m.bytesOut.WithLabelValues("png")); got != 5000 {
		t.Errorf("bytes_out_total = %v, want 5000", got)
	}

	m.QueueWait(30 * time.Millisecond)
	m.SetQueueLength(3)
	m.HandshakeFailed()
	m.AuthFailed()
	m.AuthFailed()
	m.Rejected("too_large")
	m.SetWorker("w1:6000", true, 2, 4)
	m.WorkerJob("w1:6000", "ok")
	m.Retried()

	if got := testutil.ToFloat64(m.queueLength); got != 3 {
		t.Errorf("queue_length = %v, want 3", got)
	}
	if got := testutil.ToFloat64(m.authFailures); got != 2 {
		t.Errorf("auth_failures_total = %v, want 2", got)
	}
	if got := testutil.ToFloat64(m.workerCap.WithLabelValues("w1:6000")); got != 4 {
		t.Errorf("worker_capacity = %v, want 4", got)
	}

	names := gatheredNames(t, reg)
	for _, n := range masterNames {
		if !names[n] {
			t.Errorf("scrape lacks %s", n)
		}
	}
	// The Go and process collectors belong to every process's registry.
	for _, n := range []string{"go_goroutines", "process_cpu_seconds_total"} {
		if !names[n] {
			t.Errorf("scrape lacks %s", n)
		}
	}

	problems, err := testutil.GatherAndLint(reg, masterNames...)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint %s: %s", p.Metric, p.Text)
	}
}

func TestWorkerRecordsEverything(t *testing.T) {
	reg := NewRegistry()
	w := NewWorker(reg)

	done := w.JobStarted("txt")
	done("ok", "pdf", 100_000, 2_000)
	w.JobStarted("jpg")("bad_header", "", 0, 0)
	w.SetSlots(1, 8)
	w.QueueWait(time.Millisecond)
	w.HandshakeFailed()

	if got := testutil.ToFloat64(w.jobs.WithLabelValues("txt", "ok", "pdf")); got != 1 {
		t.Errorf("jobs_total{5,ok,pdf} = %v, want 1", got)
	}
	if got := testutil.ToFloat64(w.jobs.WithLabelValues("jpg", "bad_header", "unknown")); got != 1 {
		t.Errorf("jobs_total{1,bad_header,unknown} = %v, want 1", got)
	}
	if got := testutil.ToFloat64(w.slotsCap); got != 8 {
		t.Errorf("slots capacity = %v, want 8", got)
	}
	if got := testutil.ToFloat64(w.inFlight); got != 0 {
		t.Errorf("in flight = %v, want 0", got)
	}

	names := gatheredNames(t, reg)
	for _, n := range workerNames {
		if !names[n] {
			t.Errorf("scrape lacks %s", n)
		}
	}
	problems, err := testutil.GatherAndLint(reg, workerNames...)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint %s: %s", p.Metric, p.Text)
	}
}

func TestLabelsStayBounded(t *testing.T) {
	m := NewMaster(nil)
	m.JobStarted("photo.png")("ok", -1, -1)
	m.JobStarted("9")("read: connection reset by peer", 0, 0)
	m.Rejected(strings.Repeat("x", 100))

	if got := testutil.ToFloat64(m.jobs.WithLabelValues("invalid", "ok")); got != 1 {
		t.Errorf("an unknown op was not folded into invalid")
	}
	if got := testutil.ToFloat64(m.jobs.WithLabelValues("invalid", "other")); got != 1 {
		t.Errorf("an error text used as outcome was not folded into other")
	}
	if got := testutil.ToFloat64(m.rejected.WithLabelValues("other")); got != 1 {
		t.Errorf("an overlong reason was not folded into other")
	}
	// Negative (unknown) sizes must not panic the counter, nor count.
	if got := testutil.ToFloat64(m.bytesIn.WithLabelValues("invalid")); got != 0 {
		t.Errorf("bytes_in_total = %v after negative sizes, want 0", got)
	}
}

func TestRemoveWorkerDeletesItsSeries(t *testing.T) {
	m := NewMaster(nil)
	for _, addr := range []string{"a:6000", "b:6000"} {
		m.SetWorker(addr, true, 0, 4)
		m.WorkerJob(addr, "ok")
		m.WorkerJob(addr, "worker_failed")
	}
	m.RemoveWorker("a:6000")

	for name, c := range map[string]prometheus.Collector{
		"worker_healthy": m.workerHealthy, "worker_in_flight": m.workerFlight,
		"worker_capacity": m.workerCap,
	} {
		if got := testutil.CollectAndCount(c); got != 1 {
			t.Errorf("%s has %d series after removing a worker, want 1", name, got)
		}
	}
	if got := testutil.CollectAndCount(m.workerJobs); got != 2 {
		t.Errorf("worker_jobs_total has %d series, want 2 (b's only)", got)
	}
	if got := testutil.ToFloat64(m.workerJobs.WithLabelValues("b:6000", "ok")); got != 1 {
		t.Errorf("b's counter changed: %v", got)
	}
}

func TestSeveralRegistriesInOneProcess(t *testing.T) {
	// Would panic with duplicate registration on a shared (global) registry.
	for range 2 {
		reg := NewRegistry()
		NewMaster(reg)
		NewWorker(reg)
	}

	// Several in-process workers share one registry by wrapping it.
	reg := NewRegistry()
	for _, name := range []string{"w1", "w2"} {
		w := NewWorker(prometheus.WrapRegistererWith(prometheus.Labels{"worker": name}, reg))
		w.SetSlots(0, 2)
	}
	n, err := testutil.GatherAndCount(reg, "fileconv_worker_conversion_slots_capacity")
	if err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Errorf("got %d capacity series for two wrapped workers, want 2", n)
	}
}

func TestNilIsANoOp(t *testing.T) {
	var m *Master
	m.JobStarted("jpg")("ok", 1, 1)
	m.QueueWait(time.Second)
	m.SetQueueLength(1)
	m.HandshakeFailed()
	m.AuthFailed()
	m.Rejected("busy")
	m.SetWorker("a:1", true, 1, 1)
	m.WorkerJob("a:1", "ok")
	m.RemoveWorker("a:1")
	m.Retried()

	var w *Worker
	w.JobStarted("jpg")("ok", "png", 1, 1)
	w.SetSlots(1, 1)
	w.QueueWait(time.Second)
	w.HandshakeFailed()
}

func TestConcurrentJobs(t *testing.T) {
	m := NewMaster(NewRegistry())
	const n = 50
	ch := make(chan struct{})
	for range n {
		go func() {
			defer func() { ch <- struct{}{} }()
			m.JobStarted("webp")("ok", 10, 10)
			m.SetWorker("a:1", true, 1, 2)
		}()
	}
	for range n {
		<-ch
	}
	if got := testutil.ToFloat64(m.jobs.WithLabelValues("webp", "ok")); got != n {
		t.Errorf("jobs_total = %v, want %d", got, n)
	}
	if got := testutil.ToFloat64(m.inFlight); got != 0 {
		t.Errorf("in flight = %v, want 0", got)
	}
}
