package convert

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/fileconv/fileconv/internal/fail"
	"github.com/fileconv/fileconv/internal/wire"
)

// The conversion registry is the one place that says what converts to what.
// Everything users see — /api/v1/formats, the OpenAPI enums, the CLI's menu and
// --to help, the page's drop-down, error messages, a worker's capabilities — is
// generated from it. Adding a conversion is its converter file and one Register
// call.

// Target is an output format, named by users: "jpg", "pdf", ...
type Target struct {
	Name string
	// Aliases are other names users type for it: "jpeg" for jpg.
	Aliases     []string
	Label       string
	ContentType string
}

// Conversion is one registry entry: the kinds it takes, the targets it makes,
// the options it accepts, the engine it needs, and the function that runs it.
type Conversion struct {
	// Name identifies the entry in logs, capabilities and --disable-conversions.
	Name    string
	From    []Kind
	To      []string
	Options []string
	// Engine names the library or program that does the work, for status pages.
	Engine string
	// Family is the group of engines it needs, which a worker's --engines
	// turns on or off: one of Families.
	Family string
	// Limits names the settings that bound it, for the documentation.
	Limits []string
	// Original marks the conversions of the original system, which a worker
	// that announces no capabilities (an older one) is taken to do.
	Original bool
	// V2Only keeps a conversion from protocol v1.0 clients, whose operations
	// mean the original system's conversions: to them, a PDF sent with
	// operation 4 (text to PDF) is refused as the original refused it, not
	// rewritten by qpdf.
	V2Only bool
	Run    func(c *Converter, ctx context.Context, in Input) (Result, error)
}

// Input is what a conversion gets: the detected kind, the target and the bytes.
type Input struct {
	Kind   Kind
	Target string
	Data   []byte
	// Name is the client's file name, informational: it names what a result
	// holds (the pages in a ZIP), never a path.
	Name string
	// Files are the files of a job of several files (Kind is KindFiles).
	Files []File
	// V1 marks a protocol v1.0 client's input, which gets the original's
	// conversion (Job.V1).
	V1 bool
}

var registry struct {
	sync.RWMutex
	targets     []Target
	conversions []Conversion
}

// RegisterTarget adds an output format; registering a name twice panics.
func RegisterTarget(t Target) {
	registry.Lock()
	defer registry.Unlock()
	for _, have := range registry.targets {
		if have.Name == t.Name {
			panic("convert: target " + t.Name + " registered twice")
		}
	}
	registry.targets = append(registry.targets, t)
}

// Register adds a conversion. Its targets must be registered; a (kind, target)
// pair that another entry already makes panics, so that one pair has one way.
func Register(c Conversion) {
	registry.Lock()
	defer registry.Unlock()
	for _, to := range c.To {
		if !slices.ContainsFunc(registry.targets, func(t Target) bool { return t.Name == to }) {
			panic("convert: conversion " + c.Name + " makes unregistered target " + to)
		}
		for _, from := range c.From {
			if _, ok := findLocked(from, to); ok {
				panic(fmt.Sprintf("convert: %s to %s registered twice", from, to))
			}
		}
	}
	registry.conversions = append(registry.conversions, c)
}

// Unregister removes a conversion by name, and the targets only it made; for
// tests that register their own.
func Unregister(name string) {
	registry.Lock()
	defer registry.Unlock()
	registry.conversions = slices.DeleteFunc(registry.conversions, func(c Conversion) bool { return c.Name == name })
	registry.targets = slices.DeleteFunc(registry.targets, func(t Target) bool {
		return !slices.ContainsFunc(registry.conversions, func(c Conversion) bool { return slices.Contains(c.To, t.Name) })
	})
}

// Conversions lists the registry's entries in registration order.
func Conversions() []Conversion {
	registry.RLock()
	defer registry.RUnlock()
	return slices.Clone(registry.conversions)
}

// Targets lists every output format, in registration order.
func Targets() []Target {
	registry.RLock()
	defer registry.RUnlock()
	return slices.Clone(registry.targets)
}

// TargetNames lists the names of Targets.
func TargetNames() []string {
	var names []string
	for _, t := range Targets() {
		names = append(names, t.Name)
	}
	return names
}

// LookupTarget finds a target by name or alias, in any case and with or
// without a leading dot, as users type extensions.
func LookupTarget(name string) (Target, bool) {
	name = strings.ToLower(strings.TrimPrefix(strings.TrimSpace(name), "."))
	for _, t := range Targets() {
		if t.Name == name || slices.Contains(t.Aliases, name) {
			return t, true
		}
	}
	return Target{}, false
}

// ParseTarget is LookupTarget for what a user typed: the error lists the targets.
func ParseTarget(name string) (string, error) {
	if t, ok := LookupTarget(name); ok {
		return t.Name, nil
	}
	return "", fail.New(fail.UnsupportedOperation, fmt.Sprintf("%q is not a format fileconv makes; use %s", wire.Printable(name), JoinWords(TargetNames(), "or")))
}

// Find returns the conversion of kind from to target to.
func Find(from Kind, to string) (Conversion, bool) {
	registry.RLock()
	defer registry.RUnlock()
	return findLocked(from, to)
}

func findLocked(from Kind, to string) (Conversion, bool) {
	for _, c := range registry.conversions {
		if slices.Contains(c.From, from) && slices.Contains(c.To, to) {
			return c, true
		}
	}
	return Conversion{}, false
}

// TargetsFrom lists the targets a kind converts to, in registration order.
func TargetsFrom(k Kind) []string {
	var out []string
	for _, c := range Conversions() {
		if slices.Contains(c.From, k) {
			for _, t := range c.To {
				if !slices.Contains(out, t) {
					out = append(out, t)
				}
			}
		}
	}
	return out
}

// Capabilities is what a worker can convert: each input kind with its targets.
// It travels in the worker's answer to the master's probe.
type Capabilities map[Kind][]string

// Can reports whether caps holds from → to.
func (caps Capabilities) Can(from Kind, to string) bool { return slices.Contains(caps[from], to) }

// CanMake reports whether caps makes to from any kind.
func (caps Capabilities) CanMake(to string) bool {
	for _, targets := range caps {
		if slices.Contains(targets, to) {
			return true
		}
	}
	return false
}

// capabilitiesOf lists what the conversions that keep says yes to can do.
func capabilitiesOf(keep func(Conversion) bool) Capabilities {
	caps := Capabilities{}
	for _, c := range Conversions() {
		if !keep(c) {
			continue
		}
		for _, from := range c.From {
			for _, to := range c.To {
				if !slices.Contains(caps[from], to) {
					caps[from] = append(caps[from], to)
				}
			}
		}
	}
	return caps
}

// OriginalCapabilities is what a worker that announces nothing is taken to do:
// the conversions of the original system, from the kinds it read.
func OriginalCapabilities() Capabilities {
	caps := capabilitiesOf(func(c Conversion) bool { return c.Original })
	for kind := range caps {
		if !slices.Contains(originalKinds, kind) {
			delete(caps, kind)
		}
	}
	return caps
}

// originalKinds are the inputs the original system read.
var originalKinds = []Kind{KindJPEG, KindPNG, KindWEBP, KindText, KindPDF}

// Plan finds the conversion of an input of kind from to target to and checks
// opts against it. head is the start of the input (or all of it), for saying
// where a would-be text stops being one. Every error is a *fail.Error in the
// user's words, naming what was detected and what it can become.
func Plan(from Kind, to string, opts wire.Options, head []byte) (Conversion, error) {
	if _, ok := LookupTarget(to); !ok {
		_, err := ParseTarget(to)
		return Conversion{}, err
	}
	conv, ok := Find(from, to)
	if !ok {
		return Conversion{}, mismatch(from, to, head)
	}
	if err := opts.Applies(conv.Options, fmt.Sprintf("%s to %s", from.Label(), to)); err != nil {
		return Conversion{}, fail.Wrap(fail.BadRequest, err.Error(), err)
	}
	return conv, nil
}

// PlanV1 is Plan for a request of a protocol v1.0 client (one relayed by a
// master included), which takes no options and gets no V2Only conversion.
func PlanV1(from Kind, to string, head []byte) (Conversion, error) {
	if from == KindHTML || from == KindRTF {
		// The original system drew a web page's or an RTF file's source as text.
		from = KindText
	}
	conv, err := Plan(from, to, wire.Options{}, head)
	if err == nil && conv.V2Only {
		return Conversion{}, mismatch(from, to, head)
	}
	return conv, err
}

// v1Unrecognised is protocol v1.0's fixed answer for an input of no known kind
// (docs/protocol.md): v1.0 clients know only the original conversions.
const v1Unrecognised = "unrecognised input: expected a JPEG, PNG or WEBP image, UTF-8 text or a PDF"

// mismatch explains why an input of kind from does not become to.
func mismatch(from Kind, to string, head []byte) error {
	if from == KindUnknown && to == "pdf" && len(head) > 0 {
		// Someone asking for a PDF of an unrecognised file most likely has a
		// text in mind; saying where it stops being UTF-8 helps more.
		if err := notText(head); err != nil {
			notTextV2(err, head)
			return err
		}
	}
	targets := TargetsFrom(from)
	if len(targets) == 0 {
		msg := fmt.Sprintf("unrecognised input: this cluster converts %s", JoinWords(convertibleLabels(), "and"))
		if from != KindUnknown {
			msg = fmt.Sprintf("%s: this cluster does not convert %s; it converts %s", from.Label(), from.Info().Short, JoinWords(convertibleLabels(), "and"))
		}
		return &Error{Code: fail.TypeMismatch, Message: msg, V1Message: v1NoConversion(to, head)}
	}
	return &Error{Code: fail.TypeMismatch,
		Message:   fmt.Sprintf("%s: it converts to %s, not %s", from.Label(), JoinWords(targets, "or"), to),
		V1Message: v1UseOperation(from, v1Targets(from))}
}

// v1Targets lists the targets a kind converts to for a v1.0 client.
func v1Targets(k Kind) []string {
	var out []string
	for _, c := range Conversions() {
		if slices.Contains(c.From, k) && !c.V2Only {
			out = append(out, c.To...)
		}
	}
	return out
}

// v1NoConversion is the v1.0 answer for an input of a kind without conversions:
// v1.0 knew only five kinds, and to its operation 4 (text to PDF) anything else
// is a text that stops being UTF-8 somewhere.
func v1NoConversion(to string, head []byte) string {
	if to == "pdf" {
		if err := notText(head); err != nil {
			return err.Message
		}
	}
	return v1Unrecognised
}

// v1UseOperation is the v1.0 answer for a kind sent with the wrong operation:
// "PDF detected: use operation 5 (to TXT)".
func v1UseOperation(from Kind, targets []string) string {
	var nums, formats []string
	for _, op := range wire.Operations {
		if slices.Contains(targets, op.Target()) {
			nums = append(nums, fmt.Sprint(uint32(op)))
			formats = append(formats, op.Format())
		}
	}
	if nums == nil {
		return v1Unrecognised
	}
	return fmt.Sprintf("%s detected: use operation %s (to %s)", from.Label(), JoinWords(nums, "or"), JoinWords(formats, "or"))
}

// convertibleLabels names the kinds that convert to something.
// Image kinds are named together, by their formats' names, since a list of
// fifteen "... image" labels reads badly: "images (JPEG, PNG, GIF, ...)".
func convertibleLabels() []string {
	var labels, office, images []string
	for _, info := range kinds {
		switch {
		case len(TargetsFrom(info.Kind)) == 0, info.Kind == KindFiles, info.Kind == KindOLE2,
			info.Kind == KindMarkdown, info.Kind == KindCSV: // texts, which "text" names
		case slices.Contains(officeKinds, info.Kind):
			office = append(office, info.Short)
		case info.Image:
			images = append(images, info.Short)
		default:
			labels = append(labels, info.Label)
		}
	}
	if len(office) > 0 {
		labels = append(labels, "office documents ("+strings.Join(office, ", ")+")")
	}
	switch len(images) {
	case 0:
	case 1:
		labels = append(labels, images[0]+" images")
	default:
		labels = append(labels, "images ("+strings.Join(images, ", ")+")")
	}
	return labels
}

// JoinWords joins "a", "b", "c" as "a, b or c" (conj "or"), for messages.
func JoinWords(words []string, conj string) string {
	switch len(words) {
	case 0:
		return ""
	case 1:
		return words[0]
	}
	return strings.Join(words[:len(words)-1], ", ") + " " + conj + " " + words[len(words)-1]
}
