package bench

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/fileconv/fileconv/internal/convert"
	"github.com/fileconv/fileconv/internal/imagecmp"
)

// Pair is one point measured against two servers speaking protocol v1.0 with
// the same client, inputs and load: fileconv and another (the original
// system, or an older fileconv).
type Pair struct {
	// Image is the kind of generated picture (ImagePhoto, ImageNoise) for an
	// image input, else empty.
	Image       string
	Other, Ours Point
	// OtherSSIM and OurSSIM are the structural similarity of one result of
	// each to the input, for an image converted to an image; else zero.
	OtherSSIM, OurSSIM float64
}

// Ratio is fileconv's requests per second over the other's.
func (p Pair) Ratio() float64 { return safeRatio(p.Ours.ReqPerSec, p.Other.ReqPerSec) }

// BytesRatio is the size of fileconv's result over the other's.
func (p Pair) BytesRatio() float64 {
	return safeRatio(float64(p.Ours.OutputBytes), float64(p.Other.OutputBytes))
}

func safeRatio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// Compare measures every spec against other and then against ours, point by
// point so that both see the machine in the same state, and fetches one
// result of each to weigh its quality. The specs' inputs come from
// r.Inputs, whose Image names the picture kind of the pairs.
func Compare(ctx context.Context, r *Runner, ours, other Target, specs []Spec) ([]Pair, error) {
	var pairs []Pair
	for _, spec := range specs {
		pair := Pair{}
		if convert.Kind(spec.Conversion.Input).IsImage() && spec.Input == nil {
			pair.Image = r.Inputs.Image
		}
		var err error
		theirs, mine := &V1Sender{Target: other}, &V1Sender{Target: ours}
		if pair.Other, err = r.Run(ctx, theirs, spec); err != nil {
			return pairs, fmt.Errorf("the other server, %s: %w", spec.Conversion.Label, err)
		}
		if pair.Ours, err = r.Run(ctx, mine, spec); err != nil {
			return pairs, fmt.Errorf("fileconv, %s: %w", spec.Conversion.Label, err)
		}
		if pair.OtherSSIM, pair.OurSSIM, err = r.qualities(ctx, spec, theirs, mine); err != nil {
			return pairs, err
		}
		pairs = append(pairs, pair)
	}
	return pairs, nil
}

// qualities fetches one result from each sender and measures its SSIM to
// the input, when an image is converted to an image.
func (r *Runner) qualities(ctx context.Context, spec Spec, senders ...*V1Sender) (float64, float64, error) {
	if !convert.Kind(spec.Conversion.Input).IsImage() || !isImageTarget(spec.Conversion.Target) {
		return 0, 0, nil
	}
	input := spec.Input
	if input == nil {
		var err error
		if input, err = r.Inputs.Get(spec.Conversion.Input, spec.Size); err != nil {
			return 0, 0, err
		}
	}
	var scores [2]float64
	for i, s := range senders {
		out, err := s.Fetch(ctx, spec.Conversion.Target, input)
		if err != nil {
			return 0, 0, fmt.Errorf("fetch a result of %s from %s: %w", spec.Conversion.Label, s.Addr, err)
		}
		if scores[i], err = imagecmp.SSIM(input, out); err != nil {
			return 0, 0, fmt.Errorf("SSIM of %s's %s: %w", s.Addr, spec.Conversion.Label, err)
		}
	}
	return scores[0], scores[1], nil
}

// isImageTarget reports whether the registry's target makes a picture, whose
// result imagecmp can weigh.
func isImageTarget(name string) bool {
	t, ok := convert.LookupTarget(name)
	return ok && strings.HasPrefix(t.ContentType, "image/")
}

// WriteCompareTable writes the pairs as the table of docs/performance.md:
// requests per second of each, their ratio, output bytes and SSIM.
func WriteCompareTable(w io.Writer, pairs []Pair) error {
	tw := tabwriter.NewWriter(w, 2, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "conversion\tinput\tsize\tother req/s\tfileconv req/s\tratio\tother bytes\tfileconv bytes\tbytes ratio\tother SSIM\tfileconv SSIM\terrors\t")
	for _, p := range pairs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.2f\t%.2f\t%.2f\t%d\t%d\t%.2f\t%s\t%s\t%d/%d\t\n",
			p.Ours.Conversion.Label, inputLabel(p), SizeLabel(p.Ours.Size), p.Other.ReqPerSec, p.Ours.ReqPerSec,
			p.Ratio(), p.Other.OutputBytes, p.Ours.OutputBytes, p.BytesRatio(),
			ssimLabel(p.OtherSSIM), ssimLabel(p.OurSSIM), p.Other.Errors, p.Ours.Errors)
	}
	return tw.Flush()
}

// WriteCompareCSV writes a header and one row per pair.
func WriteCompareCSV(w io.Writer, pairs []Pair) error {
	cw := csv.NewWriter(w)
	cw.Write([]string{"conversion", "input", "size_bytes", "concurrency", "other_req_per_s", "fileconv_req_per_s", "ratio",
		"other_output_bytes", "fileconv_output_bytes", "bytes_ratio", "other_ssim", "fileconv_ssim", "other_errors", "fileconv_errors"})
	for _, p := range pairs {
		cw.Write([]string{p.Ours.Conversion.Name, inputLabel(p), strconv.Itoa(p.Ours.InputBytes), strconv.Itoa(p.Ours.Concurrency),
			f3(p.Other.ReqPerSec), f3(p.Ours.ReqPerSec), f3(p.Ratio()),
			strconv.FormatInt(p.Other.OutputBytes, 10), strconv.FormatInt(p.Ours.OutputBytes, 10), f3(p.BytesRatio()),
			ssimLabel(p.OtherSSIM), ssimLabel(p.OurSSIM), strconv.Itoa(p.Other.Errors), strconv.Itoa(p.Ours.Errors)})
	}
	cw.Flush()
	return cw.Error()
}

func inputLabel(p Pair) string {
	switch {
	case p.Ours.InputName != "":
		return p.Ours.InputName
	case p.Image != "":
		return p.Image
	}
	return p.Ours.Conversion.Input
}

func ssimLabel(v float64) string {
	if v == 0 {
		return "-"
	}
	return strconv.FormatFloat(v, 'f', 4, 64)
}
