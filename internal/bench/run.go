package bench

import (
	"context"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Spec is one point of a sweep.
type Spec struct {
	// Sweep names the sweep the point belongs to: sizes, chunks, concurrency,
	// steady or relay.
	Sweep      string
	Conversion Conversion
	// Size is the target input size in bytes; the input is within 3 % of it.
	Size int
	// Chunk is the size of the body's writes (v1 only; 0 means 64 KiB).
	Chunk int
	// Concurrency is the number of requests in flight.
	Concurrency int
	// Requests is how many requests one repetition sends, unless Duration is set.
	Requests int
	// Duration, when positive, runs each repetition for this long instead
	// (steady mode).
	Duration time.Duration
	// Repeat is the number of repetitions; the median of each figure is reported.
	Repeat int
	// Input, when set, is sent instead of a generated input of Conversion.Input.
	Input []byte
	// InputName names Input in the tables, when it is a file (Plan.Files).
	InputName string
}

// Point is the measurement of a Spec.
type Point struct {
	Spec
	Protocol string
	// InputBytes is the actual size of the input.
	InputBytes int
	// Megapixels is what the conversion decodes of the input (every frame of
	// an animation kept whole); 0 when the input is no image.
	Megapixels float64
	// OutputBytes is the size of a result.
	OutputBytes int64
	// Requests and Errors are summed over the repetitions; ErrorKinds counts
	// the errors by ErrorKind.
	Requests, Errors int
	ErrorKinds       map[string]int
	// FirstError is the message of one failed request, for the terminal.
	FirstError string
	// The medians over the repetitions: completed requests per second, input
	// megabytes (10^6 bytes) per second of completed requests, and latency
	// percentiles of completed requests.
	ReqPerSec, MBps float64
	P50, P95, P99   time.Duration
	// InprocMBps is the in-process throughput of the same conversion, size and
	// concurrency, when measured; Overhead is MBps / InprocMBps.
	InprocMBps, Overhead float64
	// CPUPerRequest is the CPU time the measured processes (Runner.CPU) used
	// per completed request over all repetitions; zero when not measured.
	// InprocCPUPerRequest is the same for the in-process conversion, and
	// CPUOverhead is InprocCPUPerRequest / CPUPerRequest: the throughput ratio a
	// client on another machine would see when the servers are CPU-bound.
	CPUPerRequest, InprocCPUPerRequest time.Duration
	CPUOverhead                        float64
}

// ErrorKindsString writes the error counts as kind=n;kind=n, sorted by kind.
func (p Point) ErrorKindsString() string {
	var kinds []string
	for k := range p.ErrorKinds {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	var b strings.Builder
	for i, k := range kinds {
		if i > 0 {
			b.WriteByte(';')
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(strconv.Itoa(p.ErrorKinds[k]))
	}
	return b.String()
}

// Runner runs points.
type Runner struct {
	Inputs *Inputs
	// MaxPointTime bounds one repetition: no request starts after it. Default
	// 5 minutes.
	MaxPointTime time.Duration
	// Done, if set, is called after each request (from several goroutines).
	Done func()
	// CPU, if set, is read before and after a point to fill
	// Point.CPUPerRequest.
	CPU CPUClock
	// Warmup sends one untimed request per concurrent client before each point
	// (but the relay sweep's), so that first-use costs (connections, codec
	// start-up, caches) are not counted in the first repetition.
	Warmup bool
}

type repetition struct {
	ok        int
	bytes     int64
	wall      time.Duration
	latencies []time.Duration
}

// Run measures spec with s.
func (r *Runner) Run(ctx context.Context, s Sender, spec Spec) (Point, error) {
	input := spec.Input
	if input == nil {
		var err error
		if input, err = r.Inputs.Get(spec.Conversion.Input, spec.Size); err != nil {
			return Point{}, err
		}
	}
	spec.Concurrency = max(spec.Concurrency, 1)
	spec.Repeat = max(spec.Repeat, 1)
	if spec.Duration <= 0 {
		spec.Requests = max(spec.Requests, 1)
	}
	p := Point{Spec: spec, Protocol: s.Protocol(), InputBytes: len(input), ErrorKinds: map[string]int{},
		Megapixels: megapixels(spec.Conversion, input)}
	p.Spec.Input = nil
	maxTime := r.MaxPointTime
	if maxTime <= 0 {
		maxTime = 5 * time.Minute
	}
	if r.Warmup && spec.Sweep != SweepRelay {
		var wg sync.WaitGroup
		for range spec.Concurrency {
			wg.Go(func() { s.Send(ctx, spec.Conversion.Target, input) })
		}
		wg.Wait()
	}
	var cpuStart time.Duration
	if r.CPU != nil {
		var err error
		if cpuStart, err = r.CPU(); err != nil {
			return p, err
		}
	}
	var reps []repetition
	for range spec.Repeat {
		if ctx.Err() != nil {
			return p, ctx.Err()
		}
		reps = append(reps, r.repetition(ctx, s, &p, input, maxTime))
	}
	if r.CPU != nil {
		cpuEnd, err := r.CPU()
		if err != nil {
			return p, err
		}
		ok := 0
		for _, rep := range reps {
			ok += rep.ok
		}
		if ok > 0 {
			p.CPUPerRequest = (cpuEnd - cpuStart) / time.Duration(ok)
		}
	}
	p.summarise(reps)
	return p, ctx.Err()
}

// repetition sends the requests of p's spec once, counting them and their
// errors in p.
func (r *Runner) repetition(ctx context.Context, s Sender, p *Point, input []byte, maxTime time.Duration) repetition {
	spec := p.Spec // Point.Requests, which p also has, counts what was sent
	var rep repetition
	var mu sync.Mutex
	var next int
	start := time.Now()
	stopAt := start.Add(maxTime)
	if spec.Duration > 0 {
		stopAt = start.Add(min(spec.Duration, maxTime))
	}
	take := func() bool {
		mu.Lock()
		defer mu.Unlock()
		if ctx.Err() != nil || time.Now().After(stopAt) {
			return false
		}
		if spec.Duration <= 0 && next >= spec.Requests {
			return false
		}
		next++
		return true
	}
	var wg sync.WaitGroup
	for range spec.Concurrency {
		wg.Go(func() {
			for take() {
				t0 := time.Now()
				n, err := s.Send(ctx, spec.Conversion.Target, input)
				lat := time.Since(t0)
				mu.Lock()
				p.Requests++
				if err != nil {
					p.Errors++
					p.ErrorKinds[ErrorKind(err)]++
					if p.FirstError == "" {
						p.FirstError = err.Error()
					}
				} else {
					rep.ok++
					p.OutputBytes = n
					rep.bytes += int64(len(input))
					rep.latencies = append(rep.latencies, lat)
				}
				mu.Unlock()
				if r.Done != nil {
					r.Done()
				}
			}
		})
	}
	wg.Wait()
	rep.wall = time.Since(start)
	return rep
}

// summarise sets p's figures to the medians over the repetitions.
func (p *Point) summarise(reps []repetition) {
	var rps, mbps []float64
	var p50, p95, p99 []time.Duration
	for _, rep := range reps {
		sec := rep.wall.Seconds()
		rps = append(rps, float64(rep.ok)/sec)
		mbps = append(mbps, float64(rep.bytes)/1e6/sec)
		if len(rep.latencies) > 0 {
			p50 = append(p50, Percentile(rep.latencies, 50))
			p95 = append(p95, Percentile(rep.latencies, 95))
			p99 = append(p99, Percentile(rep.latencies, 99))
		}
	}
	p.ReqPerSec, p.MBps = median(rps), median(mbps)
	p.P50, p.P95, p.P99 = median(p50), median(p95), median(p99)
}

// Percentile returns the q-th percentile (0–100) of d by the nearest-rank
// method: the smallest value with at least q % of the sample at or below it.
func Percentile(d []time.Duration, q float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	rank := int(math.Ceil(q / 100 * float64(len(s))))
	return s[min(max(rank, 1), len(s))-1]
}

// median returns the middle value (the mean of the two middle ones for an even
// count), or zero for none.
func median[T float64 | time.Duration](v []T) T {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
