package client_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/fileconv/fileconv/client"
)

// Convert a PNG file to a WEBP file, showing progress and telling a busy
// cluster from a refused file.
func ExampleClient_Convert() {
	c := &client.Client{
		Addr:      "conv.example.com:5000",
		Token:     os.Getenv("FILECONV_TOKEN"),
		TLSConfig: &tls.Config{MinVersion: tls.VersionTLS12},
		Timeout:   2 * time.Minute,
	}
	defer c.Close()

	in, err := os.Open("photo.png")
	if err != nil {
		log.Fatal(err)
	}
	defer in.Close()
	// Write to a temporary name: a failed conversion may leave a partial file.
	out, err := os.CreateTemp(".", "photo.webp.*.part")
	if err != nil {
		log.Fatal(err)
	}
	defer os.Remove(out.Name())

	res, err := c.Convert(context.Background(), client.ToWEBP, in.Name(), in, out, client.Options{
		ConvertOptions: client.ConvertOptions{Quality: 75},
		Progress: func(p client.Progress) {
			fmt.Fprintf(os.Stderr, "\r%-11s %d/%d bytes", p.Phase, p.Done, p.Total)
		},
	})
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	switch {
	case errors.Is(err, client.ErrBusy), errors.Is(err, client.ErrUnavailable):
		log.Fatalf("the cluster is overloaded, try later: %v", err)
	case errors.Is(err, client.ErrTypeMismatch):
		log.Fatalf("photo.png is not an image: %v", err)
	case err != nil:
		log.Fatal(err)
	}
	if err := os.Rename(out.Name(), "photo.webp"); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("photo.webp: %d bytes, job %s\n", res.Size, res.JobID)
	// The file converted, but maybe not quite as asked: say so with it.
	for _, w := range res.Warnings {
		fmt.Printf("photo.webp: warning: %s\n", w)
	}
}
