package bench_test

import (
	"bytes"
	"encoding/csv"
	"strings"
	"testing"
	"time"

	"github.com/fileconv/fileconv/internal/bench"
)

// TestCompareTwoClusters measures two real clusters side by side, as
// fileconv bench --compare measures fileconv and the original system: every
// pair has both rates, the same output sizes (the same converter) and, for
// pictures, SSIM scores of the results against the input.
func TestCompareTwoClusters(t *testing.T) {
	oursAddr, oursTLS := startBenchCluster(t)
	otherAddr, otherTLS := startBenchCluster(t)
	ours := bench.Target{Addr: oursAddr, Token: benchToken, TLS: oursTLS, Timeout: time.Minute}
	other := bench.Target{Addr: otherAddr, Token: benchToken, TLS: otherTLS, Timeout: time.Minute}
	convs, err := bench.ParseConversions("png-jpg,jpg-png,txt-pdf")
	if err != nil {
		t.Fatal(err)
	}
	plan := bench.Plan{Sweeps: []string{bench.SweepSizes}, Conversions: convs, Sizes: []int{30_000}, BaseConcurrency: 2, Requests: 2, Repeat: 1}
	r := &bench.Runner{Inputs: &bench.Inputs{Image: bench.ImageNoise}}
	pairs, err := bench.Compare(t.Context(), r, ours, other, plan.Specs())
	if err != nil {
		t.Fatal(err)
	}
	if len(pairs) != 3 {
		t.Fatalf("%d pairs, want 3", len(pairs))
	}
	for _, p := range pairs {
		name := p.Ours.Conversion.Name
		if p.Ours.Errors+p.Other.Errors > 0 || p.Ratio() <= 0 || p.Other.Protocol != "v1" || p.Ours.Protocol != "v1" {
			t.Errorf("%s: %+v", name, p)
		}
		picture := name != "txt-pdf"
		if picture != (p.Image == bench.ImageNoise) || picture != (p.OurSSIM > 0 && p.OtherSSIM > 0) {
			t.Errorf("%s: image %q, SSIM %v and %v", name, p.Image, p.OtherSSIM, p.OurSSIM)
		}
		if name == "jpg-png" && (p.OurSSIM != 1 || p.BytesRatio() != 1) {
			t.Errorf("PNG is lossless and both converters are the same: SSIM %v, bytes ratio %v", p.OurSSIM, p.BytesRatio())
		}
	}
	var table, rows bytes.Buffer
	if err := bench.WriteCompareTable(&table, pairs); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(table.String(), "fileconv req/s") || !strings.Contains(table.String(), "PNG→JPG") {
		t.Errorf("table:\n%s", table.String())
	}
	if err := bench.WriteCompareCSV(&rows, pairs); err != nil {
		t.Fatal(err)
	}
	if recs, err := csv.NewReader(&rows).ReadAll(); err != nil || len(recs) != 4 {
		t.Errorf("CSV: %d rows, %v", len(recs), err)
	}
}
