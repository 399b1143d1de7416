package cli

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/fileconv/fileconv/client"
	"github.com/fileconv/fileconv/internal/convert"
	"github.com/fileconv/fileconv/internal/tlsconf"
	"github.com/fileconv/fileconv/internal/wire"
)

// defaultStateDir is where `fileconv up` keeps its CA and token; send looks there
// when it is given neither, so that the two work together with no flags.
const defaultStateDir = ".fileconv"

type sendFlags struct {
	addr, token, tokenFile, ca, serverName string
	cert, key                              string
	to, outDir, config, protocol           string
	op, concurrency, retries               int
	force, insecure, recursive, json, zip  bool
	merge                                  bool
	timeout                                time.Duration
	// opts are the conversion's options, one flag each (wire.OptionSpecs).
	opts client.Options
}

func runSend(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var f sendFlags
	fs := newFlagSet("send", "send [flags] [--to "+strings.Join(convert.TargetNames(), "|")+"] FILE|DIR|PATTERN...", stderr)
	f.register(fs)
	operands, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := applyConfig(fs, cmpOr(f.config, defaultConfigPath()), f.config != ""); err != nil {
		return err
	}
	if len(operands) == 0 {
		fs.Usage()
		return fmt.Errorf("%w: no file given", errUsage)
	}
	if f.merge && f.to == "" && f.op == 0 {
		f.to = "pdf" // the one target several files go into
	}
	interactive := f.to == "" && f.op == 0 && !f.json && isTerminal(stdin) && isTerminal(stdout)
	var to string
	if !interactive {
		if to, err = f.target(); err != nil {
			return err
		}
	}
	if err := f.check(); err != nil {
		return err
	}
	c, err := f.client()
	if err != nil {
		return err
	}
	defer c.Close()
	where := placement{force: f.force, zip: f.zip}
	send := func(ctx context.Context, j *sendJob, o client.Options) (client.Result, string, error) {
		return sendOne(ctx, c, j.to, j.in, j.out, where, o)
	}
	var jobs []*sendJob
	if f.merge {
		jobs, send, err = prepareMerge(c, operands, f, to, where)
	} else {
		jobs, err = prepareJobs(operands, f, to, interactive, stdout, stderr)
	}
	if err != nil {
		return err
	}
	sum := runJobs(ctx, jobs, send, f.opts, f.concurrency, f.reporter(stdout, stderr))
	if sum.failed > 0 {
		return fmt.Errorf("%d of %d files failed", sum.failed, sum.failed+sum.converted)
	}
	return nil
}

func (f *sendFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.addr, "addr", client.DefaultAddr, "master address host:port")
	fs.StringVar(&f.token, "token", "", "auth token (default: first line of --token-file)")
	fs.StringVar(&f.tokenFile, "token-file", "", "file whose first line is the token (default: "+filepath.Join(defaultStateDir, "token")+" when present)")
	fs.StringVar(&f.ca, "ca", "", "CA certificate that signed the master's (default: "+filepath.Join(defaultStateDir, "ca.pem")+" when present, else the system's)")
	fs.StringVar(&f.serverName, "server-name", "", "name expected in the master's certificate (default: the host of --addr)")
	fs.BoolVar(&f.insecure, "insecure", false, "do not verify the master's certificate (testing only)")
	fs.StringVar(&f.cert, "cert", "", "client certificate (PEM) to present, for a master started with --client-ca")
	fs.StringVar(&f.key, "key", "", "private key (PEM) of --cert")
	fs.StringVar(&f.to, "to", "", "target format: "+targetHelp()+"; on a terminal, a menu asks when it is missing")
	fs.IntVar(&f.op, "op", 0, "operation number 1-5 instead of --to: 1 JPEG, 2 PNG, 3 WEBP, 4 TXT->PDF, 5 PDF->TXT")
	fs.StringVar(&f.outDir, "o", "", "write results into this folder (default: next to each input); with --merge, the file to write (default: combined.pdf)")
	fs.BoolVar(&f.merge, "merge", false, "send every file as one job whose one result is a PDF of them all, in the order given (images, texts and PDFs)")
	fs.BoolVar(&f.force, "force", false, "overwrite existing output files")
	fs.BoolVar(&f.zip, "zip", false, "keep the pictures of a PDF's pages as one NAME.zip instead of a folder NAME/ of NAME-p001.png, …")
	fs.DurationVar(&f.timeout, "timeout", client.DefaultTimeout, "longest wait for one file, retries included")
	fs.BoolVar(&f.recursive, "r", false, "convert the files in folders and their subfolders (hidden ones and those of the wrong type are skipped)")
	fs.IntVar(&f.concurrency, "concurrency", 4, "files converted at once")
	fs.BoolVar(&f.json, "json", false, "print one JSON object per file and a summary object, for scripts")
	fs.StringVar(&f.protocol, "protocol", "auto", "protocol: v2, v1 (for old servers) or auto (v2, falling back to v1)")
	fs.IntVar(&f.retries, "retries", client.DefaultMaxRetries, "times a file is sent again when the master is busy, unreachable, or drops the connection before answering (a restart)")
	for _, spec := range wire.OptionSpecs() {
		usage := fmt.Sprintf("%s: %s (default: the server's)", spec.Doc, spec.Values)
		if spec.Bool {
			usage = spec.Doc + " (default: off)"
		}
		fs.Var(&optionFlag{opts: &f.opts.ConvertOptions, spec: spec}, strings.ReplaceAll(spec.Name, "_", "-"), usage)
	}
	fs.StringVar(&f.config, "config", "", "config file of key = value lines named like these flags (default: "+configDefaultHelp()+")")
}

// optionFlag sets one conversion option from its flag, through the one place
// options are parsed.
type optionFlag struct {
	opts *wire.Options
	spec wire.OptionSpec
	text string
}

func (o *optionFlag) String() string { return o.text }

func (o *optionFlag) Set(v string) error {
	o.text = v
	return o.opts.Set(o.spec.Name, v)
}

// IsBoolFlag lets a yes-or-no option stand alone: --lossless.
func (o *optionFlag) IsBoolFlag() bool { return o.spec.Bool }

// check refuses settings that cannot work before anything is sent.
func (f *sendFlags) check() error {
	if err := f.opts.Validate(); err != nil {
		return fmt.Errorf("%w: %s", errUsage, userMessage(err))
	}
	if f.concurrency < 1 {
		return fmt.Errorf("%w: --concurrency %d: give at least 1", errUsage, f.concurrency)
	}
	if f.outDir != "" && !f.merge {
		if st, err := os.Stat(f.outDir); err != nil || !st.IsDir() {
			return fmt.Errorf("%w: -o %s: not an existing folder", errUsage, f.outDir)
		}
	}
	return nil
}

func (f *sendFlags) reporter(stdout, stderr io.Writer) sendReporter {
	switch {
	case f.json:
		return newJSONReporter(stdout, stderr)
	case isTerminal(stdout):
		return newTermReporter(stdout, stderr, terminalWidth(stdout))
	}
	return newPlainReporter(stdout, stderr)
}

// prepareJobs expands the operands into jobs, each with its target (asked for
// in a menu when interactive), its kind where that matters, the reading its
// name proposes (said on notices), and its output.
func prepareJobs(operands []string, f sendFlags, to string, interactive bool, menuOut, notices io.Writer) ([]*sendJob, error) {
	jobs := expandArgs(operands, f.recursive)
	for _, j := range jobs {
		if j.err != nil {
			continue
		}
		j.to = to
		if st, err := os.Stat(j.in); err == nil {
			j.size = st.Size()
		}
		// The kind matters for the menu and to skip files found in folders;
		// a file named on the command line goes to the server, which says why
		// it does not fit.
		if interactive || j.root != "" {
			var err error
			if j.kind, err = detectFile(j.in); err != nil {
				j.err = err
				continue
			}
		}
		if f.proposesReading() {
			if err := proposeReading(j); err != nil {
				j.err = err
				continue
			}
		}
		if j.root != "" && !interactive && !fits(j.kind, to) {
			j.skip = fmt.Sprintf("%s, not converted to %s", strings.TrimPrefix(describeKind(j.kind), "a "), to)
		}
	}
	announceReadings(notices, jobs)
	if interactive {
		if err := chooseTargets(jobs, stdin, menuOut); err != nil {
			return nil, err
		}
		for _, j := range jobs {
			if j.err == nil && j.skip == "" && j.to == "" {
				if j.root != "" {
					j.skip = strings.TrimPrefix(describeKind(j.kind), "a ") + ", nothing to convert it to"
				} else {
					j.err = fmt.Errorf("the file is %s: nothing to convert it to", describeKind(j.kind))
				}
			}
		}
	}
	assignOutputs(jobs, f.outDir)
	return jobs, nil
}

func configDefaultHelp() string {
	if runtime.GOOS == "windows" {
		return "%AppData%\\fileconv\\config"
	}
	return "$XDG_CONFIG_HOME/fileconv/config or ~/.config/fileconv/config"
}

// targetHelp lists the targets and the kinds each is made from, for --to's help.
func targetHelp() string {
	var parts []string
	for _, t := range convert.Targets() {
		var from []string
		for _, k := range convert.Kinds() {
			if slices.Contains(convert.TargetsFrom(k.Kind), t.Name) {
				from = append(from, k.Short)
			}
		}
		parts = append(parts, fmt.Sprintf("%s (from %s)", t.Name, strings.Join(from, ", ")))
	}
	return strings.Join(parts, ", ")
}

// userMessage is an error's message without the protocol's code in front.
func userMessage(err error) string {
	var e *wire.ErrorResponse
	if errors.As(err, &e) {
		return e.Message
	}
	return err.Error()
}

// assignOutputs names each job's result, refusing two inputs that would write
// the same file (photo.png and photo.jpg both to WEBP).
func assignOutputs(jobs []*sendJob, outDir string) {
	first := map[string]string{}
	for _, j := range jobs {
		if j.err != nil || j.skip != "" {
			continue
		}
		j.out = outputPathUnder(j.in, j.root, outDir, j.to)
		key := filepath.Clean(j.out)
		if other, ok := first[key]; ok {
			j.err = fmt.Errorf("its result %s would replace that of %s", j.out, other)
			continue
		}
		first[key] = j.in
	}
}

// sendFunc converts a job and returns where its result went.
type sendFunc func(ctx context.Context, j *sendJob, opts client.Options) (client.Result, string, error)

// runJobs converts the jobs, concurrency at a time, and reports each.
func runJobs(ctx context.Context, jobs []*sendJob, send sendFunc, opts client.Options, concurrency int, rep sendReporter) sendSummary {
	start := time.Now()
	rep.start(jobs)
	work := make(chan *sendJob)
	var wg sync.WaitGroup
	for range min(concurrency, max(len(jobs), 1)) {
		wg.Go(func() {
			for j := range work {
				o := opts
				if j.from != "" {
					o.From = j.from
				}
				o.Progress = func(p client.Progress) { rep.progress(j, p) }
				t0 := time.Now()
				res, out, err := send(ctx, j, o)
				j.out = out
				j.err = err
				j.res = resultInfo{bytesOut: res.Size, seconds: time.Since(t0).Seconds(), jobID: res.JobID, attempts: res.Attempts,
					protocol: res.Protocol, warnings: res.Warnings}
				if err != nil {
					j.res.bytesOut, j.res.warnings = 0, nil
				}
				rep.done(j)
			}
		})
	}
	for _, j := range jobs {
		if j.err != nil || j.skip != "" {
			rep.done(j)
			continue
		}
		work <- j
	}
	close(work)
	wg.Wait()
	var s sendSummary
	for _, j := range jobs {
		switch {
		case j.err != nil:
			s.failed++
		case j.skip != "":
			s.skipped++
		default:
			s.converted++
			s.bytesIn += j.size
			s.bytesOut += j.res.bytesOut
			if len(j.res.warnings) > 0 {
				s.warned++
			}
		}
	}
	s.elapsed = time.Since(start)
	rep.finish(s)
	return s
}

// target is --to, or the target of the v1.0 operation --op names.
func (f *sendFlags) target() (string, error) {
	switch {
	case f.to != "" && f.op != 0:
		return "", fmt.Errorf("%w: give --to or --op, not both", errUsage)
	case f.op != 0:
		op := wire.Operation(f.op)
		if !op.Valid() {
			return "", fmt.Errorf("%w: --op %d: use 1 (JPEG), 2 (PNG), 3 (WEBP), 4 (TXT to PDF) or 5 (PDF to TXT), or --to", errUsage, f.op)
		}
		return op.Target(), nil
	case f.to != "":
		if n, err := strconv.Atoi(f.to); err == nil && wire.Operation(n).Valid() {
			return wire.Operation(n).Target(), nil
		}
		to, err := convert.ParseTarget(f.to)
		if err != nil {
			return "", fmt.Errorf("%w: --to: %s", errUsage, userMessage(err))
		}
		return to, nil
	}
	return "", fmt.Errorf("%w: say what to convert to with --to %s", errUsage, strings.Join(convert.TargetNames(), "|"))
}

// caFile is the CA bundle that verifies the master: --ca, else the state
// folder's CA when there is one; empty for the system's roots.
func (f *sendFlags) caFile() string {
	if f.ca != "" || !fileExists(filepath.Join(defaultStateDir, "ca.pem")) {
		return f.ca
	}
	return filepath.Join(defaultStateDir, "ca.pem")
}

func (f *sendFlags) client() (*client.Client, error) {
	token, err := f.resolveToken()
	if err != nil {
		return nil, err
	}
	tlsConf := &tls.Config{ServerName: f.serverName, MinVersion: tls.VersionTLS12}
	if f.insecure {
		tlsConf.InsecureSkipVerify = true
	} else if caFile := f.caFile(); caFile != "" {
		pool, err := tlsconf.LoadCAPool(caFile)
		if err != nil {
			return nil, fmt.Errorf("--ca: %w", err)
		}
		tlsConf.RootCAs = pool
	}
	switch {
	case f.cert != "" && f.key != "":
		cert, err := tlsconf.LoadKeyPair(f.cert, f.key)
		if err != nil {
			return nil, fmt.Errorf("--cert/--key: %w", err)
		}
		tlsConf.Certificates = []tls.Certificate{cert}
	case f.cert != "" || f.key != "":
		return nil, fmt.Errorf("%w: --cert and --key go together", errUsage)
	}
	c := &client.Client{Addr: f.addr, Token: token, TLSConfig: tlsConf, Timeout: f.timeout, MaxRetries: f.retries, MaxIdleConns: max(f.concurrency, 1)}
	if f.retries <= 0 {
		c.MaxRetries = -1
	}
	switch f.protocol {
	case "auto", "":
	case "v2", "2", "v2.0":
		c.Protocol = client.ProtocolV2
	case "v1", "1", "v1.0":
		c.Protocol = client.ProtocolV1
	default:
		return nil, fmt.Errorf("%w: --protocol %q: use v2, v1 or auto", errUsage, f.protocol)
	}
	return c, nil
}

func (f *sendFlags) resolveToken() (string, error) {
	if f.token != "" {
		return f.token, nil
	}
	file := f.tokenFilePath()
	if file == "" {
		return "", fmt.Errorf("%w: no token: give --token, --token-file or FILECONV_TOKEN (fileconv up prints one)", errUsage)
	}
	tok, err := readTokenFile(file)
	if err != nil {
		return "", fmt.Errorf("--token-file: %w", err)
	}
	return tok, nil
}

// tokenFilePath is the file the token is read from: --token-file, else the state
// folder's when present; "" when --token gives the token or there is no file.
func (f *sendFlags) tokenFilePath() string {
	switch {
	case f.token != "":
		return ""
	case f.tokenFile != "":
		return f.tokenFile
	}
	if file := filepath.Join(defaultStateDir, "token"); fileExists(file) {
		return file
	}
	return ""
}

// readTokenFile returns the first line of file that is neither blank nor a comment.
func readTokenFile(file string) (string, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return "", err
	}
	for line := range strings.Lines(string(b)) {
		if tok := strings.TrimSpace(line); tok != "" && !strings.HasPrefix(tok, "#") {
			return tok, nil
		}
	}
	return "", fmt.Errorf("%s holds no token", file)
}

// sendOne converts one file into out, and returns where the result went
// (place).
func sendOne(ctx context.Context, c *client.Client, to string, in, out string, p placement, opts client.Options) (client.Result, string, error) {
	if same, _ := samePath(in, out); same {
		return client.Result{}, out, fmt.Errorf("the result %s would replace the input: use -o DIR", out)
	}
	src, err := os.Open(in)
	if err != nil {
		return client.Result{}, out, err
	}
	defer src.Close()
	if st, err := src.Stat(); err != nil || !st.Mode().IsRegular() {
		return client.Result{}, out, errors.New("not a regular file")
	}
	return writeResult(out, p, func(w io.Writer) (client.Result, error) {
		return c.Convert(ctx, to, filepath.Base(in), src, w, opts)
	})
}

// writeResult writes what convert makes into out. The result goes to a
// temporary file first and takes its name only when complete, so a failed
// conversion never leaves a partial file or clobbers an existing one.
func writeResult(out string, p placement, convert func(io.Writer) (client.Result, error)) (client.Result, string, error) {
	var res client.Result
	if !p.force && fileExists(out) {
		return res, out, fmt.Errorf("%s exists: use --force to overwrite it", out)
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return res, out, fmt.Errorf("create output folder: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(out), "."+filepath.Base(out)+".*.part")
	if err != nil {
		return res, out, fmt.Errorf("create output: %w", err)
	}
	defer os.Remove(tmp.Name())
	res, err = convert(tmp)
	// CreateTemp makes the file private; a result is an ordinary file.
	if err == nil {
		err = tmp.Chmod(0o644)
	}
	if cerr := tmp.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("write %s: %w", tmp.Name(), cerr)
	}
	if err != nil {
		return res, out, err
	}
	out, err = place(tmp.Name(), out, res, p)
	return res, out, err
}

func samePath(a, b string) (bool, error) {
	sa, err := os.Stat(a)
	if err != nil {
		return false, err
	}
	sb, err := os.Stat(b)
	if err != nil {
		return false, err
	}
	return os.SameFile(sa, sb), nil
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// failureReason is what a person needs to read about a failed file: the server's
// own words when it refused, else the whole chain of the local error.
func failureReason(err error) string {
	var se *client.ServerError
	if errors.As(err, &se) {
		return se.Message
	}
	return err.Error()
}

// oneLine keeps a failure to one line of output, whatever the server said.
func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ToValidUTF8(s, "?")), " ")
}

func cmpOr(v, def string) string {
	if v == "" {
		return def
	}
	return v
}
