package master

import (
	"slices"
	"testing"
	"time"

	"github.com/fileconv/fileconv/internal/convert"
)

// A job that reads by OCR goes to a worker whose OCR reads its languages.
func TestPoolRoutesByOCRLanguage(t *testing.T) {
	p, _ := testPool(t, 2, "a:1", "b:1")
	p.now = time.Now
	a, b := p.backends[0], p.backends[1]
	caps := convert.OriginalCapabilities()
	caps["png"] = append(caps["png"], "txt")
	p.announced(a, 2, false, caps, "eng")
	p.announced(b, 2, false, caps, "deu", "eng")
	deu := need{kind: "png", target: "txt", ocrLangs: []string{"deu"}}
	for range 2 {
		if got := mustAcquireFor(t, p, deu); got != b {
			t.Fatalf("a German job went to %s", got.addr)
		}
	}
	if p.anyCan(need{kind: "png", target: "txt", ocrLangs: []string{"fra"}}) {
		t.Error("a French job found a worker")
	}
	if got := p.ocrLanguages(); !slices.Equal(got, []string{"deu", "eng"}) {
		t.Errorf("the cluster's languages: %v", got)
	}
}
