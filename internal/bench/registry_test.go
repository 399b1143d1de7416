package bench_test

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/fileconv/fileconv/internal/bench"
	"github.com/fileconv/fileconv/internal/convert"
)

// TestRegistryConversions checks that "registry" stands for every entry of
// the conversion registry but the merging of several files, each pair going
// to the entry it stands for, so that --overhead measures them all.
func TestRegistryConversions(t *testing.T) {
	covered := map[string]bool{}
	for _, c := range bench.RegistryConversions {
		kind := convert.Kind(c.Input)
		if c.Input == "scan" {
			kind = convert.KindPNG
		}
		entry, ok := convert.Find(kind, c.Target)
		if !ok {
			t.Errorf("%s: the registry converts no %s to %s", c.Name, kind, c.Target)
			continue
		}
		if covered[entry.Name] {
			t.Errorf("%s: entry %s already has a pair", c.Name, entry.Name)
		}
		covered[entry.Name] = true
	}
	for _, entry := range convert.Conversions() {
		if !covered[entry.Name] && entry.From[0] != convert.KindFiles {
			t.Errorf("registry entry %s (%v to %v) has no pair in bench.RegistryConversions", entry.Name, entry.From, entry.To)
		}
	}
	all, err := bench.ParseConversions("registry")
	if err != nil || len(all) != len(bench.RegistryConversions) {
		t.Fatalf("registry: %d, %v", len(all), err)
	}
}

// TestOverheadReportNamesTheRegistryPairs: overhead-report.sh lists the pairs
// it sends generated inputs for (the office documents come from --files); the
// list must stay RegistryConversions' others.
func TestOverheadReportNamesTheRegistryPairs(t *testing.T) {
	script, err := os.ReadFile("overhead-report.sh")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`echo ([a-z,-]+) \|`).FindSubmatch(script)
	if m == nil {
		t.Fatal("overhead-report.sh lists no pairs")
	}
	var want []string
	for _, c := range bench.RegistryConversions {
		if !c.NeedsFiles() {
			want = append(want, c.Name)
		}
	}
	got := strings.Split(string(m[1]), ",")
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("overhead-report.sh lists %v, want the registry pairs with generated inputs %v", got, want)
	}
}
