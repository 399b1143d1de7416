package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/fileconv/fileconv/internal/convert"
)

// TestMenuAndHelpFollowTheRegistry registers a conversion in one place and
// finds it in the interactive menu and in --to's help.
func TestMenuAndHelpFollowTheRegistry(t *testing.T) {
	convert.RegisterTarget(convert.Target{Name: "shout", Label: "upper-case text", ContentType: "text/plain; charset=utf-8"})
	convert.Register(convert.Conversion{Name: "test-shout", From: []convert.Kind{convert.KindText}, To: []string{"shout"},
		Run: func(_ *convert.Converter, _ context.Context, in convert.Input) (convert.Result, error) {
			return convert.Result{Output: bytes.ToUpper(in.Data)}, nil
		}})
	t.Cleanup(func() { convert.Unregister("test-shout") })

	jobs := []*sendJob{{in: "notes.txt", kind: convert.KindText}}
	var out bytes.Buffer
	if err := chooseTargets(jobs, strings.NewReader("2\n"), &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "notes.txt (text). Convert to:\n  1. pdf (PDF document)\n  2. shout (upper-case text)\n") {
		t.Errorf("menu:\n%s", out.String())
	}
	if jobs[0].to != "shout" {
		t.Errorf("chose %q", jobs[0].to)
	}
	if help := targetHelp(); !strings.Contains(help, "shout (from text)") || !strings.Contains(help, "txt (from PDF, JPEG, PNG") {
		t.Errorf("--to help: %s", help)
	}
}
