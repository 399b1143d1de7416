package cli

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fileconv/fileconv/client"
	"github.com/fileconv/fileconv/internal/wire"
)

// defaultStateDir is where `fileconv up` keeps its CA and token; send looks there
// when it is given neither, so that the two work together with no flags.
const defaultStateDir = ".fileconv"

type sendFlags struct {
	addr, token, tokenFile, ca, serverName string
	to, outDir                             string
	op                                     int
	force, insecure                        bool
	timeout                                time.Duration
}

func runSend(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var f sendFlags
	fs := newFlagSet("send", "send [flags] --to jpg|png|webp|pdf|txt FILE...", stderr)
	fs.StringVar(&f.addr, "addr", client.DefaultAddr, "master address host:port")
	fs.StringVar(&f.token, "token", "", "auth token (default: first line of --token-file)")
	fs.StringVar(&f.tokenFile, "token-file", "", "file whose first line is the token (default: "+filepath.Join(defaultStateDir, "token")+" when present)")
	fs.StringVar(&f.ca, "ca", "", "CA certificate that signed the master's (default: "+filepath.Join(defaultStateDir, "ca.pem")+" when present, else the system's)")
	fs.StringVar(&f.serverName, "server-name", "", "name expected in the master's certificate (default: the host of --addr)")
	fs.BoolVar(&f.insecure, "insecure", false, "do not verify the master's certificate (testing only)")
	fs.StringVar(&f.to, "to", "", "target format: jpg, png, webp, pdf (from text) or txt (from PDF)")
	fs.IntVar(&f.op, "op", 0, "operation number 1-5 instead of --to: 1 JPEG, 2 PNG, 3 WEBP, 4 TXT->PDF, 5 PDF->TXT")
	fs.StringVar(&f.outDir, "o", "", "write results into this folder (default: next to each input)")
	fs.BoolVar(&f.force, "force", false, "overwrite existing output files")
	fs.DurationVar(&f.timeout, "timeout", client.DefaultTimeout, "longest wait for one file")
	files, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(files) == 0 {
		fs.Usage()
		return fmt.Errorf("%w: no file given", errUsage)
	}
	op, err := f.operation()
	if err != nil {
		return err
	}
	c, err := f.client()
	if err != nil {
		return err
	}
	if f.outDir != "" {
		if st, err := os.Stat(f.outDir); err != nil || !st.IsDir() {
			return fmt.Errorf("%w: -o %s: not an existing folder", errUsage, f.outDir)
		}
	}
	failed := 0
	for _, in := range files {
		out, err := sendOne(ctx, c, op, in, f.outDir, f.force)
		if err != nil {
			failed++
			fmt.Fprintf(stderr, "fileconv: %s: %s\n", in, oneLine(failureReason(err)))
			continue
		}
		fmt.Fprintf(stdout, "%s -> %s\n", in, out)
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d files failed", failed, len(files))
	}
	return nil
}

func (f *sendFlags) operation() (wire.Operation, error) {
	switch {
	case f.to != "" && f.op != 0:
		return 0, fmt.Errorf("%w: give --to or --op, not both", errUsage)
	case f.op != 0:
		op := wire.Operation(f.op)
		if !op.Valid() {
			return 0, fmt.Errorf("%w: --op %d: use 1 (JPEG), 2 (PNG), 3 (WEBP), 4 (TXT to PDF) or 5 (PDF to TXT)", errUsage, f.op)
		}
		return op, nil
	case f.to != "":
		op, err := wire.ParseOperation(f.to)
		if err != nil {
			return 0, fmt.Errorf("%w: --to: %w", errUsage, err)
		}
		return op, nil
	}
	return 0, fmt.Errorf("%w: say what to convert to with --to jpg|png|webp|pdf|txt", errUsage)
}

func (f *sendFlags) client() (*client.Client, error) {
	token, err := f.resolveToken()
	if err != nil {
		return nil, err
	}
	tlsConf := &tls.Config{ServerName: f.serverName, MinVersion: tls.VersionTLS12}
	switch {
	case f.insecure:
		tlsConf.InsecureSkipVerify = true
	case f.ca != "" || fileExists(filepath.Join(defaultStateDir, "ca.pem")):
		caFile := cmpOr(f.ca, filepath.Join(defaultStateDir, "ca.pem"))
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("--ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--ca %s: no PEM certificate in the file", caFile)
		}
		tlsConf.RootCAs = pool
	}
	return &client.Client{Addr: f.addr, Token: token, TLSConfig: tlsConf, Timeout: f.timeout}, nil
}

func (f *sendFlags) resolveToken() (string, error) {
	if f.token != "" {
		return f.token, nil
	}
	file := f.tokenFile
	if file == "" {
		file = filepath.Join(defaultStateDir, "token")
		if !fileExists(file) {
			return "", fmt.Errorf("%w: no token: give --token, --token-file or FILECONV_TOKEN (fileconv up prints one)", errUsage)
		}
	}
	tok, err := readTokenFile(file)
	if err != nil {
		return "", fmt.Errorf("--token-file: %w", err)
	}
	return tok, nil
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

// sendOne converts one file and writes the result next to it or into outDir. The
// result goes to a temporary file first and takes its name only when complete, so
// a failed conversion never leaves a partial file or clobbers an existing one.
func sendOne(ctx context.Context, c *client.Client, op wire.Operation, in, outDir string, force bool) (string, error) {
	out := outputPath(in, outDir, op)
	if same, _ := samePath(in, out); same {
		return "", fmt.Errorf("the result %s would replace the input: use -o DIR", out)
	}
	if !force && fileExists(out) {
		return "", fmt.Errorf("%s exists: use --force to overwrite it", out)
	}
	src, err := os.Open(in)
	if err != nil {
		return "", err
	}
	defer src.Close()
	if st, err := src.Stat(); err != nil || !st.Mode().IsRegular() {
		return "", errors.New("not a regular file")
	}
	tmp, err := os.CreateTemp(filepath.Dir(out), "."+filepath.Base(out)+".*.part")
	if err != nil {
		return "", fmt.Errorf("create output: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, err = c.Convert(ctx, op, filepath.Base(in), src, tmp, client.Options{})
	// CreateTemp makes the file private; a result is an ordinary file.
	if err == nil {
		err = tmp.Chmod(0o644)
	}
	if cerr := tmp.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("write %s: %w", tmp.Name(), cerr)
	}
	if err != nil {
		return "", err
	}
	if force {
		return out, os.Rename(tmp.Name(), out)
	}
	// A hard link fails if out appeared meanwhile, where a rename would replace it.
	if err := os.Link(tmp.Name(), out); err != nil {
		if errors.Is(err, os.ErrExist) {
			return "", fmt.Errorf("%s exists: use --force to overwrite it", out)
		}
		return "", fmt.Errorf("write %s: %w", out, err)
	}
	return out, nil
}

// outputPath is NAME.EXT for input NAME.anything, next to the input or in outDir.
func outputPath(in, outDir string, op wire.Operation) string {
	base := filepath.Base(in)
	stem := strings.TrimSuffix(base, filepath.Ext(base))
	if stem == "" {
		stem = base
	}
	dir := outDir
	if dir == "" {
		dir = filepath.Dir(in)
	}
	return filepath.Join(dir, stem+"."+op.Extension())
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
