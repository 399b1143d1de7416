package cli

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestBenchInprocCommand(t *testing.T) {
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	err := runBench(context.Background(), []string{
		"--inproc", "--sweep", "sizes,concurrency", "--conversions", "png-jpg,txt-pdf",
		"--sizes", "10KB,30KB", "--base-size", "20KB", "--concurrency", "1,2",
		"--requests", "2", "--repeat", "1", "--out", out, "--quiet",
	}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	for _, want := range []string{"PNG→JPG", "TXT→PDF", "30KB", "p99 ms", "bench.csv", "concurrency.png"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, stdout.String())
		}
	}
	f, err := os.Open(filepath.Join(out, "bench.csv"))
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(f).ReadAll()
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1+4+2 || rows[0][0] != "sweep" || rows[1][1] != "inproc" {
		t.Errorf("csv: %v", rows)
	}
	cpuColumn := slices.Index(rows[0], "cpu_ms_per_req")
	for _, r := range rows[1:] {
		if cpuColumn < 0 || r[cpuColumn] == "" {
			t.Errorf("no CPU time per request in %v (header %v)", r, rows[0])
		}
	}
	for _, g := range []string{"sizes.png", "concurrency.png", "latency.png"} {
		gf, err := os.Open(filepath.Join(out, g))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := png.Decode(gf); err != nil {
			t.Errorf("%s: %v", g, err)
		}
		gf.Close()
	}
}

func TestBenchFlagMistakes(t *testing.T) {
	for _, args := range [][]string{
		{"--sweep", "nope"},
		{"--protocol", "v3"},
		{"--conversions", "gif-png"},
		{"--sizes", "tiny"},
		{"--concurrency", "0"},
		{"--repeat", "0"},
		{"--image", "cartoon"},
		{"--server-pid", "abc"},
		{"--server-pid", "1073741824"},
		{"--files", "no-such-file.jpg"},
		{"--files", "../convert/testdata/images/photo.heic", "--conversions", "all"},
		{"operand"},
	} {
		var stdout, stderr bytes.Buffer
		err := runBench(context.Background(), append(args, "--inproc"), &stdout, &stderr)
		if !errors.Is(err, errUsage) {
			t.Errorf("%v: %v, want a usage error", args, err)
		}
	}
	// --compare measures two servers over v1.0, the sizes sweep alone.
	for _, args := range [][]string{
		{"--image", "photo,noise", "--token", "t"},
		{"--compare", "127.0.0.1:1", "--token", "t", "--compare-token", "t", "--inproc"},
		{"--compare", "127.0.0.1:1", "--token", "t", "--compare-token", "t", "--overhead"},
		{"--compare", "127.0.0.1:1", "--token", "t", "--compare-token", "t", "--protocol", "v2"},
		{"--compare", "127.0.0.1:1", "--token", "t", "--compare-token", "t", "--sweep", "chunks"},
		{"--compare", "127.0.0.1:1", "--token", "t", "--insecure"},
	} {
		var stdout, stderr bytes.Buffer
		err := runBench(context.Background(), args, &stdout, &stderr)
		if !errors.Is(err, errUsage) || !strings.Contains(err.Error(), "--") {
			t.Errorf("%v: %v, want a usage error naming a flag", args, err)
		}
	}
	// v1.0 has no operation to AVIF or HEIC: refused before anything is sent
	// (nothing listens at the default address here).
	for _, args := range [][]string{
		{"--protocol", "v1", "--conversions", "png-jpg,png-avif"},
		{"--sweep", "chunks", "--conversions", "jpg-heic"},
	} {
		var stdout, stderr bytes.Buffer
		err := runBench(context.Background(), args, &stdout, &stderr)
		if !errors.Is(err, errUsage) || !strings.Contains(err.Error(), "v1.0") {
			t.Errorf("%v: %v, want a usage error about v1.0", args, err)
		}
	}
}

func TestBenchFilesCommand(t *testing.T) {
	var stdout, stderr bytes.Buffer
	err := runBench(context.Background(), []string{
		"--inproc", "--conversions", "images", "--files", "../convert/testdata/images/photo.heic,../convert/testdata/images/anim.gif",
		"--requests", "1", "--repeat", "1", "--out", t.TempDir(), "--quiet",
	}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	for _, want := range []string{"HEIC→JPG", "photo.heic", "GIF→WEBP", "anim.gif", "p50 ms/MP", "output"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, stdout.String())
		}
	}
	if strings.Contains(stdout.String(), "PNG→AVIF") {
		t.Errorf("a conversion without a file ran:\n%s", stdout.String())
	}
}

func TestBenchProcMemory(t *testing.T) {
	hwm, rss, err := procMemory(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if hwm < rss || rss <= 0 {
		t.Errorf("VmHWM %d, VmRSS %d", hwm, rss)
	}
}
