package wire

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Options tune a conversion. It is the one options type of fileconv: protocol v2
// carries it as JSON, the HTTP API and the CLI fill it with Set, and the
// conversion registry says which options each conversion accepts. The zero
// value asks for v1.0's behaviour: the server's configured quality (85 for JPEG,
// 80 for WEBP by default), lossy WEBP, A4 pages and every page of a PDF.
type Options struct {
	// Quality is the JPEG or lossy WEBP quality, 1 to 100; 0 means the server's default.
	Quality int `json:"quality,omitempty"`
	// Lossless asks for a lossless WEBP.
	Lossless bool `json:"lossless,omitempty"`
	// PageSize is "A4" or "Letter" for pages made from text; empty means A4.
	PageSize string `json:"page_size,omitempty"`
	// Pages selects the pages of a PDF, e.g. "1-3,7,10-"; empty means all.
	Pages string `json:"pages,omitempty"`
}

// Page sizes for TXT→PDF.
const (
	PageSizeA4     = "A4"
	PageSizeLetter = "Letter"
)

// OptionSpec describes one option: its name on the wire, in the HTTP API and as
// a CLI flag, what it does, and how a value is set and checked.
type OptionSpec struct {
	Name string
	// Doc is a one-line description for help texts and the API documentation.
	Doc string
	// Values describes the accepted values, e.g. "1 to 100".
	Values string
	// Bool marks a yes-or-no option, which a flag may give without a value.
	Bool  bool
	isSet func(Options) bool
	set   func(*Options, string) error
	check func(Options) string
}

// optionSpecs lists every option. A new option is a field of Options and an
// entry here; the conversions that accept it name it in their registry entry.
var optionSpecs = []OptionSpec{
	{Name: "quality", Doc: "JPEG or lossy WEBP quality", Values: "1 (smallest file) to 100 (best quality)",
		isSet: func(o Options) bool { return o.Quality != 0 },
		set: func(o *Options, v string) (err error) {
			o.Quality, err = strconv.Atoi(strings.TrimSpace(v))
			if err != nil || o.Quality == 0 {
				return fmt.Errorf("quality: %q is not a whole number from 1 to 100", printable(v))
			}
			return nil
		},
		check: func(o Options) string {
			switch {
			case o.Quality < 1 || o.Quality > 100:
				return fmt.Sprintf("options.quality: %d is out of range; use 1 (smallest file) to 100 (best quality), or leave it out for the server's default", o.Quality)
			case o.Lossless:
				// libwebp reads quality as compression effort in lossless mode:
				// accepting both would let a client believe it traded fidelity for size.
				return "options.quality has no meaning for a lossless WEBP; remove quality or lossless"
			}
			return ""
		}},
	{Name: "lossless", Doc: "lossless WEBP", Values: "true or false", Bool: true,
		isSet: func(o Options) bool { return o.Lossless },
		set: func(o *Options, v string) (err error) {
			o.Lossless, err = strconv.ParseBool(strings.TrimSpace(v))
			if err != nil {
				return fmt.Errorf("lossless: %q is not true or false", printable(v))
			}
			return nil
		}},
	{Name: "page_size", Doc: "page size of a PDF made from text", Values: PageSizeA4 + " or " + PageSizeLetter,
		isSet: func(o Options) bool { return o.PageSize != "" },
		set: func(o *Options, v string) error {
			for _, s := range []string{PageSizeA4, PageSizeLetter} {
				if strings.EqualFold(strings.TrimSpace(v), s) {
					o.PageSize = s
					return nil
				}
			}
			return fmt.Errorf("page_size: %q is not supported; use %s or %s", printable(v), PageSizeA4, PageSizeLetter)
		},
		check: func(o Options) string {
			if o.PageSize != PageSizeA4 && o.PageSize != PageSizeLetter {
				return fmt.Sprintf("options.page_size: %q is not supported; use %q or %q", printable(o.PageSize), PageSizeA4, PageSizeLetter)
			}
			return ""
		}},
	{Name: "pages", Doc: "pages of a PDF", Values: `page numbers and ranges, e.g. "1-3,7,10-"`,
		isSet: func(o Options) bool { return o.Pages != "" },
		set: func(o *Options, v string) error {
			if _, err := ParsePageRanges(v); err != nil {
				return fmt.Errorf("pages: %w", err)
			}
			o.Pages = v
			return nil
		},
		check: func(o Options) string {
			if _, err := ParsePageRanges(o.Pages); err != nil {
				return "options.pages: " + err.Error()
			}
			return ""
		}},
}

// OptionSpecs lists every option fileconv knows.
func OptionSpecs() []OptionSpec { return slices.Clone(optionSpecs) }

// OptionNames lists every option's name.
func OptionNames() []string {
	names := make([]string, len(optionSpecs))
	for i, s := range optionSpecs {
		names[i] = s.Name
	}
	return names
}

func optionSpec(name string) *OptionSpec {
	for i := range optionSpecs {
		if strings.EqualFold(optionSpecs[i].Name, name) {
			return &optionSpecs[i]
		}
	}
	return nil
}

// Set parses one option from its text form, as the HTTP API's query and the
// CLI's flags give it. An unknown name is an error naming the known ones.
func (o *Options) Set(name, value string) error {
	spec := optionSpec(name)
	if spec == nil {
		return fmt.Errorf("unknown option %q; the options are %s", printable(name), strings.Join(OptionNames(), ", "))
	}
	return spec.set(o, value)
}

// Names lists the options that are set, in the order of OptionNames.
func (o Options) Names() []string {
	var names []string
	for _, s := range optionSpecs {
		if s.isSet(o) {
			names = append(names, s.Name)
		}
	}
	return names
}

// Validate checks the value of every option that is set; whether an option fits
// the conversion is Applies's business, once the input's kind is known.
func (o Options) Validate() error {
	if p := o.validate(); p != nil {
		return badRequest("%s", strings.Join(p, "; "))
	}
	return nil
}

func (o Options) validate() []string {
	var p []string
	for _, s := range optionSpecs {
		if s.isSet(o) && s.check != nil {
			if msg := s.check(o); msg != "" {
				p = append(p, msg)
			}
		}
	}
	return p
}

// Applies checks that every option set is one that accepted lists: an option the
// conversion would ignore is an error rather than silently dropped, so a client
// learns that its request will not do what it meant. what names the conversion
// for the message, e.g. "text to pdf".
func (o Options) Applies(accepted []string, what string) error {
	var p []string
	for _, name := range o.Names() {
		if !slices.Contains(accepted, name) {
			use := "it takes no options"
			if len(accepted) > 0 {
				use = "it takes " + strings.Join(accepted, ", ")
			}
			p = append(p, fmt.Sprintf("options.%s does not apply to %s (%s); remove it", name, what, use))
		}
	}
	if p != nil {
		return errors.New(strings.Join(p, "; "))
	}
	return nil
}
