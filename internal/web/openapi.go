package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/fileconv/fileconv/internal/convert"
	"github.com/fileconv/fileconv/internal/fail"
	"github.com/fileconv/fileconv/internal/wire"
)

// The OpenAPI document is static/openapi.json with whatever the conversion
// registry, wire's options and fail's table decide filled in when it is
// served: the enums of targets, options, input types and error codes, the
// option parameters, the result's content types and the error statuses. The
// file keeps the prose and the shapes only, so that a conversion, an option or
// an error code added elsewhere shows here without an edit, and nothing here
// can fall out of date.

func (s *Server) handleOpenAPI(w http.ResponseWriter, r *http.Request) {
	b, err := s.openAPI()
	if err != nil {
		writeError(w, apiError{status: http.StatusInternalServerError, Code: string(fail.Internal), Message: err.Error()})
		return
	}
	w.Header().Set("Content-Type", "application/json")
	// The registry can change with the binary only, but a cached copy would
	// outlive an upgrade.
	w.Header().Set("Cache-Control", "no-cache")
	w.Write(b)
}

// openAPI builds the document. It is made for each request: it is small, and
// what it shows may be registered after the server starts (tests do).
func (s *Server) openAPI() ([]byte, error) {
	raw, err := staticFiles.ReadFile("static/openapi.json")
	if err != nil {
		return nil, err
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("static/openapi.json: %w", err)
	}
	f := s.formats(nil)
	expand(doc, strings.NewReplacer(
		"{conversions}", conversionsText(f, func(t string) string { return t }),
		"{targets}", convert.JoinWords(targetNames(f), "or"),
		"{options}", convert.JoinWords(wire.OptionNames(), "and"),
	))
	if err := fillConvert(doc, f); err != nil {
		return nil, fmt.Errorf("static/openapi.json: %w", err)
	}
	if err := fillSchemas(doc, f); err != nil {
		return nil, fmt.Errorf("static/openapi.json: %w", err)
	}
	return json.MarshalIndent(doc, "", "  ")
}

// fillConvert completes POST /api/v1/convert: the values of to, a parameter
// and a form field per option, a content type per target, and a response per
// status of fail's table.
func fillConvert(doc map[string]any, f Formats) error {
	post, err := object(doc, "paths", "/api/v1/convert", "post")
	if err != nil {
		return err
	}
	form, err := object(post, "requestBody", "content", "multipart/form-data", "schema", "properties")
	if err != nil {
		return err
	}
	to, err := object(form, "to")
	if err != nil {
		return err
	}
	to["enum"] = toValues(f)
	params, _ := post["parameters"].([]any)
	for _, p := range params {
		if p, ok := p.(map[string]any); ok && p["name"] == "to" {
			p["schema"] = map[string]any{"type": "string", "enum": toValues(f)}
		}
	}
	for _, spec := range wire.OptionSpecs() {
		doc := optionDoc(spec, f)
		params = append(params, map[string]any{"name": spec.Name, "in": "query", "description": doc, "schema": optionSchema(spec.Name)})
		form[spec.Name] = withDescription(optionSchema(spec.Name), doc)
	}
	post["parameters"] = params
	content, err := object(post, "responses", "200", "content")
	if err != nil {
		return err
	}
	for _, t := range f.Targets {
		schema := map[string]any{"type": "string", "format": "binary"}
		if strings.HasPrefix(t.ContentType, "text/") {
			schema = map[string]any{"type": "string"}
		}
		content[t.ContentType] = map[string]any{"schema": schema}
	}
	// Several files in one answer: a PDF's pages as pictures, a split.
	content[convert.ZipContentType] = map[string]any{"schema": map[string]any{"type": "string", "format": "binary"}}
	responses, _ := object(post, "responses")
	for _, spec := range fail.Specs() {
		status := strconv.Itoa(spec.HTTPStatus)
		if _, ok := responses[status]; !ok {
			ref := "#/components/responses/Error"
			if spec.HTTPStatus == http.StatusTooManyRequests || spec.HTTPStatus == http.StatusServiceUnavailable {
				ref = "#/components/responses/Retry"
			}
			responses[status] = map[string]any{"$ref": ref}
		}
	}
	return nil
}

// fillSchemas sets the enums of the components' schemas.
func fillSchemas(doc map[string]any, f Formats) error {
	schemas, err := object(doc, "components", "schemas")
	if err != nil {
		return err
	}
	var codes, meanings []string
	for _, spec := range fail.Specs() {
		codes = append(codes, string(spec.Code))
		meanings = append(meanings, "- `"+string(spec.Code)+"`: "+spec.Meaning)
	}
	for _, c := range webCodes {
		codes = append(codes, c.Code)
		meanings = append(meanings, "- `"+c.Code+"`: "+c.Meaning)
	}
	var kinds []string
	for _, k := range convert.Kinds() {
		kinds = append(kinds, string(k.Kind))
	}
	kinds = append(kinds, string(convert.KindUnknown))
	names := targetNames(f)
	for _, e := range []struct {
		path   []string
		values []string
	}{
		{[]string{"Error", "properties", "code"}, codes},
		{[]string{"Formats", "properties", "targets", "items", "properties", "to"}, names},
		{[]string{"Formats", "properties", "targets", "items", "properties", "options", "items"}, wire.OptionNames()},
		{[]string{"Input", "properties", "type"}, kinds},
		{[]string{"Input", "properties", "targets", "items"}, names},
	} {
		schema, err := object(schemas, e.path...)
		if err != nil {
			return err
		}
		schema["enum"] = e.values
	}
	code, _ := object(schemas, "Error", "properties", "code")
	// OpenAPI descriptions are CommonMark: one line per code.
	code["description"] = "the kind of failure:\n\n" + strings.Join(meanings, "\n")
	return nil
}

// toValues is what the to parameter accepts: the targets' names, their aliases
// and the v1.0 operation numbers of those that have one.
func toValues(f Formats) []string {
	var names, aliases, ops []string
	for _, t := range f.Targets {
		names = append(names, t.To)
		if rt, ok := convert.LookupTarget(t.To); ok {
			aliases = append(aliases, rt.Aliases...)
		}
		if t.Op != 0 {
			ops = append(ops, strconv.Itoa(t.Op))
		}
	}
	return slices.Concat(names, aliases, ops)
}

// optionDoc describes an option and names the targets that take it.
func optionDoc(spec wire.OptionSpec, f Formats) string {
	var takers []string
	for _, t := range f.Targets {
		if slices.Contains(t.Options, spec.Name) {
			takers = append(takers, t.To)
		}
	}
	doc := spec.Doc + ": " + spec.Values
	if len(takers) > 0 {
		doc += "; for " + convert.JoinWords(takers, "and")
	}
	return doc
}

// optionSchema is the JSON schema of an option's value, read from its field in
// wire.Options (the one options type), so that a new option needs no edit here.
func optionSchema(name string) map[string]any {
	t := reflect.TypeFor[wire.Options]()
	for i := range t.NumField() {
		field := t.Field(i)
		if tag, _, _ := strings.Cut(field.Tag.Get("json"), ","); tag != name {
			continue
		}
		switch field.Type.Kind() {
		case reflect.Bool:
			return map[string]any{"type": "boolean"}
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
			reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			return map[string]any{"type": "integer"}
		}
	}
	return map[string]any{"type": "string"}
}

func withDescription(schema map[string]any, doc string) map[string]any {
	schema["description"] = doc
	return schema
}

func targetNames(f Formats) []string {
	var names []string
	for _, t := range f.Targets {
		names = append(names, t.To)
	}
	return names
}

// conversionsText says what converts to what, inputs with the same targets
// together: "PDF to TXT; JPEG image, PNG image or WEBP image to JPG, PNG or
// WEBP; text to PDF". name spells a target. The page says the same in its
// own code, from /api/v1/formats.
func conversionsText(f Formats, name func(string) string) string {
	var keys []string
	groups := map[string][]string{}
	for _, in := range f.Inputs {
		// The key lists the targets in the registry's order, whatever the
		// input's default, so that JPEG (to PNG first) and PNG (to JPG first)
		// fall together.
		var targets []string
		for _, t := range targetNames(f) {
			if slices.Contains(in.Targets, t) {
				targets = append(targets, name(t))
			}
		}
		key := convert.JoinWords(targets, "or")
		if _, ok := groups[key]; !ok {
			keys = append(keys, key)
		}
		groups[key] = append(groups[key], in.Name)
	}
	var parts []string
	for _, key := range keys {
		parts = append(parts, convert.JoinWords(groups[key], "or")+" to "+key)
	}
	return strings.Join(parts, "; ")
}

// object walks doc down keys to an object; the template lacking one is a bug
// of the embedded file, which the tests catch.
func object(doc map[string]any, keys ...string) (map[string]any, error) {
	cur := doc
	for i, k := range keys {
		next, ok := cur[k].(map[string]any)
		if !ok {
			return nil, fmt.Errorf("no object at %s", strings.Join(keys[:i+1], "."))
		}
		cur = next
	}
	return cur, nil
}

// expand replaces the placeholders in every string of v, in place.
func expand(v any, r *strings.Replacer) {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if s, ok := x.(string); ok {
				v[k] = r.Replace(s)
			} else {
				expand(x, r)
			}
		}
	case []any:
		for i, x := range v {
			if s, ok := x.(string); ok {
				v[i] = r.Replace(s)
			} else {
				expand(x, r)
			}
		}
	}
}
