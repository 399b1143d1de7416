package bench_test

import (
	"bytes"
	"crypto/tls"
	"encoding/csv"
	"image/gif"
	"image/png"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fileconv/fileconv/internal/testcluster"

	"github.com/fileconv/fileconv/internal/bench"
)

const benchToken = testcluster.Token

// startBenchCluster starts a master and two workers on loopback with real mutual
// TLS, and returns the master's address and a client configuration for it.
func startBenchCluster(t *testing.T) (string, *tls.Config) {
	t.Helper()
	c := testcluster.Start(t, testcluster.Options{Workers: 2, Quiet: true})
	return c.Addr, c.ClientTLS
}

func TestBenchPercentile(t *testing.T) {
	var d []time.Duration
	for i := 100; i >= 1; i-- { // 1..100 ms, unsorted
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{{50, 50 * time.Millisecond}, {95, 95 * time.Millisecond}, {99, 99 * time.Millisecond}, {100, 100 * time.Millisecond}, {0, time.Millisecond}} {
		if got := bench.Percentile(d, c.q); got != c.want {
			t.Errorf("p%v = %v, want %v", c.q, got, c.want)
		}
	}
	small := []time.Duration{3, 1, 2}
	if got := bench.Percentile(small, 50); got != 2 {
		t.Errorf("p50 of 1,2,3 = %v, want 2", got)
	}
	if got := bench.Percentile(small, 99); got != 3 {
		t.Errorf("p99 of 1,2,3 = %v, want 3", got)
	}
	if got := bench.Percentile(nil, 50); got != 0 {
		t.Errorf("p50 of nothing = %v", got)
	}
}

func TestBenchInputSizes(t *testing.T) {
	in := &bench.Inputs{}
	noise := &bench.Inputs{Image: bench.ImageNoise}
	for _, kind := range []string{"jpeg", "png", "webp", "text", "pdf", "gif", "tiff", "heic", "avif", "jxl", "svg", "html"} {
		for _, size := range []int{40_000, 100_000} {
			for _, src := range []*bench.Inputs{in, noise} {
				if src == noise && (kind == "text" || kind == "pdf" || kind == "html") {
					continue
				}
				if src == noise && (kind == "gif" || kind == "svg") {
					if _, err := src.Get(kind, size); err == nil {
						t.Errorf("a %s of noise was made", kind)
					}
					continue
				}
				b, err := src.Get(kind, size)
				if err != nil {
					t.Fatalf("%s %s %d: %v", src.Image, kind, size, err)
				}
				if diff := len(b) - size; diff*100 > size*3 || -diff*100 > size*3 {
					t.Errorf("%s %s: %d bytes for a target of %d", src.Image, kind, len(b), size)
				}
				again, _ := src.Get(kind, size)
				if !bytes.Equal(b, again) {
					t.Errorf("%s %s: not deterministic", src.Image, kind)
				}
			}
		}
	}
}

func TestBenchParseConversions(t *testing.T) {
	all, err := bench.ParseConversions("all")
	if err != nil || len(all) != 8 {
		t.Fatalf("all: %d, %v", len(all), err)
	}
	two, err := bench.ParseConversions("jpg-png, TXT→PDF")
	if err != nil || len(two) != 2 || two[0].Name != "jpg-png" || two[1].Name != "txt-pdf" {
		t.Fatalf("two: %v, %v", two, err)
	}
	if _, err := bench.ParseConversions("gif-png"); err == nil {
		t.Fatal("gif-png accepted")
	}
	images, err := bench.ParseConversions("images")
	if err != nil || len(images) != len(bench.ImageConversions) {
		t.Fatalf("images: %d, %v", len(images), err)
	}
	for _, c := range images {
		if _, ok := c.Op(); ok != (c.Target == "jpg" || c.Target == "png" || c.Target == "webp" || c.Target == "pdf") {
			t.Errorf("%s: a v1.0 operation is %v", c.Name, ok)
		}
	}
	mixed, err := bench.ParseConversions("HEIC→JPEG,tif-png,all")
	if err != nil || len(mixed) != 10 || mixed[0].Name != "heic-jpg" || mixed[1].Name != "tiff-png" || mixed[2].Name != "jpg-png" {
		t.Fatalf("mixed: %v, %v", mixed, err)
	}
	office, err := bench.ParseConversions("office")
	if err != nil || len(office) != len(bench.OfficeConversions) {
		t.Fatalf("office: %d, %v", len(office), err)
	}
	for _, c := range office {
		if c.NeedsFiles() != (c.Input != "html") {
			t.Errorf("%s: needs files %v", c.Name, c.NeedsFiles())
		}
	}
}

func tinyPlan(sweeps ...string) bench.Plan {
	convs, _ := bench.ParseConversions("png-jpg,txt-pdf")
	return bench.Plan{
		Sweeps: sweeps, Conversions: convs, Sizes: []int{10_000, 30_000}, Chunks: []int{4 << 10, 64 << 10},
		Concurrency: []int{1, 3}, BaseSize: 20_000, BaseConcurrency: 2, Requests: 3, Repeat: 2,
		Duration: 200 * time.Millisecond, RelaySize: 200_000,
	}
}

func TestBenchAgainstCluster(t *testing.T) {
	addr, clientTLS := startBenchCluster(t)
	out := t.TempDir()
	var points []bench.Point
	for _, proto := range []string{"v1", "v2"} {
		// The cluster runs in this process, so its CPU clock is this process's.
		b := &bench.Bench{Protocol: proto, Target: bench.Target{Addr: addr, Token: benchToken, TLS: clientTLS, Timeout: time.Minute},
			Runner: bench.Runner{Inputs: &bench.Inputs{}, Warmup: proto == "v2", CPU: bench.ProcessesCPU([]int{os.Getpid()})}}
		plan := tinyPlan(bench.SweepSizes, bench.SweepChunks, bench.SweepConcurrency, bench.SweepSteady)
		done := 0
		var mu sync.Mutex
		b.Runner.Done = func() { mu.Lock(); done++; mu.Unlock() }
		specs := plan.Specs()
		ps, err := b.Run(t.Context(), specs, proto == "v2", nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(ps) != len(specs) {
			t.Fatalf("%s: %d points for %d specs", proto, len(ps), len(specs))
		}
		if want := bench.Count(specs, proto == "v2"); done < want {
			t.Errorf("%s: %d requests reported done, want at least %d", proto, done, want)
		}
		for _, p := range ps {
			if p.Errors != 0 {
				t.Errorf("%s %s %s: %d errors: %s", proto, p.Sweep, p.Conversion.Name, p.Errors, p.FirstError)
			}
			if p.ReqPerSec <= 0 || p.MBps <= 0 || p.P50 <= 0 || p.P50 > p.P95 || p.P95 > p.P99 {
				t.Errorf("%s %s %s: implausible %+v", proto, p.Sweep, p.Conversion.Name, p)
			}
			wantProto := proto
			if p.Sweep == bench.SweepChunks {
				wantProto = "v1"
			}
			if p.Protocol != wantProto {
				t.Errorf("%s point speaks %s", p.Sweep, p.Protocol)
			}
			if p.Sweep == bench.SweepSizes && proto == "v2" && (p.InprocMBps <= 0 || p.Overhead <= 0 || p.InprocCPUPerRequest <= 0) {
				t.Errorf("no overhead measured: %+v", p)
			}
			if p.Sweep != bench.SweepSteady && p.CPUPerRequest < 0 {
				t.Errorf("%s %s: negative CPU per request %v", proto, p.Sweep, p.CPUPerRequest)
			}
		}
		points = append(points, ps...)
	}

	var csvBuf bytes.Buffer
	if err := bench.WriteCSV(&csvBuf, points); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&csvBuf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(rows[0], ",") != strings.Join(bench.CSVHeader, ",") || rows[0][0] != "sweep" {
		t.Errorf("header %v", rows[0])
	}
	if len(rows) != len(points)+1 {
		t.Errorf("%d rows for %d points", len(rows), len(points))
	}
	for _, r := range rows[1:] {
		if len(r) != len(bench.CSVHeader) {
			t.Errorf("row of %d fields: %v", len(r), r)
		}
	}

	files, err := bench.WriteGraphs(out, points)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{bench.GraphSizes, bench.GraphChunks, bench.GraphConcurrency, bench.GraphLatency}
	if len(files) != len(want) {
		t.Fatalf("graphs %v, want %v", files, want)
	}
	for _, name := range want {
		f, err := os.Open(filepath.Join(out, name))
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(f)
		f.Close()
		if err != nil {
			t.Errorf("%s: not a PNG: %v", name, err)
		} else if b := img.Bounds(); b.Dx() < 400 || b.Dy() < 200 {
			t.Errorf("%s: %v", name, b)
		}
	}
	var table bytes.Buffer
	if err := bench.WriteTable(&table, points); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(table.String(), "PNG→JPG") || !strings.Contains(table.String(), "overhead") {
		t.Errorf("table:\n%s", table.String())
	}
}

func TestBenchCPUClocks(t *testing.T) {
	self := bench.ProcessesCPU([]int{os.Getpid()})
	selfCPU := func() time.Duration {
		d, err := bench.SelfCPU()
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	p0, err := self()
	if err != nil {
		t.Fatal(err)
	}
	r0 := selfCPU()
	// Burn CPU until both clocks have clearly moved (the /proc clock counts in
	// hundredths of a second): measured in CPU time, not wall time, so that a
	// busy machine only makes the loop longer.
	x := 0
	for deadline := time.Now().Add(30 * time.Second); selfCPU()-r0 < 300*time.Millisecond && time.Now().Before(deadline); {
		for i := range 100_000 {
			x ^= i * i
		}
	}
	p1, err := self()
	if err != nil {
		t.Fatal(err)
	}
	r1 := selfCPU()
	dp, dr := p1-p0, r1-r0
	if dr < 100*time.Millisecond || dp < dr/2 || dp > 2*dr+50*time.Millisecond {
		t.Errorf("CPU clocks disagree: /proc %v, SelfCPU (getrusage) %v (x=%d)", dp, dr, x)
	}

	// A child's CPU counts while it runs (a worker's PDF readers) and after it
	// ended.
	child := exec.Command("sh", "-c", "i=0; while :; do i=$((i+1)); done")
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	// Until the child has run 0.3 s of CPU, however long a busy machine
	// takes to give it that.
	for deadline := time.Now().Add(30 * time.Second); selfCPU()-r1 < 300*time.Millisecond && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	p2, err := self()
	if err != nil {
		t.Fatal(err)
	}
	r2 := selfCPU()
	child.Process.Kill()
	child.Wait()
	p3, err := self()
	if err != nil {
		t.Fatal(err)
	}
	r3 := selfCPU()
	if p2-p1 < 200*time.Millisecond || p3 < p2 {
		t.Errorf("a busy child added %v while running, %v after it ended", p2-p1, p3-p1)
	}
	if r2-r1 < 200*time.Millisecond || r3 < r2 {
		t.Errorf("SelfCPU: a busy child added %v while running, %v after it ended", r2-r1, r3-r1)
	}
	if _, err := bench.ProcessesCPU([]int{1 << 30})(); err == nil {
		t.Error("no error for a process that does not exist")
	}
}

func TestBenchErrorsByKind(t *testing.T) {
	addr, clientTLS := startBenchCluster(t)
	for _, proto := range []string{"v1", "v2"} {
		b := &bench.Bench{Protocol: proto, Target: bench.Target{Addr: addr, Token: "wrong-token", TLS: clientTLS, Timeout: time.Minute}, Runner: bench.Runner{Inputs: &bench.Inputs{}}}
		plan := tinyPlan(bench.SweepSizes)
		plan.Sizes, plan.Conversions = plan.Sizes[:1], plan.Conversions[:1]
		ps, err := b.Run(t.Context(), plan.Specs(), false, nil)
		if err != nil {
			t.Fatal(err)
		}
		p := ps[0]
		if p.Errors != 6 || p.ErrorKinds["unauthorized"] != 6 || p.ErrorKindsString() != "unauthorized=6" {
			t.Errorf("%s: errors %d %v (%s)", proto, p.Errors, p.ErrorKinds, p.FirstError)
		}
		if p.ReqPerSec != 0 || p.MBps != 0 {
			t.Errorf("%s: failed requests counted as throughput: %+v", proto, p)
		}
	}

	// The relay sweep: bodies the worker refuses after receiving them whole.
	b := &bench.Bench{Protocol: "v2", Target: bench.Target{Addr: addr, Token: benchToken, TLS: clientTLS}, Runner: bench.Runner{Inputs: &bench.Inputs{}}}
	plan := tinyPlan(bench.SweepRelay)
	plan.Repeat = 1
	ps, err := b.Run(t.Context(), plan.Specs(), false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if p := ps[0]; p.Concurrency != 3 || p.Errors != 3 || p.ErrorKinds["type_mismatch"] != 3 || p.InputBytes != 200_000 {
		t.Errorf("relay: %+v", p)
	}

	// Nothing listening: connect errors.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := ln.Addr().String()
	ln.Close()
	b = &bench.Bench{Protocol: "v1", Target: bench.Target{Addr: dead, Token: benchToken, TLS: clientTLS}, Runner: bench.Runner{Inputs: &bench.Inputs{}}}
	plan = tinyPlan(bench.SweepSizes)
	plan.Sizes, plan.Conversions, plan.Repeat = plan.Sizes[:1], plan.Conversions[:1], 1
	ps, err = b.Run(t.Context(), plan.Specs(), false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if ps[0].ErrorKinds["connect"] != 3 {
		t.Errorf("dead address: %v (%s)", ps[0].ErrorKinds, ps[0].FirstError)
	}
}

func TestBenchInproc(t *testing.T) {
	b := &bench.Bench{Protocol: "inproc", Runner: bench.Runner{Inputs: &bench.Inputs{}}}
	plan := tinyPlan(bench.SweepSizes, bench.SweepChunks, bench.SweepConcurrency)
	ps, err := b.Run(t.Context(), plan.Specs(), true, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := 4 + 2; len(ps) != want { // chunks are skipped in the process
		t.Fatalf("%d points, want %d", len(ps), want)
	}
	for _, p := range ps {
		if p.Protocol != "inproc" || p.Errors != 0 || p.MBps <= 0 || p.Sweep == bench.SweepChunks {
			t.Errorf("%+v", p)
		}
	}
}

// The conversions from and to the formats beyond the original three, in the
// process and through a cluster over v2: each converts, and the tables know
// its pixels and its output.
func TestBenchImageConversions(t *testing.T) {
	addr, clientTLS := startBenchCluster(t)
	target := bench.Target{Addr: addr, Token: benchToken, TLS: clientTLS, Timeout: time.Minute}
	for _, proto := range []string{"inproc", "v2"} {
		b := &bench.Bench{Protocol: proto, Target: target, Runner: bench.Runner{Inputs: &bench.Inputs{}}}
		plan := bench.Plan{Sweeps: []string{bench.SweepSizes}, Conversions: bench.ImageConversions, Sizes: []int{40_000}, // a PDF is at least 32 KiB
			BaseConcurrency: 1, Requests: 1, Repeat: 1}
		ps, err := b.Run(t.Context(), plan.Specs(), false, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(ps) != len(bench.ImageConversions) {
			t.Fatalf("%s: %d points", proto, len(ps))
		}
		for _, p := range ps {
			if p.Errors != 0 || p.OutputBytes <= 0 || p.Megapixels <= 0 {
				t.Errorf("%s %s: %d errors (%s), %d bytes out, %.3f MP", proto, p.Conversion.Name, p.Errors, p.FirstError, p.OutputBytes, p.Megapixels)
			}
		}
		// The animation's frames all count: a generated GIF has five.
		in, _ := b.Runner.Inputs.Get("gif", 40_000)
		cfg, err := gif.DecodeConfig(bytes.NewReader(in))
		if err != nil {
			t.Fatal(err)
		}
		if p := ps[1]; p.Conversion.Name != "gif-webp" || p.Megapixels != float64(cfg.Width*cfg.Height*bench.GIFFrames)/1e6 {
			t.Errorf("%s decodes %.4f MP of a GIF of %d frames of %dx%d", p.Conversion.Name, p.Megapixels, bench.GIFFrames, cfg.Width, cfg.Height)
		}
	}
}

// Files replace the generated inputs: each conversion gets those of its kind,
// and a conversion without one is left out.
func TestBenchFiles(t *testing.T) {
	var files []bench.File
	for _, path := range []string{"../convert/testdata/images/photo.heic", "../convert/testdata/images/anim.gif"} {
		f, err := bench.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	if files[0].Kind != "heic" || files[1].Kind != "gif" || files[0].Name != "photo.heic" {
		t.Fatalf("files read as %s %s, %s", files[0].Name, files[0].Kind, files[1].Kind)
	}
	binary := filepath.Join(t.TempDir(), "data.bin")
	os.WriteFile(binary, bytes.Repeat([]byte{0, 1, 2, 0xfe}, 100), 0o644)
	if _, err := bench.ReadFile(binary); err == nil {
		t.Error("binary data read as a file to convert")
	}
	plan := bench.Plan{Sweeps: []string{bench.SweepSizes, bench.SweepSteady}, Conversions: bench.ImageConversions,
		Sizes: []int{10_000, 20_000}, BaseSize: 5_000, BaseConcurrency: 2, Requests: 2, Repeat: 1, Duration: time.Second, Files: files}
	specs := plan.Specs()
	var got []string
	for _, s := range specs {
		got = append(got, s.Sweep+" "+s.Conversion.Name+" "+s.InputName)
		if s.Size != len(s.Input) || s.Concurrency != 2 {
			t.Errorf("%s %s: size %d for %d bytes, concurrency %d", s.Sweep, s.Conversion.Name, s.Size, len(s.Input), s.Concurrency)
		}
	}
	want := "sizes heic-jpg photo.heic,sizes gif-webp anim.gif,steady heic-jpg photo.heic,steady gif-webp anim.gif"
	if strings.Join(got, ",") != want {
		t.Fatalf("specs %q, want %q", got, want)
	}
	b := &bench.Bench{Protocol: "inproc", Runner: bench.Runner{Inputs: &bench.Inputs{}}}
	ps, err := b.Run(t.Context(), specs[:2], false, nil)
	if err != nil {
		t.Fatal(err)
	}
	var table bytes.Buffer
	bench.WriteTable(&table, ps)
	for _, p := range ps {
		if p.Errors != 0 {
			t.Errorf("%s: %s", p.Conversion.Name, p.FirstError)
		}
		if !strings.Contains(table.String(), p.InputName) {
			t.Errorf("the table does not name %s:\n%s", p.InputName, table.String())
		}
	}
	// photo.heic is 29×44; anim.gif has 5 frames of 85×77, all kept in a WEBP.
	if ps[0].Megapixels != 29*44/1e6 || ps[1].Megapixels != 5*85*77/1e6 {
		t.Errorf("megapixels %v and %v", ps[0].Megapixels, ps[1].Megapixels)
	}
}

// One size under 1 MB (one file, or --sizes 100KB) still makes a sizes graph.
func TestBenchGraphOfOnePoint(t *testing.T) {
	for _, sweep := range []string{bench.SweepSizes, bench.SweepChunks} {
		p := bench.Point{Spec: bench.Spec{Sweep: sweep, Conversion: bench.Conversions[0], Chunk: 1024}, InputBytes: 100_000, MBps: 1}
		files, err := bench.WriteGraphs(t.TempDir(), []bench.Point{p})
		if err != nil || len(files) != 1 {
			t.Errorf("%s: %v, %v", sweep, files, err)
		}
	}
}
