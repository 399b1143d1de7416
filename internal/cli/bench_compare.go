package cli

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"runtime"

	"github.com/fileconv/fileconv/internal/bench"
	"github.com/fileconv/fileconv/internal/convert"
)

// compareFlags name the other server of --compare.
type compareFlags struct {
	addr, token, ca string
	insecure        bool
}

func (f *compareFlags) register(fs interface {
	StringVar(*string, string, string, string)
	BoolVar(*bool, string, bool, string)
}) {
	fs.StringVar(&f.addr, "compare", "", "address of another server speaking v1.0 (the original system, an older fileconv): the same load is sent to it and to --addr, point by point, and their requests/s, output bytes and SSIM are set side by side")
	fs.StringVar(&f.token, "compare-token", "", "auth token of the --compare server")
	fs.StringVar(&f.ca, "compare-ca", "", "CA certificate that signed the --compare server's")
	fs.BoolVar(&f.insecure, "compare-insecure", false, "do not verify the --compare server's certificate (the original system's is self-signed)")
}

// target is the --compare server as a bench target.
func (f *compareFlags) target(ours bench.Target) (bench.Target, error) {
	sf := sendFlags{addr: f.addr, token: f.token, ca: f.ca, insecure: f.insecure, protocol: "v1", retries: -1}
	c, err := sf.client()
	if err != nil {
		return bench.Target{}, fmt.Errorf("--compare: %w", err)
	}
	return bench.Target{Addr: f.addr, Token: c.Token, TLS: c.TLSConfig, Timeout: ours.Timeout}, nil
}

// runCompare measures the plan's sizes sweep against both servers, for each
// picture kind of --image, and writes the table and compare.csv.
func runCompare(ctx context.Context, f *benchFlags, b *bench.Bench, plan bench.Plan, stdout, stderr io.Writer) error {
	other, err := f.compare.target(b.Target)
	if err != nil {
		return err
	}
	specs := plan.Specs()
	fmt.Fprintf(stderr, "fileconv bench: %d points × %d pictures, %s against %s over v1.0, %d CPUs\n",
		len(specs), len(f.images), f.addr, f.compare.addr, runtime.NumCPU())
	var pairs []bench.Pair
	for _, image := range f.images {
		r := b.Runner
		r.Inputs = &bench.Inputs{Image: image}
		some, err := bench.Compare(ctx, &r, b.Target, other, onePicture(specs, image, f.images))
		pairs = append(pairs, some...)
		if err != nil {
			return err
		}
	}
	if err := bench.WriteCompareTable(stdout, pairs); err != nil {
		return err
	}
	file := filepath.Join(f.out, "compare.csv")
	if err := writeFile(file, func(w io.Writer) error { return bench.WriteCompareCSV(w, pairs) }); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\nwrote %s\n", file)
	return nil
}

// onePicture keeps the specs that depend on the picture kind, and, for the
// first kind only, the others (text, PDF, given files), which would measure
// the same thing again.
func onePicture(specs []bench.Spec, image string, images []string) []bench.Spec {
	var out []bench.Spec
	for _, s := range specs {
		if image == images[0] || (s.Input == nil && convert.Kind(s.Conversion.Input).IsImage()) {
			out = append(out, s)
		}
	}
	return out
}
