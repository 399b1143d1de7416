package htmlpdf

import (
	"os/exec"
	"strings"
)

// fontPackages are the font families the default stylesheet names, and the
// Debian packages that hold them.
var fontPackages = []struct{ family, pkg string }{
	{"Noto Sans", "fonts-noto-core"},
	{"Noto Serif", "fonts-noto-core"},
	{"Noto Sans Arabic", "fonts-noto-core"},
	{"Noto Sans Hebrew", "fonts-noto-core"},
	{"Noto Sans Devanagari", "fonts-noto-core"},
	{"Noto Sans CJK SC", "fonts-noto-cjk"},
	{"Noto Color Emoji", "fonts-noto-color-emoji"},
	{"DejaVu Sans", "fonts-dejavu-core"},
	{"DejaVu Sans Mono", "fonts-dejavu-core"},
}

// missingFonts asks fontconfig (which Chromium uses) for each family; it
// returns those it lacks, with their package. Without fc-list it says nothing.
func missingFonts() []string {
	fcList, err := exec.LookPath("fc-list")
	if err != nil {
		return nil
	}
	out, err := exec.Command(fcList, ":", "family").Output()
	if err != nil {
		return nil
	}
	have := map[string]bool{}
	for line := range strings.SplitSeq(string(out), "\n") {
		for name := range strings.SplitSeq(line, ",") {
			have[strings.TrimSpace(name)] = true
		}
	}
	var missing []string
	for _, f := range fontPackages {
		if !have[f.family] {
			missing = append(missing, f.family+" (Debian package "+f.pkg+")")
		}
	}
	return missing
}
