package worker_test

import (
	"context"
	"crypto/sha256"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"github.com/fileconv/fileconv/internal/convert"
	"github.com/fileconv/fileconv/internal/testcluster"
	"github.com/fileconv/fileconv/internal/wire"
	"github.com/fileconv/fileconv/internal/worker"
)

// A conversion's warnings go into the v2 RESULT and the job's log line; a v1.0
// answer stays the file alone, byte for byte.
func TestWorkerPassesWarnings(t *testing.T) {
	out := []byte("first frame as PNG")
	warnings := []string{"the GIF has 12 frames; the PNG holds the first", "its palette had 300 colours"}
	convert.Register(convert.Conversion{Name: "test-gif-warn", From: []convert.Kind{"ole2"}, To: []string{"png"},
		Run: func(*convert.Converter, context.Context, convert.Input) (convert.Result, error) {
			return convert.Result{Output: out, Warnings: warnings}, nil
		}})
	t.Cleanup(func() { convert.Unregister("test-gif-warn") })
	logs := &testcluster.LogBuffer{}
	addr, clientTLS, _, _ := startWorker(t, func(cfg *worker.Config) { cfg.Logger = slog.New(slog.NewTextHandler(logs, nil)) })
	gif := []byte("\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1 and some streams")

	conn := dialV2(t, addr, clientTLS)
	wire.WriteConvert(conn, wire.ConvertRequest{Token: wire.RelayJobPrefix + "warnjob", Target: "png", Size: uint64(len(gif)), SHA256: sha256.Sum256(gif)})
	conn.Write(gif)
	f, err := wire.ReadFrameHeader(conn, 0)
	if err != nil || f.Type != wire.FrameResult {
		t.Fatalf("v2 answer %v %v", f.Type, err)
	}
	res, err := wire.DecodeResult(f)
	body := make([]byte, f.BodySize)
	io.ReadFull(conn, body)
	if err != nil || !slices.Equal(res.Warnings, warnings) || string(body) != string(out) || res.InputType != "ole2" {
		t.Errorf("RESULT %+v (%v), body %q", res, err, body)
	}
	logs.WaitFor(t, `msg="job done" job=warnjob`)
	if !strings.Contains(logs.String(), `warnings="[\"the GIF has 12 frames; the PNG holds the first\" \"its palette had 300 colours\"]"`) {
		t.Errorf("the job's line lacks its warnings:\n%s", logs.String())
	}

	if got := v1Request(t, addr, clientTLS, wire.OpToPNG, gif); string(got) != string(out) {
		t.Errorf("v1.0 answer %q, want the file alone", got)
	}
}
