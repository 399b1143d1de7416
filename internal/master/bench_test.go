package master_test

import (
	"context"
	"testing"

	"github.com/fileconv/fileconv/client"
	"github.com/fileconv/fileconv/internal/testfiles"
)

// BenchmarkSmallFiles measures what keep-alive saves on 100 KB files: protocol
// v1.0 opens a TLS connection per file, v2 sends every file over one. Each
// operation is one file through a master and two workers on loopback.
//
//	go test -run '^$' -bench SmallFiles -benchtime 200x ./internal/master/
func BenchmarkSmallFiles(b *testing.B) {
	jpeg, err := testfiles.ImageOfSize(testfiles.JPEG, 100<<10)
	if err != nil {
		b.Fatal(err)
	}
	text := []byte(testfiles.Paragraphs(100 << 10))
	png, err := testfiles.ImageOfSize(testfiles.PNG, 1<<20)
	if err != nil {
		b.Fatal(err)
	}
	inputs := []struct {
		name string
		op   string // the target; empty for a PING
		data []byte
	}{
		{"JPG-to-WEBP", client.ToWEBP, jpeg},
		{"TXT-to-PDF", client.TextToPDF, text},
		{"TXT-1KB-to-PDF", client.TextToPDF, []byte(testfiles.Paragraphs(1 << 10))},
		{"PING", "", nil},
		// Not small, but the conversion whose relay share is largest (the
		// fastest per byte), for profiling the relay.
		{"PNG-1MB-to-JPG", client.ToJPEG, png},
	}
	c := startCluster(b, clusterOptions{Workers: 2})
	for _, in := range inputs {
		for _, proto := range []string{client.ProtocolV1, client.ProtocolV2} {
			if in.op == "" && proto == client.ProtocolV1 {
				continue
			}
			b.Run(in.name+"/"+proto, func(b *testing.B) {
				cl := newClient(c)
				cl.Protocol = proto
				defer cl.Close()
				b.SetBytes(int64(len(in.data)))
				b.SetParallelism(1)
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						var err error
						if in.op == "" {
							err = cl.Ping(context.Background())
						} else {
							_, err = cl.ConvertBytes(context.Background(), in.op, in.name, in.data)
						}
						if err != nil {
							b.Error(err)
							return
						}
					}
				})
			})
		}
	}
}
