package htmlpdf

import (
	"context"
	"testing"
	"time"
)

const benchHTML = `<!DOCTYPE html><html><head><meta charset="utf-8"><title>Invoice</title>
<style>body { font-family: "Noto Sans", sans-serif } table { border-collapse: collapse } td, th { border: 1px solid #999; padding: 4px }</style>
</head><body><h1>Invoice 2024-001</h1><p>Thank you for your order. Grüße — Καλημέρα.</p>
<table><tr><th>Item</th><th>Qty</th><th>Price</th></tr><tr><td>Widget</td><td>2</td><td>10.00</td></tr>
<tr><td>Gadget</td><td>1</td><td>25.00</td></tr></table><p>Total: 45.00</p></body></html>`

// BenchmarkConvert prints a small HTML page on a warm pool, one document per
// tab at a time (go test -run '^$' -bench Convert ./internal/htmlpdf).
func BenchmarkConvert(b *testing.B) {
	for _, c := range []struct {
		name string
		tabs int
		js   bool
	}{{"tabs=1", 1, false}, {"tabs=2", 2, false}, {"tabs=2/javascript", 2, true}} {
		b.Run(c.name, func(b *testing.B) {
			p := newPool(b, Config{Tabs: c.tabs, JavaScript: c.js})
			job := Job{HTML: []byte(benchHTML)}
			convert(b, p, job)                 // fonts loaded, tabs warm
			b.SetParallelism((c.tabs + 1) / 2) // × GOMAXPROCS goroutines
			start := time.Now()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
					_, err := p.Convert(ctx, job)
					cancel()
					if err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "docs/s")
		})
	}
}
