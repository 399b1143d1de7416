package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/fileconv/fileconv/client"
)

// defaultMergeName is the result of --merge without -o.
const defaultMergeName = "combined.pdf"

// prepareMerge makes the one job of --merge: every file of the operands, in
// their order, sent as one request whose result is one file.
func prepareMerge(c *client.Client, operands []string, f sendFlags, to string, where placement) ([]*sendJob, sendFunc, error) {
	files := expandArgs(operands, f.recursive)
	var (
		paths []string
		size  int64
	)
	for _, j := range files {
		if j.err != nil {
			return nil, nil, fmt.Errorf("%s: %w", j.in, j.err)
		}
		st, err := os.Stat(j.in)
		if err != nil {
			return nil, nil, err
		}
		paths, size = append(paths, j.in), size+st.Size()
	}
	if len(paths) == 0 {
		return nil, nil, fmt.Errorf("%w: no file to merge", errUsage)
	}
	out := f.outDir
	if st, err := os.Stat(out); out == "" || err == nil && st.IsDir() {
		out = filepath.Join(out, defaultMergeName)
	}
	job := &sendJob{in: mergeLabel(paths), to: to, out: out, size: size}
	send := func(ctx context.Context, j *sendJob, o client.Options) (client.Result, string, error) {
		return sendMerged(ctx, c, to, paths, j.out, where, o)
	}
	return []*sendJob{job}, send, nil
}

// mergeLabel names the inputs of a merge in the report: "a.jpg + b.pdf", or
// "a.jpg + 11 more files".
func mergeLabel(paths []string) string {
	if len(paths) <= 3 {
		return strings.Join(paths, " + ")
	}
	return fmt.Sprintf("%s + %d more files", paths[0], len(paths)-1)
}

// sendMerged sends the files at paths as one job into out.
func sendMerged(ctx context.Context, c *client.Client, to string, paths []string, out string, where placement, opts client.Options) (client.Result, string, error) {
	parts := make([]client.Part, len(paths))
	for i, p := range paths {
		if same, _ := samePath(p, out); same {
			return client.Result{}, out, fmt.Errorf("the result %s would replace one of the files: use -o FILE", out)
		}
		f, err := os.Open(p)
		if err != nil {
			return client.Result{}, out, err
		}
		defer f.Close()
		parts[i] = client.Part{Name: filepath.Base(p), Body: f}
	}
	return writeResult(out, where, func(w io.Writer) (client.Result, error) {
		return c.ConvertFiles(ctx, to, filepath.Base(out), parts, w, opts)
	})
}
