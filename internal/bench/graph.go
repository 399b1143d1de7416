package bench

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// Graph files WriteGraphs may write, each when the points hold its sweep.
const (
	GraphSizes       = "sizes.png"       // file size vs throughput, a line per conversion
	GraphChunks      = "chunks.png"      // chunk size vs throughput
	GraphConcurrency = "concurrency.png" // concurrency vs aggregate throughput
	GraphLatency     = "latency.png"     // concurrency vs latency p50/p95/p99
)

// WriteGraphs draws PNG graphs of the points into dir and returns the files written.
func WriteGraphs(dir string, points []Point) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var files []string
	save := func(p *plot.Plot, name string) error {
		file := filepath.Join(dir, name)
		if err := p.Save(8*vg.Inch, 5*vg.Inch, file); err != nil {
			return fmt.Errorf("draw %s: %w", name, err)
		}
		files = append(files, file)
		return nil
	}
	if s := bySeries(points, "sizes", func(p Point) float64 { return float64(p.InputBytes) / 1e6 }, mbps); len(s) > 0 {
		p := newPlot("Throughput by file size", "input size (MB, log scale)", "input MB/s")
		p.X.Scale, p.X.Tick.Marker = plot.LogScale{}, plot.LogTicks{Prec: -1}
		if err := addSeries(p, s); err != nil {
			return files, err
		}
		widenOnePoint(p)
		if err := save(p, GraphSizes); err != nil {
			return files, err
		}
	}
	if s := bySeries(points, "chunks", func(p Point) float64 { return float64(p.Chunk) / 1024 }, mbps); len(s) > 0 {
		p := newPlot("Throughput by chunk size", "chunk size (KiB, log scale)", "input MB/s")
		p.X.Scale, p.X.Tick.Marker = plot.LogScale{}, powerOfTwoTicks{}
		if err := addSeries(p, s); err != nil {
			return files, err
		}
		widenOnePoint(p)
		if err := save(p, GraphChunks); err != nil {
			return files, err
		}
	}
	conc := func(p Point) float64 { return float64(p.Concurrency) }
	if s := bySeries(points, "concurrency", conc, mbps); len(s) > 0 {
		p := newPlot("Aggregate throughput by concurrency", "concurrent clients", "input MB/s, all clients")
		if err := addSeries(p, s); err != nil {
			return files, err
		}
		if err := save(p, GraphConcurrency); err != nil {
			return files, err
		}
		p = newPlot("Latency by concurrency", "concurrent clients", "latency (ms)")
		var lat []series
		for _, q := range []struct {
			name string
			f    func(Point) float64
		}{
			{"p50", func(p Point) float64 { return float64(p.P50) / 1e6 }},
			{"p95", func(p Point) float64 { return float64(p.P95) / 1e6 }},
			{"p99", func(p Point) float64 { return float64(p.P99) / 1e6 }},
		} {
			for _, s := range bySeries(points, "concurrency", conc, q.f) {
				s.name += " " + q.name
				lat = append(lat, s)
			}
		}
		if err := addSeries(p, lat); err != nil {
			return files, err
		}
		if err := save(p, GraphLatency); err != nil {
			return files, err
		}
	}
	return files, nil
}

// widenOnePoint gives a log axis whose points all share one x (one size, one
// file) a range around it: gonum would pad it by ±1, below zero for a size
// under 1 MB, which a log scale cannot draw.
func widenOnePoint(p *plot.Plot) {
	if p.X.Min == p.X.Max {
		p.X.Min, p.X.Max = p.X.Min/2, p.X.Max*2
	}
}

func mbps(p Point) float64 { return p.MBps }

type series struct {
	name string
	xys  plotter.XYs
}

// bySeries collects the points of sweep into one series per conversion (and
// protocol, when there are several), sorted by x.
func bySeries(points []Point, sweep string, x, y func(Point) float64) []series {
	protocols := map[string]bool{}
	for _, p := range points {
		if p.Sweep == sweep {
			protocols[p.Protocol] = true
		}
	}
	var out []series
	index := map[string]int{}
	for _, p := range points {
		if p.Sweep != sweep {
			continue
		}
		name := p.Conversion.Label
		if len(protocols) > 1 {
			name += " " + p.Protocol
		}
		i, ok := index[name]
		if !ok {
			i = len(out)
			index[name] = i
			out = append(out, series{name: name})
		}
		out[i].xys = append(out[i].xys, plotter.XY{X: x(p), Y: y(p)})
	}
	for _, s := range out {
		slices.SortFunc(s.xys, func(a, b plotter.XY) int {
			switch {
			case a.X < b.X:
				return -1
			case a.X > b.X:
				return 1
			}
			return 0
		})
	}
	return out
}

func newPlot(title, x, y string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = x
	p.Y.Label.Text = y
	p.Y.Min = 0
	p.Legend.Top = true
	p.Add(plotter.NewGrid())
	return p
}

func addSeries(p *plot.Plot, s []series) error {
	var vs []any
	for _, e := range s {
		vs = append(vs, e.name, e.xys)
	}
	return plotutil.AddLinePoints(p, vs...)
}

// powerOfTwoTicks labels 1, 2, 4, ... (KiB) on a log axis.
type powerOfTwoTicks struct{}

func (powerOfTwoTicks) Ticks(lo, hi float64) []plot.Tick {
	var t []plot.Tick
	for v := 1.0; v <= hi*1.01; v *= 2 {
		if v >= lo*0.99 {
			label := strconv.FormatFloat(v, 'f', -1, 64)
			if v >= 1024 {
				label = strconv.FormatFloat(v/1024, 'f', -1, 64) + "Mi"
			}
			t = append(t, plot.Tick{Value: v, Label: label})
		}
	}
	return t
}
