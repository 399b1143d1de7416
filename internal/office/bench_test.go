package office

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The DOCX the benchmarks convert: a real one, with pictures (133 KB, one
// page); BenchmarkDOCXToPDF also converts a small one of text (28 KB).
const (
	benchDOCX      = "python-docx-having-images.docx"
	benchSmallDOCX = "python-docx-par-known-paragraphs.docx"
)

// BenchmarkDOCXToPDF: documents per second through warm processes, one per
// core, with as many jobs in flight.
//
//	go test -run '^$' -bench 'DOCXToPDF|Soffice' -benchtime 40x ./internal/office
func BenchmarkDOCXToPDF(b *testing.B) {
	for _, c := range []struct {
		doc   string
		procs int
	}{{benchDOCX, 1}, {benchDOCX, runtime.NumCPU()}, {benchSmallDOCX, 1}, {benchSmallDOCX, runtime.NumCPU()}} {
		data := readFile(b, filepath.Join(realDocs, c.doc))
		procs := c.procs
		b.Run(strings.TrimSuffix(strings.TrimPrefix(c.doc, "python-docx-"), ".docx")+"/processes="+strconv.Itoa(procs), func(b *testing.B) {
			p := newPool(b, Config{Processes: procs})
			convert(b, p, Job{Input: data, From: "docx", To: "pdf"}) // first document
			jobs := make(chan struct{})
			var wg sync.WaitGroup
			for range procs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for range jobs {
						if _, err := p.Convert(context.Background(), Job{Input: data, From: "docx", To: "pdf"}); err != nil {
							b.Error(err)
						}
					}
				}()
			}
			b.ResetTimer()
			start := time.Now()
			for range b.N {
				jobs <- struct{}{}
			}
			close(jobs)
			wg.Wait()
			b.StopTimer()
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "docs/s")
			s := p.Stats()
			var rss int64
			for _, r := range s.RSS {
				rss = max(rss, r)
			}
			b.ReportMetric(float64(rss)/(1<<20), "MiB-RSS")
		})
	}
}

// BenchmarkSofficeDOCXToPDF: the same DOCX through `soffice --headless
// --convert-to pdf`, one run after the other (its profile made once, before
// the timer), as people run it without this package.
func BenchmarkSofficeDOCXToPDF(b *testing.B) {
	needOffice(b)
	data := readFile(b, filepath.Join(realDocs, benchDOCX))
	bin := tool(b, "soffice", "libreoffice-core-nogui")
	dir := b.TempDir()
	in := filepath.Join(dir, benchDOCX)
	if err := os.WriteFile(in, data, 0o600); err != nil {
		b.Fatal(err)
	}
	run := func() {
		cmd := exec.Command(bin, "-env:UserInstallation="+fileURL(filepath.Join(dir, "profile")), "--headless", "--convert-to", "pdf", "--outdir", filepath.Join(dir, "out"), in)
		cmd.Env = append(os.Environ(), "HOME="+dir)
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("soffice: %v: %s", err, out)
		}
	}
	run() // the profile
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		run()
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "docs/s")
}

// BenchmarkStart: a process's start until it is warm (LibreOffice
// initialized, a DOCX, an XLSX and a PPTX converted).
func BenchmarkStart(b *testing.B) {
	needOffice(b)
	for range b.N {
		p := New(Config{Processes: 1, Logger: testLogger(b)})
		if err := p.Start(context.Background()); err != nil {
			b.Fatal(err)
		}
		s := p.Stats()
		b.ReportMetric(s.StartSeconds, "s-to-warm")
		var rss, private int64
		for i := range s.RSS {
			rss, private = max(rss, s.RSS[i]), max(private, s.Private[i])
		}
		b.ReportMetric(float64(rss)/(1<<20), "MiB-RSS")
		b.ReportMetric(float64(private)/(1<<20), "MiB-private")
		p.Close()
	}
}
