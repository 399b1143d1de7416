package testfiles

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// RerunWithoutFonts runs the test named test again in a child process whose
// fontconfig knows no font, with marker=1 in its environment for the test
// to tell it is the child.
func RerunWithoutFonts(t *testing.T, test, marker string) {
	t.Helper()
	conf := filepath.Join(t.TempDir(), "fonts.conf")
	if err := os.WriteFile(conf, []byte(`<?xml version="1.0"?><fontconfig><cachedir>`+t.TempDir()+`</cachedir></fontconfig>`), 0o600); err != nil {
		t.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run", "^"+test+"$")
	cmd.Env = append(os.Environ(), marker+"=1", "FONTCONFIG_FILE="+conf)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("child: %v\n%s", err, out)
	}
}
