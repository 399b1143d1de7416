package cli

import (
	"errors"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/fileconv/fileconv/internal/convert"
	"github.com/fileconv/fileconv/internal/wire"
)

func TestParseBytes(t *testing.T) {
	for in, want := range map[string]int64{
		"1048576": 1 << 20, "512KiB": 512 << 10, "8MiB": 8 << 20, "1GiB": 1 << 30,
		"5MB": 5_000_000, "2 GB": 2_000_000_000, "64K": 64 << 10, "100B": 100,
	} {
		if got, err := parseBytes(in); err != nil || got != want {
			t.Errorf("parseBytes(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "lots", "-1", "1.5MiB", "99999999999GiB"} {
		if _, err := parseBytes(in); err == nil {
			t.Errorf("parseBytes(%q) succeeded", in)
		}
	}
	if got := formatBytes(256 << 20); got != "256MiB" {
		t.Errorf("formatBytes = %q", got)
	}
}

func TestParseFlagsAnywhereAndFromEnv(t *testing.T) {
	fs := newFlagSet("t", "t", nil)
	to := fs.String("to", "", "")
	addr := fs.String("addr", "default", "")
	force := fs.Bool("force", false, "")
	t.Setenv("FILECONV_ADDR", "from-env:5000")
	t.Setenv("FILECONV_TO", "png")
	operands, err := parse(fs, []string{"a.png", "--to", "jpg", "b.png", "--force", "--", "--weird-name"})
	if err != nil {
		t.Fatal(err)
	}
	if *to != "jpg" || *addr != "from-env:5000" || !*force {
		t.Errorf("to=%q addr=%q force=%v", *to, *addr, *force)
	}
	if want := []string{"a.png", "b.png", "--weird-name"}; len(operands) != 3 || operands[0] != want[0] || operands[1] != want[1] || operands[2] != want[2] {
		t.Errorf("operands %q, want %q", operands, want)
	}
	fs2 := newFlagSet("t", "t", nil)
	fs2.Int("workers", 1, "")
	t.Setenv("FILECONV_WORKERS", "many")
	if _, err := parse(fs2, nil); !errors.Is(err, errUsage) {
		t.Errorf("a bad environment value gave %v, want a usage error", err)
	}
}

func TestConvertFlags(t *testing.T) {
	parsed := func(args ...string) convert.Config {
		t.Helper()
		var c convertFlags
		fs := newFlagSet("t", "t", nil)
		c.register(fs)
		if _, err := parse(fs, args); err != nil {
			t.Fatal(err)
		}
		return c.cfg
	}
	if got, want := parsed(), (convert.Config{}).WithDefaults(); !reflect.DeepEqual(got, want) {
		t.Errorf("defaults %+v, want %+v", got, want)
	}
	t.Setenv("FILECONV_MAX_TEXT_PAGES", "50")
	got := parsed("--max-pdf-inflate", "64MiB", "--max-pdf-nesting", "100", "--max-pdf-memory", "512MiB")
	if got.MaxPDFInflate != 64<<20 || got.MaxPDFMemory != 512<<20 || got.MaxPDFNesting != 100 || got.MaxTextPages != 50 || got.MaxPDFPages != convert.DefaultMaxPDFPages {
		t.Errorf("config %+v", got)
	}
}

func TestEnvName(t *testing.T) {
	for flag, want := range map[string]string{"max-body": "FILECONV_MAX_BODY", "token-file": "FILECONV_TOKEN_FILE", "o": "FILECONV_OUT_DIR"} {
		if got := EnvName(flag); got != want {
			t.Errorf("EnvName(%q) = %q, want %q", flag, got, want)
		}
	}
}

func TestOutputPath(t *testing.T) {
	for _, c := range []struct {
		in, dir string
		op      wire.Operation
		want    string
	}{
		{"pics/photo.png", "", wire.OpToJPEG, "pics/photo.jpg"},
		{"pics/photo.tar.png", "out", wire.OpToWEBP, "out/photo.tar.webp"},
		{"notes", "", wire.OpTextToPDF, "notes.pdf"},
		{".profile", "", wire.OpTextToPDF, ".profile.pdf"},
		{"doc.PDF", "", wire.OpPDFToText, "doc.txt"},
	} {
		if got := outputPath(c.in, c.dir, c.op.Target()); got != filepath.FromSlash(c.want) {
			t.Errorf("outputPath(%q, %q) = %q, want %q", c.in, c.dir, got, c.want)
		}
	}
}

func TestOneLine(t *testing.T) {
	if got := oneLine("bad\nthing\r\n  happened\xff"); got != "bad thing happened?" {
		t.Errorf("oneLine = %q", got)
	}
}
