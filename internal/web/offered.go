package web

import (
	"context"
	"encoding/json"
	"slices"
	"sync"
	"time"

	"github.com/fileconv/fileconv/internal/convert"
)

// The registry says what fileconv can convert; the workers of this cluster
// may run fewer engines (an images-only pool, a machine without
// LibreOffice). What the page and /api/v1/formats offer is what some worker
// announces, learnt from the master's status; when the status cannot be had,
// the registry stands, and the master says which conversion no worker does.

// offeredTTL is how long what the workers announce is kept: the page asks
// for the formats once per load, and a cluster changes its workers seldom.
const offeredTTL = 5 * time.Second

// offered caches what the cluster's workers convert.
type offered struct {
	mu    sync.Mutex
	at    time.Time
	caps  convert.Capabilities // nil: unknown
	langs []string             // the languages the workers' OCR reads
	fetch func(ctx context.Context) (any, string)
}

// get returns what the workers announce together, or nil when unknown.
func (o *offered) get(ctx context.Context) convert.Capabilities {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.caps != nil && time.Since(o.at) < offeredTTL {
		return o.caps
	}
	status, problem := o.fetch(ctx)
	if problem != "" {
		return nil
	}
	// Unknown (no worker probed yet) is asked again next time.
	o.at = time.Now()
	o.caps, o.langs = workersConvert(status)
	return o.caps
}

// ocrLanguages returns the languages some worker's OCR reads.
func (o *offered) ocrLanguages(ctx context.Context) []string {
	o.get(ctx)
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.langs
}

// workersConvert reads the union of the workers' conversions from the
// master's status (master.Status, or its JSON): of the workers that have
// answered a probe, since the others are listed with the original system's
// conversions until they do; nil when none has. langs is the union of the
// languages their OCR reads, sorted.
func workersConvert(status any) (union convert.Capabilities, langs []string) {
	raw, ok := status.(json.RawMessage)
	if !ok {
		var err error
		if raw, err = json.Marshal(status); err != nil {
			return nil, nil
		}
	}
	var st struct {
		Workers []struct {
			Announced    bool                 `json:"capacity_announced"`
			Converts     convert.Capabilities `json:"converts"`
			OCRLanguages []string             `json:"ocr_languages"`
		} `json:"workers"`
	}
	if json.Unmarshal(raw, &st) != nil {
		return nil, nil
	}
	union = convert.Capabilities{}
	for _, w := range st.Workers {
		if !w.Announced {
			continue
		}
		langs = append(langs, w.OCRLanguages...)
		for kind, targets := range w.Converts {
			for _, t := range targets {
				if !slices.Contains(union[kind], t) {
					union[kind] = append(union[kind], t)
				}
			}
		}
	}
	slices.Sort(langs)
	langs = slices.Compact(langs)
	if len(union) == 0 {
		return nil, langs
	}
	return union, langs
}

// restrict keeps of in the targets some worker makes from its kind; caps
// nil keeps them all.
func restrict(in Input, caps convert.Capabilities) Input {
	if caps == nil {
		return in
	}
	in.Targets = slices.DeleteFunc(slices.Clone(in.Targets), func(t string) bool { return !caps.Can(convert.Kind(in.Type), t) })
	in.Default = ""
	if len(in.Targets) > 0 {
		in.Default = in.Targets[0]
	}
	return in
}
