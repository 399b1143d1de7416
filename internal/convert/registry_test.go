package convert

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/fileconv/fileconv/internal/fail"
	"github.com/fileconv/fileconv/internal/wire"
)

// TestRegistryExtraConversion registers a conversion in one place and finds it
// in lookups, plans, capabilities and conversions.
func TestRegistryExtraConversion(t *testing.T) {
	if _, ok := LookupTarget("shout"); !ok {
		RegisterTarget(Target{Name: "shout", Label: "upper-case text", ContentType: "text/plain; charset=utf-8"})
	}
	Register(Conversion{Name: "test-shout", From: []Kind{KindText}, To: []string{"shout"}, Engine: "Go",
		Run: func(_ *Converter, _ context.Context, in Input) (Result, error) {
			return Result{Output: bytes.ToUpper(in.Data)}, nil
		}})
	t.Cleanup(func() { Unregister("test-shout") })

	if !slices.Contains(TargetsFrom(KindText), "shout") {
		t.Errorf("TargetsFrom(text) = %v", TargetsFrom(KindText))
	}
	c := converter(t)
	res, err := c.Convert(context.Background(), "shout", []byte("hello"), wire.Options{})
	if err != nil || string(res.Output) != "HELLO" || res.Kind != KindText {
		t.Fatalf("Convert = %q, %v, %v", res.Output, res.Kind, err)
	}
	if !c.Capabilities().Can(KindText, "shout") || OriginalCapabilities().Can(KindText, "shout") {
		t.Error("capabilities do not follow the registry")
	}
	off, err := New(Config{Disable: []string{"test-shout"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(Config{Disable: []string{"no-such-entry"}}); err == nil || !strings.Contains(err.Error(), "the entries are image-jpg, image-png") {
		t.Errorf("an unknown entry disabled: %v", err)
	}
	if off.Capabilities().Can(KindText, "shout") {
		t.Error("a disabled conversion is announced")
	}
	_, err = off.Convert(context.Background(), "shout", []byte("hello"), wire.Options{})
	wantError(t, err, fail.UnsupportedOperation, "disabled")
	_, err = Plan(KindText, "shout", wire.Options{Quality: 5}, nil)
	wantError(t, err, fail.BadRequest, "options.quality does not apply to text to shout (it takes no options)")
}

func TestDetectHeadCutCharacter(t *testing.T) {
	head := append(bytes.Repeat([]byte("a"), 100), "é"[0])
	if got := DetectHead(head, false); got != KindText {
		t.Errorf("a head cut inside a character: %s", got)
	}
	if got := DetectHead(head, true); got != KindUnknown {
		t.Errorf("a whole file ending inside a character: %s", got)
	}
	if got := Detect([]byte("GIF89a\x01\x00")); got != "gif" || got.Label() != "GIF image" {
		t.Errorf("GIF: %s %q", got, got.Label())
	}
}

// Every registry entry belongs to a family of engines, and --engines keeps
// a worker to its families: an images worker announces no PDF conversion.
func TestEngineFamilies(t *testing.T) {
	for _, conv := range Conversions() {
		if !slices.Contains(Families, conv.Family) {
			t.Errorf("%s: family %q is none of %v", conv.Name, conv.Family, Families)
		}
	}
	c := converter(t)
	images := &Converter{cfg: Config{Engines: []string{"images"}}.WithDefaults(), font: c.font}
	caps := images.Capabilities()
	if !caps.Can("heic", "jpg") || caps.Can(KindPDF, "txt") || caps.Can(KindText, "pdf") {
		t.Errorf("an images worker announces %v", caps)
	}
	_, err := images.Convert(context.Background(), "txt", minimalPDF, wire.Options{})
	wantError(t, err, fail.UnsupportedOperation, "its pdf engines are off: --engines")
	if err := (Config{Engines: []string{"sound"}}).Validate(); err == nil || !strings.Contains(err.Error(), "images, pdf, office, html") {
		t.Errorf("an unknown family: %v", err)
	}
}
