// Package metrics holds the Prometheus collectors of both tiers.
//
// Each process builds its own registry (NewRegistry) instead of using the
// global default one, so tests can build several masters and workers in one
// process and a metric registered twice is an explicit choice, not an
// accident of package initialisation.
//
// Every label value comes from a small fixed set: operations are "1".."5" or
// "invalid", outcomes and reasons are short words, worker labels are the
// configured worker addresses. File names and client addresses never become
// labels: each distinct value is a new time series kept in memory by both
// this process and the Prometheus server, so a client could otherwise grow
// them without bound. Values outside the expected shape are folded into
// "invalid" or "other" rather than trusted.
//
// Every method is safe on a nil receiver and does nothing, so code paths
// built without metrics (tests, embedded use) need no conditionals.
package metrics

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/fileconv/fileconv/internal/convert"
)

// Bucket layouts shared by both tiers.
var (
	// DurationBuckets spans 5 ms (a small image) to 5 min (beyond the job
	// timeouts, so timed-out jobs still land in a finite bucket).
	DurationBuckets = prometheus.ExponentialBucketsRange(0.005, 300, 17)
	// QueueWaitBuckets starts finer than DurationBuckets because a healthy
	// queue wait is well under the time of the shortest conversion.
	QueueWaitBuckets = prometheus.ExponentialBucketsRange(0.001, 60, 12)
	// SizeBuckets spans 1 KiB to 1 GiB by factors of 4, above the default
	// 256 MiB body limit.
	SizeBuckets = prometheus.ExponentialBuckets(1<<10, 4, 11)
)

// NewRegistry returns an empty registry holding the Go runtime and process
// collectors, ready for NewMaster and NewWorker.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return reg
}

// Master holds the orchestration tier's collectors.
type Master struct {
	jobMetrics
	queueLength   prometheus.Gauge
	queueWait     prometheus.Histogram
	handshakes    prometheus.Counter
	authFailures  prometheus.Counter
	rejected      *prometheus.CounterVec
	workerHealthy *prometheus.GaugeVec
	workerFlight  *prometheus.GaugeVec
	workerCap     *prometheus.GaugeVec
	workerJobs    *prometheus.CounterVec
	retries       prometheus.Counter
}

// NewMaster creates the master's collectors and registers them on reg. It
// panics if they are already registered there (a programming error: one
// master per registry). With a nil reg the collectors work but are not
// exported, which suits tests.
func NewMaster(reg prometheus.Registerer) *Master {
	const ns, sub = "fileconv", "master"
	m := &Master{
		jobMetrics: newJobMetrics(sub, "clients", "Jobs finished by the master, by operation and outcome.", "op", "outcome"),
		queueLength: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: ns, Subsystem: sub, Name: "queue_length",
			Help: "Jobs waiting for a free worker.",
		}),
		queueWait: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: ns, Subsystem: sub, Name: "queue_wait_seconds",
			Help:    "Time a job waited for a free worker.",
			Buckets: QueueWaitBuckets,
		}),
		handshakes: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "tls_handshake_failures_total",
			Help: "Client TLS handshakes that failed or timed out.",
		}),
		authFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "auth_failures_total",
			Help: "Requests refused for an invalid auth token.",
		}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "rejected_total",
			Help: "Requests refused before reaching a worker, by reason.",
		}, []string{"reason"}),
		workerHealthy: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: ns, Subsystem: sub, Name: "worker_healthy",
			Help: "1 if the master currently sends jobs to the worker, else 0.",
		}, []string{"worker"}),
		workerFlight: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: ns, Subsystem: sub, Name: "worker_in_flight",
			Help: "Jobs the master has outstanding on the worker.",
		}, []string{"worker"}),
		workerCap: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: ns, Subsystem: sub, Name: "worker_capacity",
			Help: "Jobs the master allows outstanding on the worker at once.",
		}, []string{"worker"}),
		workerJobs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "worker_jobs_total",
			Help: "Jobs the master sent to each worker, by outcome.",
		}, []string{"worker", "outcome"}),
		retries: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "retries_total",
			Help: "Jobs sent to another worker after the first one could not take them.",
		}),
	}
	if reg != nil {
		m.register(reg)
		reg.MustRegister(m.queueLength, m.queueWait, m.handshakes, m.authFailures,
			m.rejected, m.workerHealthy, m.workerFlight, m.workerCap, m.workerJobs,
			m.retries)
	}
	return m
}

// JobStarted counts a job in flight and returns the function that records its
// end. Calling done more than once records the job once, so a deferred
// fallback call next to an explicit one is harmless.
func (m *Master) JobStarted(op string) (done func(outcome string, inBytes, outBytes int64)) {
	if m == nil {
		return func(string, int64, int64) {}
	}
	end := m.start(op)
	return func(outcome string, inBytes, outBytes int64) { end(inBytes, outBytes, wordLabel(outcome)) }
}

// QueueWait records how long a job waited for a free worker.
func (m *Master) QueueWait(d time.Duration) {
	if m == nil {
		return
	}
	m.queueWait.Observe(d.Seconds())
}

// SetQueueLength sets the number of jobs waiting for a free worker.
func (m *Master) SetQueueLength(n int) {
	if m == nil {
		return
	}
	m.queueLength.Set(float64(n))
}

// HandshakeFailed counts a client TLS handshake that failed.
func (m *Master) HandshakeFailed() {
	if m == nil {
		return
	}
	m.handshakes.Inc()
}

// AuthFailed counts a request with an invalid token. It is kept apart from
// Rejected because a rising rate is a security signal worth its own alert.
func (m *Master) AuthFailed() {
	if m == nil {
		return
	}
	m.authFailures.Inc()
}

// Rejected counts a request refused before reaching a worker; reason is a
// short word such as too_large, bad_header or busy.
func (m *Master) Rejected(reason string) {
	if m == nil {
		return
	}
	m.rejected.WithLabelValues(wordLabel(reason)).Inc()
}

// SetWorker publishes the balancer's view of one worker.
func (m *Master) SetWorker(addr string, healthy bool, inFlight, capacity int) {
	if m == nil {
		return
	}
	h := 0.0
	if healthy {
		h = 1
	}
	m.workerHealthy.WithLabelValues(addr).Set(h)
	m.workerFlight.WithLabelValues(addr).Set(float64(inFlight))
	m.workerCap.WithLabelValues(addr).Set(float64(capacity))
}

// WorkerJob counts a job the master sent to the worker at addr.
func (m *Master) WorkerJob(addr, outcome string) {
	if m == nil {
		return
	}
	m.workerJobs.WithLabelValues(addr, wordLabel(outcome)).Inc()
}

// RemoveWorker deletes every series of a worker that left the cluster (its
// name no longer resolves), so dashboards do not show it as stuck forever
// and a churning set of addresses does not grow memory.
func (m *Master) RemoveWorker(addr string) {
	if m == nil {
		return
	}
	m.workerHealthy.DeleteLabelValues(addr)
	m.workerFlight.DeleteLabelValues(addr)
	m.workerCap.DeleteLabelValues(addr)
	m.workerJobs.DeletePartialMatch(prometheus.Labels{"worker": addr})
}

// Retried counts a job sent to another worker after a failed attempt.
func (m *Master) Retried() {
	if m == nil {
		return
	}
	m.retries.Inc()
}

// Worker holds the processing tier's collectors.
type Worker struct {
	jobMetrics
	slotsInUse prometheus.Gauge
	slotsCap   prometheus.Gauge
	queueWait  prometheus.Histogram
	handshakes prometheus.Counter
}

// NewWorker creates the worker's collectors and registers them on reg, with
// the same rules as NewMaster. Several workers in one process (fileconv up)
// need distinct series: give each its own registry, or wrap a shared one with
// prometheus.WrapRegistererWith(prometheus.Labels{"worker": name}, reg).
func NewWorker(reg prometheus.Registerer) *Worker {
	const ns, sub = "fileconv", "worker"
	w := &Worker{
		jobMetrics: newJobMetrics(sub, "masters", "Jobs finished by the worker, by operation, outcome and detected input type.", "op", "outcome", "input_type"),
		slotsInUse: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: ns, Subsystem: sub, Name: "conversion_slots_in_use",
			Help: "Conversions running now.",
		}),
		slotsCap: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: ns, Subsystem: sub, Name: "conversion_slots_capacity",
			Help: "Conversions allowed to run at once.",
		}),
		queueWait: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: ns, Subsystem: sub, Name: "queue_wait_seconds",
			Help:    "Time a job waited for a free conversion slot.",
			Buckets: QueueWaitBuckets,
		}),
		handshakes: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "tls_handshake_failures_total",
			Help: "Master TLS handshakes that failed or timed out (including missing or untrusted client certificates).",
		}),
	}
	if reg != nil {
		w.register(reg)
		reg.MustRegister(w.slotsInUse, w.slotsCap, w.queueWait, w.handshakes)
	}
	return w
}

// JobStarted counts a job in flight and returns the function that records its
// end; inputType is the detected type (jpeg, png, webp, text, pdf) or empty
// when the job ended before detection. Extra calls of done are ignored.
func (w *Worker) JobStarted(op string) (done func(outcome, inputType string, inBytes, outBytes int64)) {
	if w == nil {
		return func(string, string, int64, int64) {}
	}
	end := w.start(op)
	return func(outcome, inputType string, inBytes, outBytes int64) {
		if inputType == "" {
			inputType = "unknown"
		}
		end(inBytes, outBytes, wordLabel(outcome), wordLabel(inputType))
	}
}

// SetSlots publishes the conversion limiter's state.
func (w *Worker) SetSlots(inUse, capacity int) {
	if w == nil {
		return
	}
	w.slotsInUse.Set(float64(inUse))
	w.slotsCap.Set(float64(capacity))
}

// QueueWait records how long a job waited for a conversion slot.
func (w *Worker) QueueWait(d time.Duration) {
	if w == nil {
		return
	}
	w.queueWait.Observe(d.Seconds())
}

// HandshakeFailed counts a master TLS handshake that failed.
func (w *Worker) HandshakeFailed() {
	if w == nil {
		return
	}
	w.handshakes.Inc()
}

// addBytes ignores negative sizes (unknown) because Counter.Add panics on them.
func addBytes(c prometheus.Counter, n int64) {
	if n > 0 {
		c.Add(float64(n))
	}
}

// opLabel keeps the op label to the registry's targets plus "invalid": the
// target comes from the client, and a series per made-up name would grow
// without bound.
func opLabel(op string) string {
	if t, ok := convert.LookupTarget(op); ok && t.Name == op {
		return op
	}
	return "invalid"
}

// maxWordLen bounds outcome, reason and input type labels.
const maxWordLen = 32

// wordLabel passes short lower-case words (outcomes, reasons, types) and
// folds anything else into "other": these values are meant to be constants in
// the calling code, and the fold stops a mistake (an error text passed as an
// outcome) from creating a series per message.
func wordLabel(s string) string {
	if s == "" || len(s) > maxWordLen {
		return "other"
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '_' {
			return "other"
		}
	}
	return s
}

// jobMetrics are the per-job series both tiers keep alike.
type jobMetrics struct {
	jobs       *prometheus.CounterVec
	duration   *prometheus.HistogramVec
	inputBytes *prometheus.HistogramVec
	bytesIn    *prometheus.CounterVec
	bytesOut   *prometheus.CounterVec
	inFlight   prometheus.Gauge
}

// newJobMetrics makes the series of subsystem sub, whose jobs come from peers;
// jobLabels name the labels of jobs_total, op first.
func newJobMetrics(sub, peers, jobsHelp string, jobLabels ...string) jobMetrics {
	const ns = "fileconv"
	return jobMetrics{
		jobs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "jobs_total", Help: jobsHelp,
		}, jobLabels),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: ns, Subsystem: sub, Name: "job_duration_seconds",
			Help:    "Time from a job's header to the end of its answer, by operation.",
			Buckets: DurationBuckets,
		}, []string{"op"}),
		inputBytes: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: ns, Subsystem: sub, Name: "job_input_bytes",
			Help:    "Body size of each job as received from " + peers + ", by operation.",
			Buckets: SizeBuckets,
		}, []string{"op"}),
		bytesIn: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "bytes_in_total",
			Help: "Body bytes received from " + peers + ", by operation.",
		}, []string{"op"}),
		bytesOut: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "bytes_out_total",
			Help: "Result bytes sent back to " + peers + ", by operation.",
		}, []string{"op"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: ns, Subsystem: sub, Name: "jobs_in_flight",
			Help: "Jobs between their header and the end of their answer.",
		}),
	}
}

func (j jobMetrics) register(reg prometheus.Registerer) {
	reg.MustRegister(j.jobs, j.duration, j.inputBytes, j.bytesIn, j.bytesOut, j.inFlight)
}

// start counts a job in flight and returns the function that records its end,
// given the values of jobs_total's labels after op. Calls after the first are
// ignored, so a deferred fallback next to an explicit call is harmless.
func (j jobMetrics) start(op string) (end func(inBytes, outBytes int64, labels ...string)) {
	op = opLabel(op)
	start := time.Now()
	j.inFlight.Inc()
	var once sync.Once
	return func(inBytes, outBytes int64, labels ...string) {
		once.Do(func() {
			j.inFlight.Dec()
			j.jobs.WithLabelValues(append([]string{op}, labels...)...).Inc()
			j.duration.WithLabelValues(op).Observe(time.Since(start).Seconds())
			j.inputBytes.WithLabelValues(op).Observe(float64(max(inBytes, 0)))
			addBytes(j.bytesIn.WithLabelValues(op), inBytes)
			addBytes(j.bytesOut.WithLabelValues(op), outBytes)
		})
	}
}
