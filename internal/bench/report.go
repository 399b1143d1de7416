package bench

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
	"time"
)

// CSVHeader is the first row of WriteCSV.
var CSVHeader = []string{
	"sweep", "protocol", "conversion", "size_target", "size_bytes", "chunk", "concurrency",
	"repeat", "requests", "errors", "errors_by_kind", "req_per_s", "mb_per_s",
	"p50_ms", "p95_ms", "p99_ms", "inproc_mb_per_s", "overhead",
	"cpu_ms_per_req", "inproc_cpu_ms_per_req", "cpu_overhead",
	"input", "megapixels", "output_bytes", "p50_ms_per_mp",
}

// WriteCSV writes a header and one row per point.
func WriteCSV(w io.Writer, points []Point) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVHeader); err != nil {
		return err
	}
	for _, p := range points {
		row := []string{
			p.Sweep, p.Protocol, p.Conversion.Name, strconv.Itoa(p.Size), strconv.Itoa(p.InputBytes),
			strconv.Itoa(p.Chunk), strconv.Itoa(p.Concurrency), strconv.Itoa(p.Repeat),
			strconv.Itoa(p.Requests), strconv.Itoa(p.Errors), p.ErrorKindsString(),
			f3(p.ReqPerSec), f3(p.MBps), ms(p.P50), ms(p.P95), ms(p.P99), "", "", "", "", "",
			p.InputName, "", strconv.FormatInt(p.OutputBytes, 10), "",
		}
		if p.InprocMBps > 0 {
			row[16], row[17] = f3(p.InprocMBps), f3(p.Overhead)
		}
		if p.CPUPerRequest > 0 {
			row[18] = ms(p.CPUPerRequest)
		}
		if p.InprocCPUPerRequest > 0 {
			row[19] = ms(p.InprocCPUPerRequest)
		}
		if p.CPUOverhead > 0 {
			row[20] = f3(p.CPUOverhead)
		}
		if p.Megapixels > 0 {
			row[22], row[24] = f3(p.Megapixels), f3(msPerMP(p))
		}
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// msPerMP is the median latency per megapixel decoded: what an image
// conversion costs whatever the file's compression.
func msPerMP(p Point) float64 { return float64(p.P50) / 1e6 / p.Megapixels }

func f3(v float64) string { return strconv.FormatFloat(v, 'f', 3, 64) }

func ms(d time.Duration) string { return strconv.FormatFloat(float64(d)/1e6, 'f', 1, 64) }

// SizeLabel writes a byte count as the sweeps' flags do: 100KB, 1MB, 64KiB.
func SizeLabel(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return strconv.Itoa(n>>20) + "MiB"
	case n >= 1e6 && n%100_000 == 0:
		return strconv.FormatFloat(float64(n)/1e6, 'f', -1, 64) + "MB"
	case n >= 1<<10 && n%(1<<10) == 0:
		return strconv.Itoa(n>>10) + "KiB"
	case n >= 1000 && n%1000 == 0:
		return strconv.Itoa(n/1000) + "KB"
	}
	return strconv.Itoa(n) + "B"
}

// WriteTable prints the points as an aligned table, in the order given.
func WriteTable(w io.Writer, points []Point) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	overhead, cpu, cpuOverhead, pixels := false, false, false, false
	for _, p := range points {
		pixels = pixels || p.Megapixels > 0
		overhead = overhead || p.InprocMBps > 0
		cpu = cpu || p.CPUPerRequest > 0
		cpuOverhead = cpuOverhead || p.CPUOverhead > 0
	}
	head := "sweep\tproto\tconversion\tsize\tchunk\tconc\treqs\terrors\treq/s\tMB/s\tp50 ms\tp95 ms\tp99 ms\toutput\t"
	if pixels {
		head += "MP\tp50 ms/MP\t"
	}
	if overhead {
		head += "inproc MB/s\toverhead\t"
	}
	if cpu {
		head += "cpu ms/req\t"
	}
	if cpuOverhead {
		head += "inproc cpu ms/req\tcpu overhead\t"
	}
	fmt.Fprintln(tw, head)
	for _, p := range points {
		chunk := "-"
		if p.Chunk > 0 {
			chunk = SizeLabel(p.Chunk)
		}
		errs := strconv.Itoa(p.Errors)
		if p.Errors > 0 {
			errs += " (" + p.ErrorKindsString() + ")"
		}
		size := SizeLabel(p.Size)
		if p.InputName != "" {
			size = p.InputName
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%d\t%s\t%.2f\t%.2f\t%s\t%s\t%s\t%d\t",
			p.Sweep, p.Protocol, p.Conversion.Label, size, chunk, p.Concurrency,
			p.Requests, errs, p.ReqPerSec, p.MBps, ms(p.P50), ms(p.P95), ms(p.P99), p.OutputBytes)
		if pixels {
			if p.Megapixels > 0 {
				fmt.Fprintf(tw, "%.2f\t%.1f\t", p.Megapixels, msPerMP(p))
			} else {
				fmt.Fprint(tw, "\t\t")
			}
		}
		if overhead {
			if p.InprocMBps > 0 {
				fmt.Fprintf(tw, "%.2f\t%.2f\t", p.InprocMBps, p.Overhead)
			} else {
				fmt.Fprint(tw, "\t\t")
			}
		}
		if cpu {
			fmt.Fprintf(tw, "%s\t", ms(p.CPUPerRequest))
		}
		if cpuOverhead {
			if p.CPUOverhead > 0 {
				fmt.Fprintf(tw, "%s\t%.2f\t", ms(p.InprocCPUPerRequest), p.CPUOverhead)
			} else {
				fmt.Fprint(tw, "\t\t")
			}
		}
		fmt.Fprintln(tw)
	}
	return tw.Flush()
}
