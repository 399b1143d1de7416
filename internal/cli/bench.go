package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/fileconv/fileconv/client"
	"github.com/fileconv/fileconv/internal/bench"
)

type benchFlags struct {
	addr, token, tokenFile, ca, serverName, protocol string
	sweep, sizes, conversions, chunks, concurrency   string
	out, cpuprofile, image, serverPIDs, files        string
	baseSize, relaySize                              byteSize
	baseConcurrency, repeat, requests, masterPID     int
	duration, timeout, maxPointTime                  time.Duration
	insecure, inproc, overhead, progress, quiet      bool
	warmup                                           bool
	compare                                          compareFlags
	// images are the picture kinds of --image: one, or with --compare a list.
	images []string
	// notes are told on stderr before the run: what the flags left out.
	notes []string
}

func (f *benchFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.addr, "addr", client.DefaultAddr, "master address host:port (the only address the tool sends to)")
	fs.StringVar(&f.token, "token", "", "auth token (default: first line of --token-file)")
	fs.StringVar(&f.tokenFile, "token-file", "", "file whose first line is the token (default: "+filepath.Join(defaultStateDir, "token")+" when present)")
	fs.StringVar(&f.ca, "ca", "", "CA certificate that signed the master's (default: "+filepath.Join(defaultStateDir, "ca.pem")+" when present, else the system's)")
	fs.StringVar(&f.serverName, "server-name", "", "name expected in the master's certificate (default: the host of --addr)")
	fs.BoolVar(&f.insecure, "insecure", false, "do not verify the master's certificate (testing only)")
	fs.StringVar(&f.protocol, "protocol", "v2", "protocol: v2, or v1 (v1.0, one connection per request; also measures the original server)")
	fs.BoolVar(&f.inproc, "inproc", false, "convert in this process instead (no network): the ceiling of the network path")
	fs.BoolVar(&f.overhead, "overhead", false, "also measure each point of the sizes sweep in the process and report network/in-process throughput")
	fs.StringVar(&f.sweep, "sweep", "sizes", "sweeps to run, comma-separated: sizes, chunks, concurrency, steady, relay, or all (all but relay)")
	fs.StringVar(&f.sizes, "sizes", "100KB,1MB,5MB,10MB", "input sizes of the sizes sweep")
	fs.StringVar(&f.conversions, "conversions", "all", "conversions: all (jpg-png,jpg-webp,png-jpg,png-webp,webp-jpg,webp-png,txt-pdf,pdf-txt), images (heic-jpg,gif-webp,tiff-png,svg-png,png-avif,jpg-avif,jpg-heic,jpg-jxl), office (docx-pdf,xlsx-pdf,pptx-pdf,odt-pdf: with --files; html-pdf), registry (one pair per registry entry, for --overhead; its office documents with --files), or some of these (the chunks and concurrency sweeps use the first)")
	fs.StringVar(&f.files, "files", "", "files to send instead of generated inputs, comma-separated: each conversion gets the files of its input's kind (the sizes sweep each, the others the first) and --sizes is not used")
	fs.StringVar(&f.chunks, "chunks", "4KiB,16KiB,64KiB,256KiB,1MiB", "write sizes of the chunks sweep (sent over v1.0, whose writes the tool controls)")
	fs.StringVar(&f.concurrency, "concurrency", "1,5,10,15,20,32", "concurrent clients of the concurrency sweep")
	fs.Var(&f.baseSize, "base-size", "input size of the chunks, concurrency and steady sweeps")
	fs.IntVar(&f.baseConcurrency, "base-concurrency", 1, "concurrent clients of the sizes, chunks and steady sweeps")
	fs.IntVar(&f.repeat, "repeat", 3, "repetitions of each point; the median is reported")
	fs.IntVar(&f.requests, "requests", 5, "requests per repetition of a point (the concurrency sweep sends at least 2 per client)")
	fs.DurationVar(&f.duration, "duration", 10*time.Second, "length of each repetition of the steady sweep")
	fs.DurationVar(&f.maxPointTime, "max-point-time", 5*time.Minute, "no request of a repetition starts after this long")
	fs.DurationVar(&f.timeout, "timeout", 5*time.Minute, "longest wait for one request")
	fs.StringVar(&f.image, "image", bench.ImagePhoto, "images to send: photo (compresses like a photograph) or noise (random pixels); with --compare, both: photo,noise")
	fs.Var(&f.relaySize, "relay-size", "body size of the relay sweep (default 50MB)")
	fs.IntVar(&f.masterPID, "master-pid", 0, "process id of a master on this machine: its peak memory (VmHWM) is reset before and read after the run")
	fs.StringVar(&f.serverPIDs, "server-pid", "", "process ids of the servers on this machine (master and workers, comma-separated): their CPU time per request is reported, and with --overhead set against the in-process conversion's")
	fs.BoolVar(&f.warmup, "warmup", true, "send one untimed request per client before each point")
	fs.StringVar(&f.out, "out", "bench-out", "folder for bench.csv and the PNG graphs")
	fs.StringVar(&f.cpuprofile, "cpuprofile", "", "write a CPU profile of this process to the file (useful with --inproc)")
	fs.BoolVar(&f.progress, "progress", false, "show a progress bar even when stderr is not a terminal")
	fs.BoolVar(&f.quiet, "quiet", false, "no progress bar")
	f.compare.register(fs)
}

// runBench is the load tool: it sweeps file sizes, chunk sizes and concurrency
// against a master (or in the process with --inproc) and writes a CSV, PNG graphs
// and a table.
func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := benchFlags{baseSize: 1_000_000, relaySize: 50_000_000}
	fs := newFlagSet("bench", "bench [flags]", stderr)
	f.register(fs)
	if err := parseNoOperands(fs, args); err != nil {
		return err
	}
	if f.compare.addr != "" && !flagGiven(fs, "protocol") {
		f.protocol = "v1"
	}
	plan, err := f.plan()
	if err != nil {
		return err
	}
	b, err := f.bench()
	if err != nil {
		return err
	}
	b.Engines = bench.NeedsEngines(plan.Specs())
	defer b.Close()
	for _, note := range f.notes {
		fmt.Fprintln(stderr, "fileconv bench: "+note)
	}
	if f.cpuprofile != "" {
		stop, err := startCPUProfile(f.cpuprofile)
		if err != nil {
			return err
		}
		defer stop()
	}
	if err := os.MkdirAll(f.out, 0o755); err != nil {
		return err
	}
	if f.masterPID > 0 {
		// Writing 5 to clear_refs resets the peak resident set size (Linux).
		if err := os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", f.masterPID), []byte("5"), 0); err != nil {
			fmt.Fprintf(stderr, "fileconv bench: cannot reset the master's peak memory (%v); VmHWM counts from its start\n", err)
		}
	}
	if f.compare.addr != "" {
		return runCompare(ctx, &f, b, plan, stdout, stderr)
	}
	points, runErr := f.run(ctx, b, plan, stderr)
	if len(points) > 0 {
		if err := writeBenchResults(stdout, f.out, points); err != nil {
			return err
		}
	}
	if f.masterPID > 0 {
		hwm, rss, err := procMemory(f.masterPID)
		if err != nil {
			return fmt.Errorf("--master-pid: %w", err)
		}
		fmt.Fprintf(stdout, "master (pid %d): peak RSS (VmHWM) %.1f MiB, RSS now %.1f MiB\n", f.masterPID, float64(hwm)/(1<<20), float64(rss)/(1<<20))
	}
	return runErr
}

// bench makes the bench of the flags: against the master, or in this process.
func (f *benchFlags) bench() (*bench.Bench, error) {
	b := &bench.Bench{Protocol: f.protocol, Runner: bench.Runner{Inputs: &bench.Inputs{Image: f.image}, MaxPointTime: f.maxPointTime, Warmup: f.warmup}}
	if f.serverPIDs != "" {
		pids, err := pidList(f.serverPIDs)
		if err != nil {
			return nil, err
		}
		b.Runner.CPU = bench.ProcessesCPU(pids)
	}
	if f.inproc {
		b.Protocol = "inproc"
		return b, nil
	}
	sf := sendFlags{addr: f.addr, token: f.token, tokenFile: f.tokenFile, ca: f.ca, serverName: f.serverName, insecure: f.insecure, protocol: f.protocol, timeout: f.timeout, retries: -1}
	c, err := sf.client()
	if err != nil {
		return nil, err
	}
	b.Target = bench.Target{Addr: f.addr, Token: c.Token, TLS: c.TLSConfig, Timeout: f.timeout}
	return b, nil
}

// startCPUProfile profiles this process into file until stop is called.
func startCPUProfile(file string) (stop func(), err error) {
	pf, err := os.Create(file)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(pf); err != nil {
		pf.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); pf.Close() }, nil
}

// run runs the plan's points, showing their progress on stderr.
func (f *benchFlags) run(ctx context.Context, b *bench.Bench, plan bench.Plan, stderr io.Writer) ([]bench.Point, error) {
	specs := plan.Specs()
	overhead := f.overhead && !f.inproc
	where := f.addr + " over " + f.protocol
	if f.inproc {
		where = "in this process"
	}
	fmt.Fprintf(stderr, "fileconv bench: %d points, %s, %d CPUs\n", len(specs), where, runtime.NumCPU())
	var bar *progressbar.ProgressBar
	if !f.quiet && (f.progress || isTerminal(stderr)) {
		total := int64(bench.Count(specs, overhead))
		// A steady sweep alone runs for a time, not a number of requests.
		if slices := plan.Sweeps; len(slices) == 1 && slices[0] == bench.SweepSteady {
			total = -1
		}
		bar = progressbar.NewOptions64(total,
			progressbar.OptionSetWriter(stderr), progressbar.OptionSetDescription("requests"),
			progressbar.OptionShowCount(), progressbar.OptionSetElapsedTime(true),
			progressbar.OptionSetPredictTime(true), progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionClearOnFinish(), progressbar.OptionSetWidth(30))
		var mu sync.Mutex
		b.Runner.Done = func() { mu.Lock(); bar.Add(1); mu.Unlock() }
	}
	points, err := b.Run(ctx, specs, overhead, nil)
	if bar != nil {
		bar.Finish()
		fmt.Fprintln(stderr)
	}
	return points, err
}

// writeBenchResults writes the CSV and the graphs into dir, and the table, the
// files written and each point's first error to stdout.
func writeBenchResults(stdout io.Writer, dir string, points []bench.Point) error {
	csvFile := filepath.Join(dir, "bench.csv")
	if err := writeFile(csvFile, func(w io.Writer) error { return bench.WriteCSV(w, points) }); err != nil {
		return err
	}
	graphs, err := bench.WriteGraphs(dir, points)
	if err != nil {
		return err
	}
	if err := bench.WriteTable(stdout, points); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\nwrote %s", csvFile)
	for _, g := range graphs {
		fmt.Fprintf(stdout, ", %s", g)
	}
	fmt.Fprintln(stdout)
	for _, p := range points {
		if p.FirstError != "" {
			fmt.Fprintf(stdout, "first error of %s %s %s: %s\n", p.Sweep, p.Conversion.Label, bench.SizeLabel(p.Size), oneLine(p.FirstError))
		}
	}
	return nil
}

func (f *benchFlags) plan() (bench.Plan, error) {
	pl := bench.Plan{BaseSize: int(f.baseSize), BaseConcurrency: f.baseConcurrency, Requests: f.requests,
		Duration: f.duration, Repeat: f.repeat, Overhead: f.overhead, RelaySize: int(f.relaySize)}
	switch f.protocol {
	case "v1", "v1.0", "1":
		f.protocol = "v1"
	case "v2", "v2.0", "2":
		f.protocol = "v2"
	default:
		return pl, fmt.Errorf("%w: --protocol %q: use v1 or v2", errUsage, f.protocol)
	}
	for _, s := range splitList(f.sweep) {
		switch s {
		case "all":
			pl.Sweeps = append(pl.Sweeps, bench.Sweeps...)
		case bench.SweepSizes, bench.SweepChunks, bench.SweepConcurrency, bench.SweepSteady, bench.SweepRelay:
			pl.Sweeps = append(pl.Sweeps, s)
		default:
			return pl, fmt.Errorf("%w: --sweep %q: use sizes, chunks, concurrency, steady, relay or all", errUsage, s)
		}
	}
	if len(pl.Sweeps) == 0 {
		return pl, fmt.Errorf("%w: --sweep: name at least one sweep", errUsage)
	}
	var err error
	if pl.Conversions, err = bench.ParseConversions(f.conversions); err != nil {
		return pl, fmt.Errorf("%w: --conversions: %w", errUsage, err)
	}
	if err := f.readFiles(&pl); err != nil {
		return pl, err
	}
	if err := checkV1(pl, f.protocol); err != nil && !f.inproc {
		return pl, err
	}
	if pl.Sizes, err = sizeList("sizes", f.sizes, 1024); err != nil {
		return pl, err
	}
	if pl.Chunks, err = sizeList("chunks", f.chunks, 1); err != nil {
		return pl, err
	}
	for _, s := range splitList(f.concurrency) {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 1024 {
			return pl, fmt.Errorf("%w: --concurrency %q: give numbers from 1 to 1024", errUsage, s)
		}
		pl.Concurrency = append(pl.Concurrency, n)
	}
	switch {
	case len(pl.Concurrency) == 0:
		return pl, fmt.Errorf("%w: --concurrency: give at least one number", errUsage)
	case f.baseSize < 1024:
		return pl, fmt.Errorf("%w: --base-size: at least 1KiB", errUsage)
	case f.baseConcurrency < 1 || f.repeat < 1 || f.requests < 1:
		return pl, fmt.Errorf("%w: --base-concurrency, --repeat and --requests must be at least 1", errUsage)
	case f.duration <= 0 || f.maxPointTime <= 0 || f.timeout <= 0:
		return pl, fmt.Errorf("%w: --duration, --max-point-time and --timeout must be positive", errUsage)
	}
	return pl, f.checkCompare(&pl)
}

// checkCompare reads --image, and checks that a --compare run is what it
// can measure: the sizes sweep over v1.0, the only protocol both servers speak.
func (f *benchFlags) checkCompare(pl *bench.Plan) error {
	f.images = splitList(f.image)
	for _, image := range f.images {
		if image != bench.ImagePhoto && image != bench.ImageNoise {
			return fmt.Errorf("%w: --image %q: use photo or noise", errUsage, image)
		}
	}
	switch {
	case len(f.images) == 0:
		return fmt.Errorf("%w: --image: use photo or noise", errUsage)
	case f.compare.addr == "" && len(f.images) > 1:
		return fmt.Errorf("%w: --image %s: give one kind of picture (several go with --compare)", errUsage, f.image)
	case f.compare.addr == "":
		f.image = f.images[0]
		return nil
	case f.compare.token == "":
		return fmt.Errorf("%w: --compare needs --compare-token, the other server's token (the original system's is in its master.py)", errUsage)
	case f.inproc || f.overhead:
		return fmt.Errorf("%w: --compare measures two servers: leave out --inproc and --overhead", errUsage)
	case f.protocol != "v1":
		return fmt.Errorf("%w: --compare speaks v1.0 to both servers, as the original system's clients do: leave out --protocol", errUsage)
	case len(pl.Sweeps) != 1 || pl.Sweeps[0] != bench.SweepSizes:
		return fmt.Errorf("%w: --compare runs the sizes sweep only: leave out --sweep or give --sweep sizes", errUsage)
	}
	return nil
}

// readFiles reads --files into the plan, which must then have a conversion
// from one of them.
func (f *benchFlags) readFiles(pl *bench.Plan) error {
	for _, path := range splitList(f.files) {
		file, err := bench.ReadFile(path)
		if err != nil {
			return fmt.Errorf("%w: --files: %w", errUsage, err)
		}
		pl.Files = append(pl.Files, file)
	}
	if len(pl.Files) > 0 && len(pl.Specs()) == 0 {
		var kinds []string
		for _, file := range pl.Files {
			kinds = append(kinds, file.Name+" is "+file.Kind)
		}
		return fmt.Errorf("%w: --files: no conversion of --conversions reads them (%s)", errUsage, strings.Join(kinds, ", "))
	}
	if len(pl.Files) > 0 {
		return nil
	}
	documents := slices.DeleteFunc(slices.Clone(pl.Conversions), func(c bench.Conversion) bool { return !c.NeedsFiles() })
	if len(documents) == len(pl.Conversions) {
		return fmt.Errorf("%w: --conversions %s converts real documents: give some with --files", errUsage, documents[0].Name)
	}
	for _, c := range documents {
		f.notes = append(f.notes, fmt.Sprintf("%s left out: it converts real documents, given with --files", c.Name))
	}
	pl.Conversions = slices.DeleteFunc(pl.Conversions, bench.Conversion.NeedsFiles)
	return nil
}

// checkV1 refuses conversions that protocol v1.0 cannot ask for, before any is
// sent: over v1, and in the chunks sweep, which always speaks it.
func checkV1(pl bench.Plan, protocol string) error {
	for i, c := range pl.Conversions {
		chunks := i == 0 && slices.Contains(pl.Sweeps, bench.SweepChunks)
		if _, ok := c.Op(); !ok && (protocol == "v1" || chunks) {
			return fmt.Errorf("%w: --conversions %s: protocol v1.0 (--protocol v1, and the chunks sweep for the first conversion) has no operation to %s", errUsage, c.Name, c.Target)
		}
	}
	return nil
}

func pidList(s string) ([]int, error) {
	var pids []int
	for _, v := range splitList(s) {
		pid, err := strconv.Atoi(v)
		if err != nil || pid < 1 {
			return nil, fmt.Errorf("%w: --server-pid %q: give process ids such as 1234,1240", errUsage, v)
		}
		if _, err := os.Stat(fmt.Sprintf("/proc/%d/stat", pid)); err != nil {
			return nil, fmt.Errorf("%w: --server-pid %d: no such process on this machine (%w)", errUsage, pid, err)
		}
		pids = append(pids, pid)
	}
	return pids, nil
}

func sizeList(name, s string, least int64) ([]int, error) {
	var out []int
	for _, v := range splitList(s) {
		n, err := parseBytes(v)
		if err != nil || n < least || n > 1<<31 {
			return nil, fmt.Errorf("%w: --%s %q: give sizes such as 100KB, 1MB, 64KiB (at least %d bytes)", errUsage, name, v, least)
		}
		out = append(out, int(n))
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: --%s: give at least one size", errUsage, name)
	}
	return out, nil
}

// writeFile creates file and has write fill it.
func writeFile(file string, write func(io.Writer) error) error {
	fh, err := os.Create(file)
	if err != nil {
		return err
	}
	if err := write(fh); err != nil {
		fh.Close()
		return err
	}
	return fh.Close()
}

// procMemory reads VmHWM (peak resident set) and VmRSS of a process, in bytes.
func procMemory(pid int) (hwm, rss int64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	for line := range strings.Lines(string(b)) {
		k, v, ok := strings.Cut(line, ":")
		if !ok || (k != "VmHWM" && k != "VmRSS") {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("%s: %q: %w", k, v, err)
		}
		if k == "VmHWM" {
			hwm = n << 10
		} else {
			rss = n << 10
		}
	}
	return hwm, rss, nil
}
