package kubernetes

import (
	"bufio"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const dockerfilePath = "../Dockerfile"

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	line int
	cmd  string // upper case
	args string
}

type stage struct {
	from, name   string
	instructions []instruction
}

// parseDockerfile splits the Dockerfile into its stages, expanding the ARGs
// declared before the first FROM in FROM lines.
func parseDockerfile(t *testing.T) []stage {
	t.Helper()
	f, err := os.Open(dockerfilePath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var (
		ins     []instruction
		cur     strings.Builder
		start   int
		lineNum int
	)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lineNum++
		l := sc.Text()
		trimmed := strings.TrimSpace(l)
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		if cur.Len() == 0 {
			start = lineNum
		}
		if s, ok := strings.CutSuffix(l, `\`); ok {
			cur.WriteString(s + " ")
			continue
		}
		cur.WriteString(l)
		cmd, args, _ := strings.Cut(strings.TrimSpace(cur.String()), " ")
		ins = append(ins, instruction{line: start, cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args)})
		cur.Reset()
	}
	if cur.Len() > 0 {
		t.Fatalf("Dockerfile ends in a continued line")
	}
	globalArgs := map[string]string{}
	var stages []stage
	for _, in := range ins {
		switch {
		case in.cmd == "FROM":
			from := os.Expand(in.args, func(k string) string { return globalArgs[k] })
			f := strings.Fields(from)
			s := stage{from: f[0]}
			if len(f) == 3 && strings.EqualFold(f[1], "AS") {
				s.name = f[2]
			}
			stages = append(stages, s)
		case len(stages) == 0 && in.cmd == "ARG":
			k, v, _ := strings.Cut(in.args, "=")
			globalArgs[k] = v
		case len(stages) == 0:
			t.Fatalf("Dockerfile line %d: %s before FROM", in.line, in.cmd)
		default:
			stages[len(stages)-1].instructions = append(stages[len(stages)-1].instructions, in)
		}
	}
	return stages
}

func (s stage) all(cmd string) []instruction {
	var out []instruction
	for _, in := range s.instructions {
		if in.cmd == cmd {
			out = append(out, in)
		}
	}
	return out
}

// aptPackages lists the packages a stage installs with apt-get install.
func (s stage) aptPackages() []string {
	var pkgs []string
	for _, in := range s.all("RUN") {
		for _, part := range strings.Split(in.args, "&&") {
			f := strings.Fields(part)
			i := slices.Index(f, "install")
			if i < 0 || !slices.Contains(f[:i], "apt-get") {
				continue
			}
			for _, w := range f[i+1:] {
				if !strings.HasPrefix(w, "-") {
					pkgs = append(pkgs, w)
				}
			}
		}
	}
	return pkgs
}

var userRE = regexp.MustCompile(`^(\d+)(?::(\d+))?$`)

// stageUser is the numeric user a stage's image runs as: its last USER.
func stageUser(t *testing.T, s stage) int64 {
	t.Helper()
	users := s.all("USER")
	if len(users) == 0 {
		t.Fatalf("stage %s has no USER", s.name)
	}
	last := users[len(users)-1]
	m := userRE.FindStringSubmatch(last.args)
	if m == nil {
		t.Fatalf("stage %s: USER %q: want a numeric uid[:gid] (Kubernetes' runAsNonRoot checks numbers only)", s.name, last.args)
	}
	uid, _ := strconv.ParseInt(m[1], 10, 64)
	if uid == 0 {
		t.Fatalf("stage %s: USER %q is root", s.name, last.args)
	}
	return uid
}

// dockerfileUser is the numeric user of both images, small and full.
func dockerfileUser(t *testing.T) int64 {
	t.Helper()
	small, full := imageStages(t)
	uid := stageUser(t, small)
	if full := stageUser(t, full); full != uid {
		t.Fatalf("small runs as %d, full as %d: the manifests give one runAsUser", uid, full)
	}
	return uid
}

// imageStages are the stages of the two images: small (images, PDF) and
// full (small and LibreOffice, Chromium, Tesseract's models).
func imageStages(t *testing.T) (small, full stage) {
	t.Helper()
	stages := parseDockerfile(t)
	if len(stages) != 3 || stages[0].name != "build" || stages[1].name != "small" || stages[2].name != "full" {
		var names []string
		for _, s := range stages {
			names = append(names, s.name)
		}
		t.Fatalf("stages %v, want build, small and full", names)
	}
	return stages[1], stages[2]
}

func TestDockerfile(t *testing.T) {
	stages := parseDockerfile(t)
	small, full := imageStages(t)
	build := stages[0]
	if build.from != small.from || !strings.HasPrefix(build.from, "debian:") {
		t.Errorf("build FROM %s, small FROM %s: want one Debian base (the libraries' versions must match)", build.from, small.from)
	}
	if full.from != "small" {
		t.Errorf("full FROM %s, want small (the same binary and settings, and the engines)", full.from)
	}
	goVersion := goDirective(t)
	var fetchesGo bool
	for _, in := range build.all("ARG") {
		if v, ok := strings.CutPrefix(in.args, "GO_VERSION="); ok && !strings.HasPrefix(v, goVersion+".") {
			t.Errorf("ARG GO_VERSION=%s, want a release of go %s (go.mod)", v, goVersion)
		}
	}
	for _, in := range build.all("RUN") {
		fetchesGo = fetchesGo || strings.Contains(in.args, "/golang.org/toolchain/@v/v0.0.1-go${GO_VERSION}.linux-amd64.zip")
	}
	if !fetchesGo {
		t.Error("the build stage does not take the Go toolchain from the module proxy (golang.org/toolchain)")
	}
	for _, p := range []string{"libvips-dev", "libpoppler-glib-dev", "libqpdf-dev", "libtesseract-dev", "g++"} {
		if !slices.Contains(build.aptPackages(), p) {
			t.Errorf("build stage does not install %s", p)
		}
	}
	for _, p := range []string{"libvips42", "libpoppler-glib8", "libqpdf29", "ca-certificates"} {
		if !slices.Contains(small.aptPackages(), p) {
			t.Errorf("small does not install %s", p)
		}
	}
	for _, p := range []string{"libreoffice-writer-nogui", "chromium", "tesseract-ocr-eng", "fonts-noto-cjk"} {
		if !slices.Contains(full.aptPackages(), p) {
			t.Errorf("full does not install %s", p)
		}
	}
	var out string
	for _, in := range build.all("RUN") {
		if m := regexp.MustCompile(`go build .*-o (\S+) \./cmd/fileconv`).FindStringSubmatch(in.args); m != nil {
			out = m[1]
		}
	}
	copies := small.all("COPY")
	if out == "" || len(copies) != 1 || !strings.Contains(copies[0].args, "--from=build "+out+" ") {
		t.Errorf("small should COPY --from=build the binary the build stage makes (%q): %v", out, copies)
	}
	if e := small.all("ENTRYPOINT"); len(e) != 1 || e[0].args != `["fileconv"]` {
		t.Errorf("ENTRYPOINT %v, want [\"fileconv\"] (the manifests give the subcommand as args)", e)
	}
	if hc := small.all("HEALTHCHECK"); len(hc) != 1 || !strings.Contains(hc[0].args, " CMD ") {
		t.Errorf("want one HEALTHCHECK ... CMD, have %v", hc)
	}
	dockerfileUser(t)
	var exposed []string
	for _, e := range small.all("EXPOSE") {
		exposed = append(exposed, strings.Fields(e.args)...)
	}
	for _, p := range []string{"5000", "6000", "9090", "9091"} {
		if !slices.Contains(exposed, p) {
			t.Errorf("EXPOSE lacks %s", p)
		}
	}
}

// healthcheckCommand is the shell command of the HEALTHCHECK.
func healthcheckCommand(t *testing.T) string {
	small, _ := imageStages(t)
	hc := small.all("HEALTHCHECK")
	if len(hc) != 1 {
		t.Fatal("no HEALTHCHECK")
	}
	_, cmd, ok := strings.Cut(hc[0].args, " CMD ")
	if !ok || strings.HasPrefix(strings.TrimSpace(cmd), "[") {
		t.Fatalf("HEALTHCHECK %q: want the shell form", hc[0].args)
	}
	return cmd
}

func goDirective(t *testing.T) string {
	b, err := os.ReadFile("../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindSubmatch(b)
	if m == nil {
		t.Fatal("go.mod has no go directive")
	}
	return string(m[1])
}

// The runtime packages provide every library the binary links: each library's
// Debian package is installed, or is a dependency of one that is. This test
// binary links what the fileconv binary links (it includes internal/cli).
func TestRuntimePackagesProvideTheLinkedLibraries(t *testing.T) {
	for _, tool := range []string{"dpkg-query", "apt-cache"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("no %s: not a Debian machine", tool)
		}
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	f, err := elf.Open(exe)
	if err != nil {
		t.Skipf("not an ELF binary: %v", err)
	}
	libs, err := f.ImportedLibraries()
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(libs, "libvips.so.42") || !slices.Contains(libs, "libpoppler-glib.so.8") {
		t.Fatalf("the binary links %v: no libvips/poppler-glib (built without cgo?)", libs)
	}
	small, _ := imageStages(t)
	installed := small.aptPackages()
	provided := map[string]bool{"libc6": true} // in every Debian image
	for _, p := range installed {
		provided[p] = true
		out, err := exec.Command("apt-cache", "depends", "--no-recommends", "--no-suggests", p).Output()
		if err != nil {
			t.Skipf("apt-cache depends %s: %v", p, err)
		}
		for _, l := range strings.Split(string(out), "\n") {
			if d, ok := strings.CutPrefix(strings.TrimSpace(l), "Depends: "); ok {
				d, _, _ = strings.Cut(d, ":")
				provided[strings.Trim(d, "<>")] = true
			}
		}
	}
	for _, lib := range libs {
		out, err := exec.Command("dpkg-query", "-S", "*/"+lib).Output()
		if err != nil {
			t.Errorf("%s: no Debian package owns it here (%v)", lib, err)
			continue
		}
		pkg, _, _ := strings.Cut(string(out), ":")
		pkg, _, _ = strings.Cut(pkg, ",")
		if !provided[pkg] {
			t.Errorf("%s comes from %s, which the small image neither installs nor gets through %v", lib, pkg, installed)
		}
	}
}

// fileconvOnPath puts this test binary on PATH as "fileconv" (see TestMain).
func fileconvOnPath(t *testing.T) string {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.Symlink(exe, filepath.Join(dir, "fileconv")); err != nil {
		t.Fatal(err)
	}
	return dir
}
