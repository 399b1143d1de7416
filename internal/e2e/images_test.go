package e2e

import (
	"bytes"
	bin "encoding/binary"
	"image/jpeg"
	"image/png"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/image/webp"

	"github.com/fileconv/fileconv/internal/testfiles"
)

// sharedImages holds real sample images (libvips's and libheif's test files),
// beside the repository rather than in it; the repository's own fixtures of
// the same kinds stand in when it is absent.
const sharedImages = "../../../shared/testdata/images"

// sample is an image file a test sends, with what the test expects of it.
type sample struct {
	path string
	// w × h is the size of the first (or only) picture; pictures counts them.
	w, h, pictures int
}

// pickSample returns the real sample when the shared folder has it, else the
// repository's fixture, and skips the test when neither is there.
func pickSample(t *testing.T, real, fixture sample) sample {
	t.Helper()
	for _, s := range []sample{real, fixture} {
		if _, err := os.Stat(s.path); err == nil {
			if s == fixture {
				t.Logf("%s is absent: using the fixture %s", real.path, fixture.path)
			}
			return s
		}
	}
	t.Skipf("neither %s nor %s is there", real.path, fixture.path)
	return sample{}
}

// copyInto copies the sample into dir, where send writes its result beside
// it, and returns the copy's name.
func copyInto(t *testing.T, dir string, s sample) string {
	t.Helper()
	b, err := os.ReadFile(s.path)
	if err != nil {
		t.Fatal(err)
	}
	name := filepath.Base(s.path)
	if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return name
}

// The formats libvips reads, end to end through fileconv up: a HEIC photo to
// JPEG with send, an animation kept whole or cut to its first frame through
// the HTTP API, and a resize.
func TestUpConvertsImagesOfEveryKind(t *testing.T) {
	dir := t.TempDir()
	addr, api := upWithWeb(t, dir)

	t.Run("HEIC to JPEG with send", func(t *testing.T) {
		heic := pickSample(t,
			sample{filepath.Join(sharedImages, "libheif-example.heic"), 1280, 854, 2},
			sample{"../convert/testdata/images/photo.heic", 29, 44, 1})
		sendHEIC(t, dir, addr, heic)
	})
	t.Run("animated GIF through the API", func(t *testing.T) {
		gif := pickSample(t,
			sample{filepath.Join(sharedImages, "libvips-cogs.gif"), 85, 77, 5},
			sample{"../convert/testdata/images/anim.gif", 85, 77, 5})
		body, err := os.ReadFile(gif.path)
		if err != nil {
			t.Fatal(err)
		}
		resp, out := api.convert("to=webp&name=cogs.gif", body)
		if ct := resp.Header.Get("Content-Type"); ct != "image/webp" {
			t.Errorf("GIF to WEBP answered %s", ct)
		}
		if w := resp.Header.Values("X-Fileconv-Warnings"); len(w) > 0 {
			t.Errorf("GIF to WEBP warned %q, though WEBP holds every frame", w)
		}
		chunks := riffChunks(t, out)
		if chunks["ANIM"] != 1 || chunks["ANMF"] != gif.pictures {
			t.Errorf("GIF to WEBP made the chunks %v, want ANIM and %d ANMF", chunks, gif.pictures)
		}

		resp, out = api.convert("to=png&name=cogs.gif", body)
		if w := resp.Header.Values("X-Fileconv-Warnings"); len(w) != 1 || !strings.Contains(w[0], "frames") {
			t.Errorf("GIF to PNG warned %q, want one warning about the frames", w)
		}
		if cfg, err := png.DecodeConfig(bytes.NewReader(out)); err != nil || cfg.Width != gif.w || cfg.Height != gif.h {
			t.Errorf("GIF to PNG made a %dx%d PNG (%v), want the first frame, %dx%d", cfg.Width, cfg.Height, err, gif.w, gif.h)
		}
	})
	t.Run("resize through the API", func(t *testing.T) {
		var photo bytes.Buffer
		if err := jpeg.Encode(&photo, testfiles.Photo(640, 480), nil); err != nil {
			t.Fatal(err)
		}
		_, out := api.convert("to=webp&width=100&name=photo.jpg", photo.Bytes())
		cfg, err := webp.DecodeConfig(bytes.NewReader(out))
		if err != nil || cfg.Width != 100 || cfg.Height != 75 {
			t.Errorf("640x480 at width=100 made a %dx%d WEBP (%v), want 100x75", cfg.Width, cfg.Height, err)
		}
	})
}

// sendHEIC converts the HEIC sample to JPEG with fileconv send, and checks
// the JPEG and the warning a file of several images gets.
func sendHEIC(t *testing.T, dir, addr string, heic sample) {
	t.Helper()
	name := copyInto(t, dir, heic)
	_, errOut, code := run(t, dir, "send", "--addr", addr, "--to", "jpg", name)
	if code != 0 {
		t.Fatalf("send --to jpg %s: exit %d\n%s", name, code, errOut)
	}
	jpgName := strings.TrimSuffix(name, filepath.Ext(name)) + ".jpg"
	f, err := os.Open(filepath.Join(dir, jpgName))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := jpeg.Decode(f)
	if err != nil {
		t.Fatalf("%s does not decode as a JPEG: %v", jpgName, err)
	}
	if b := img.Bounds(); b.Dx() != heic.w || b.Dy() != heic.h {
		t.Errorf("%s is %dx%d, want %dx%d", jpgName, b.Dx(), b.Dy(), heic.w, heic.h)
	}
	warning := name + " -> " + jpgName + ": warning: the HEIC has 2 images; the JPEG holds the first"
	switch {
	case heic.pictures == 2 && !strings.Contains(errOut, warning):
		t.Errorf("send did not print %q; stderr:\n%s", warning, errOut)
	case heic.pictures == 1 && strings.Contains(errOut, "warning"):
		t.Errorf("send warned about a HEIC of one image:\n%s", errOut)
	}
}

// upWithWeb starts fileconv up with two workers and its web tier in dir, and
// returns the master's address and a caller of the HTTP API.
func upWithWeb(t *testing.T, dir string) (string, apiCaller) {
	t.Helper()
	addr, api, _ := upWithWebFlags(t, dir)
	return addr, api
}

// upWithWebFlags is upWithWeb with more flags for up; it returns up's process too.
func upWithWebFlags(t *testing.T, dir string, flags ...string) (string, apiCaller, *process) {
	t.Helper()
	addr, webAddr := freeAddr(t), freeAddr(t)
	up := start(t, dir, append([]string{"up", "--listen", addr, "--workers", "2", "--admin", "off", "--web", webAddr}, flags...)...)
	m := tokenLine.FindStringSubmatch(waitBanner(t, up))
	if m == nil {
		t.Fatalf("no token in the banner:\n%s", up.out())
	}
	return addr, apiCaller{t: t, base: "http://" + webAddr + "/api/v1/convert", token: m[1]}, up
}

// apiCaller posts files to the HTTP API of up's web tier.
type apiCaller struct {
	t           *testing.T
	base, token string
}

// convert posts body with the query and returns the answer, failing the test
// on anything but 200.
func (a apiCaller) convert(query string, body []byte) (*http.Response, []byte) {
	a.t.Helper()
	return a.post(query, "", body)
}

// post sends a request of contentType (none when empty), failing the test on
// anything but 200.
func (a apiCaller) post(query, contentType string, body []byte) (*http.Response, []byte) {
	a.t.Helper()
	resp, out, err := a.try(query, contentType, body)
	if err != nil {
		a.t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		a.t.Fatalf("POST ?%s: %s: %.300s", query, resp.Status, out)
	}
	return resp, out
}

// try sends a request of contentType (none when empty) and returns whatever
// the API answers; it may run outside the test's goroutine.
func (a apiCaller) try(query, contentType string, body []byte) (*http.Response, []byte, error) {
	req, err := http.NewRequest(http.MethodPost, a.base+"?"+query, bytes.NewReader(body))
	if err != nil {
		return nil, nil, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	// up's web tier asks no token on loopback; a caller that sends one anyway,
	// as a script written against "fileconv web" does, is served the same.
	req.Header.Set("Authorization", "Bearer "+a.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	return resp, out, err
}

// riffChunks counts the top-level chunks of a WEBP file (a RIFF container) by
// type: an animation has one ANIM and one ANMF per frame.
func riffChunks(t *testing.T, b []byte) map[string]int {
	t.Helper()
	if len(b) < 12 || string(b[:4]) != "RIFF" || string(b[8:12]) != "WEBP" {
		t.Fatalf("not a WEBP file: %.16q", b)
	}
	if size := bin.LittleEndian.Uint32(b[4:8]); int(size) != len(b)-8 {
		t.Errorf("the RIFF header declares %d bytes, the file has %d after it", size, len(b)-8)
	}
	chunks := map[string]int{}
	for off := 12; off < len(b); {
		if off+8 > len(b) {
			t.Fatalf("a chunk header cut short at byte %d", off)
		}
		typ, size := string(b[off:off+4]), int(bin.LittleEndian.Uint32(b[off+4:off+8]))
		if off+8+size > len(b) {
			t.Fatalf("chunk %s at byte %d runs past the end of the file", typ, off)
		}
		chunks[typ]++
		// Chunks are padded to an even size.
		off += 8 + size + size%2
	}
	return chunks
}
