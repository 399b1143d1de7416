package bench

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"time"
)

// The sweeps.
const (
	SweepSizes       = "sizes"       // every conversion × every size, at BaseConcurrency
	SweepChunks      = "chunks"      // the first conversion at BaseSize, every chunk size, over v1.0
	SweepConcurrency = "concurrency" // the first conversion at BaseSize, every concurrency
	SweepSteady      = "steady"      // every conversion at BaseSize and BaseConcurrency for Duration
	SweepRelay       = "relay"       // RelaySize bodies refused by the worker after arrival, at the highest concurrency
)

// Sweeps lists the sweeps "all" runs, in order. The relay sweep is asked for by
// name only.
var Sweeps = []string{SweepSizes, SweepChunks, SweepConcurrency, SweepSteady}

// Plan describes a run.
type Plan struct {
	Sweeps      []string
	Conversions []Conversion
	Sizes       []int
	Chunks      []int
	Concurrency []int
	// BaseSize is the input size of the chunk, concurrency and steady sweeps.
	BaseSize int
	// BaseConcurrency is the concurrency of the sizes, chunks and steady sweeps.
	BaseConcurrency int
	// Requests per repetition of a point; in the concurrency sweep at least
	// twice the concurrency, so that every client sends at least twice.
	Requests int
	// Duration of each repetition of the steady sweep.
	Duration time.Duration
	Repeat   int
	// Overhead also measures every point of the sizes sweep in the process and
	// fills Point.InprocMBps and Point.Overhead.
	Overhead bool
	// RelaySize is the body size of the relay sweep.
	RelaySize int
	// Files, when set, are sent instead of generated inputs: each conversion
	// gets the files of its input's kind (the sizes sweep every one, the other
	// sweeps the first), and a conversion with none is left out.
	Files []File
}

// Specs lists the points of the plan in the order they run.
func (pl Plan) Specs() []Spec {
	var specs []Spec
	base := Spec{Size: pl.BaseSize, Concurrency: pl.BaseConcurrency, Requests: pl.Requests, Repeat: pl.Repeat}
	convs := pl.Conversions
	if len(pl.Files) > 0 {
		convs = slices.DeleteFunc(slices.Clone(convs), func(c Conversion) bool { return len(pl.filesOf(c)) == 0 })
	}
	if len(convs) == 0 {
		return nil
	}
	first := pl.onFile(base, convs[0])
	for _, sweep := range pl.Sweeps {
		switch sweep {
		case SweepSizes:
			for _, c := range convs {
				for _, s := range pl.sizes(base, c) {
					s.Sweep = sweep
					specs = append(specs, s)
				}
			}
		case SweepChunks:
			for _, chunk := range pl.Chunks {
				s := first
				s.Sweep, s.Chunk = sweep, chunk
				specs = append(specs, s)
			}
		case SweepConcurrency:
			for _, n := range pl.Concurrency {
				s := first
				s.Sweep, s.Concurrency = sweep, n
				s.Requests = max(pl.Requests, 2*n)
				specs = append(specs, s)
			}
		case SweepSteady:
			for _, c := range convs {
				s := pl.onFile(base, c)
				s.Sweep, s.Duration, s.Requests = sweep, pl.Duration, 0
				specs = append(specs, s)
			}
		case SweepRelay:
			n := slices.Max(pl.Concurrency)
			s := base
			// Text sent for a conversion to JPEG: the worker reads the whole
			// body, checks it and refuses it at once, so the master relays
			// RelaySize bytes per request with no conversion time.
			s.Sweep, s.Conversion, s.Size, s.Concurrency, s.Requests = sweep, relayConversion, pl.RelaySize, n, n
			specs = append(specs, s)
		}
	}
	return specs
}

// filesOf lists the files that c converts.
func (pl Plan) filesOf(c Conversion) []File {
	var fs []File
	for _, f := range pl.Files {
		if f.Kind == c.Input {
			fs = append(fs, f)
		}
	}
	return fs
}

// sizes are the sizes sweep's points of c: one per file of its kind, else one
// per size.
func (pl Plan) sizes(base Spec, c Conversion) []Spec {
	var specs []Spec
	for _, f := range pl.filesOf(c) {
		specs = append(specs, withFile(base, c, f))
	}
	if len(pl.Files) > 0 {
		return specs
	}
	for _, size := range pl.Sizes {
		s := base
		s.Conversion, s.Size = c, size
		specs = append(specs, s)
	}
	return specs
}

// onFile is base for c, on the first file of c's kind when files are given.
func (pl Plan) onFile(base Spec, c Conversion) Spec {
	if fs := pl.filesOf(c); len(fs) > 0 {
		return withFile(base, c, fs[0])
	}
	base.Conversion = c
	return base
}

func withFile(s Spec, c Conversion, f File) Spec {
	s.Conversion, s.Input, s.InputName, s.Size = c, f.Data, f.Name, len(f.Data)
	return s
}

var relayConversion = Conversion{Name: "txt-jpg", Label: "TXT→JPG (refused)", Input: "text", Target: "jpg"}

// RelayInput is the body of the relay sweep: lines of ASCII text.
func RelayInput(size int) []byte {
	line := []byte("The relay must not buffer whole files beyond the failover cap.\n")
	b := bytes.Repeat(line, size/len(line)+1)
	return b[:size]
}

// Bench runs plans against a target.
type Bench struct {
	Target Target
	// Protocol is v1, v2 or inproc.
	Protocol string
	Runner   Runner

	// Engines starts LibreOffice and Chromium for the in-process conversions
	// that need them (NeedsEngines); Close stops them.
	Engines bool

	inproc *InprocSender
}

// Close stops what the in-process conversions started.
func (b *Bench) Close() error {
	if b.inproc == nil {
		return nil
	}
	return b.inproc.Stop()
}

// NeedsEngines reports whether a conversion of specs runs on LibreOffice or
// Chromium, which the in-process conversions start only when asked.
func NeedsEngines(specs []Spec) bool {
	for _, s := range specs {
		if s.Conversion.NeedsFiles() || s.Conversion.Input == "html" {
			return true
		}
	}
	return false
}

// inprocRunner is b.Runner with the CPU clock of this process, which is where
// in-process conversions run.
func (b *Bench) inprocRunner() *Runner {
	r := b.Runner
	r.CPU = SelfCPU
	return &r
}

func (b *Bench) inprocSender() (*InprocSender, error) {
	if b.inproc == nil {
		s, err := NewInprocSender(b.Engines)
		if err != nil {
			return nil, err
		}
		b.inproc = s
	}
	return b.inproc, nil
}

// sender returns the sender of spec: the chunk sweep always speaks v1.0, whose
// writes this package controls.
func (b *Bench) sender(spec Spec) (Sender, error) {
	switch {
	case b.Protocol == "inproc":
		return b.inprocSender()
	case b.Protocol == "v1" || spec.Sweep == SweepChunks:
		return &V1Sender{Target: b.Target, Chunk: spec.Chunk}, nil
	case b.Protocol == "v2":
		return NewV2Sender(b.Target, spec.Concurrency), nil
	}
	return nil, fmt.Errorf("protocol %q: use v1, v2 or inproc", b.Protocol)
}

// Run measures every point of specs, calling each with its result as it comes.
func (b *Bench) Run(ctx context.Context, specs []Spec, overhead bool, each func(Point)) ([]Point, error) {
	var points []Point
	if overhead || b.Protocol == "inproc" {
		// Made before the first point rather than at the first in-process
		// one: NewInprocSender puts this whole process under SCHED_BATCH,
		// which must hold alike for every point of the run.
		if _, err := b.inprocSender(); err != nil {
			return nil, err
		}
	}
	for _, spec := range specs {
		if spec.Sweep == SweepRelay && spec.Input == nil {
			spec.Input = RelayInput(spec.Size)
		}
		s, err := b.sender(spec)
		if err != nil {
			return points, err
		}
		if spec.Sweep == SweepChunks && b.Protocol == "inproc" {
			continue // nothing is sent in chunks in the process
		}
		runner := &b.Runner
		if b.Protocol == "inproc" {
			runner = b.inprocRunner()
		}
		p, err := runner.Run(ctx, s, spec)
		s.Close()
		if err != nil {
			return points, err
		}
		if overhead && spec.Sweep == SweepSizes && b.Protocol != "inproc" {
			in, err := b.inprocSender()
			if err != nil {
				return points, err
			}
			ip, err := b.inprocRunner().Run(ctx, in, spec)
			if err != nil {
				return points, err
			}
			p.InprocMBps, p.InprocCPUPerRequest = ip.MBps, ip.CPUPerRequest
			if ip.MBps > 0 {
				p.Overhead = p.MBps / ip.MBps
			}
			if p.CPUPerRequest > 0 {
				p.CPUOverhead = float64(ip.CPUPerRequest) / float64(p.CPUPerRequest)
			}
		}
		points = append(points, p)
		if each != nil {
			each(p)
		}
	}
	return points, nil
}

// Count is the number of requests specs send (steady points count as one each),
// doubled for the sizes sweep when overhead is measured too.
func Count(specs []Spec, overhead bool) int {
	n := 0
	for _, s := range specs {
		k := max(s.Requests, 1) * max(s.Repeat, 1)
		if s.Duration > 0 {
			k = 0
		}
		if overhead && s.Sweep == SweepSizes {
			k *= 2
		}
		n += k
	}
	return n
}
