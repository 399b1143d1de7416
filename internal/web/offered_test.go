package web

import (
	"context"
	"encoding/json"
	"slices"
	"testing"

	"github.com/fileconv/fileconv/internal/convert"
)

// What the page offers is what the cluster's workers announce: an images-only
// pool offers no PDF conversion, a worker not yet probed counts for nothing,
// and an unknown status leaves the registry.
func TestOfferedByTheWorkers(t *testing.T) {
	status := json.RawMessage(`{"workers": [
		{"capacity_announced": true, "converts": {"png": ["jpg", "webp"], "jpeg": ["png"]}},
		{"capacity_announced": true, "converts": {"png": ["avif"]}},
		{"capacity_announced": false, "converts": {"pdf": ["txt"]}}]}`)
	calls := 0
	o := &offered{fetch: func(context.Context) (any, string) { calls++; return status, "" }}
	caps := o.get(context.Background())
	if !caps.Can(convert.KindPNG, "avif") || !caps.Can(convert.KindPNG, "jpg") || caps.Can(convert.KindPDF, "txt") {
		t.Fatalf("caps %v", caps)
	}
	o.get(context.Background())
	if calls != 1 {
		t.Errorf("the status was asked %d times within its TTL", calls)
	}
	s := &Server{}
	f := s.formats(caps)
	var types []string
	for _, in := range f.Inputs {
		types = append(types, in.Type)
	}
	if !slices.Equal(types, []string{"jpeg", "png"}) {
		t.Errorf("inputs offered: %v", types)
	}
	if png := restrict(inputOf(convert.KindPNG.Info(), madeTargets()), caps); png.Default != "jpg" || !slices.Equal(png.Targets, []string{"jpg", "webp", "avif"}) {
		t.Errorf("PNG: %+v", png)
	}
	if in := restrict(inputOf(convert.KindPDF.Info(), madeTargets()), nil); len(in.Targets) < 2 {
		t.Errorf("an unknown status restricts: %+v", in)
	}
	unknown := &offered{fetch: func(context.Context) (any, string) { return nil, "no admin listener" }}
	if unknown.get(context.Background()) != nil {
		t.Error("no status, yet capabilities")
	}
}
