package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"
)

// envPrefix names the environment variable behind every flag: --max-body is also
// FILECONV_MAX_BODY. A flag on the command line wins over its variable.
const envPrefix = "FILECONV_"

// envOverrides names the variables of flags whose own name would make a cryptic one.
var envOverrides = map[string]string{"o": envPrefix + "OUT_DIR"}

// EnvName is the environment variable that sets flag name.
func EnvName(flagName string) string {
	if v, ok := envOverrides[flagName]; ok {
		return v
	}
	return envPrefix + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// newFlagSet makes a subcommand's flag set whose usage lists each flag's variable.
func newFlagSet(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: fileconv %s\n\nflags (each also read from the environment variable shown):\n", synopsis)
		fs.VisitAll(func(f *flag.Flag) {
			def := ""
			if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" {
				def = fmt.Sprintf(" (default %s)", f.DefValue)
			}
			dashes := "--"
			if len(f.Name) == 1 {
				dashes = "-"
			}
			fmt.Fprintf(stderr, "  %s%s  [%s]\n        %s%s\n", dashes, f.Name, EnvName(f.Name), f.Usage, def)
		})
	}
	return fs
}

// errUsage marks a command-line mistake; the process exits with status 2.
var errUsage = errors.New("usage")

// parse reads args, flags and operands in any order (people write
// "send photo.png --to jpg"), then fills every flag not given on the command line
// from its environment variable. It returns the operands.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var operands []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, fmt.Errorf("%w: %w", errUsage, err)
		}
		rest := fs.Args()
		if consumed := args[:len(args)-len(rest)]; len(consumed) > 0 && consumed[len(consumed)-1] == "--" {
			operands = append(operands, rest...)
			break
		}
		if len(rest) == 0 {
			break
		}
		operands = append(operands, rest[0])
		args = rest[1:]
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		if given[f.Name] {
			return
		}
		if v, ok := os.LookupEnv(EnvName(f.Name)); ok {
			if err := fs.Set(f.Name, v); err != nil {
				errs = append(errs, fmt.Errorf("%w: %s=%q: %w", errUsage, EnvName(f.Name), v, err))
			}
		}
	})
	return operands, errors.Join(errs...)
}

// byteSize is a flag holding a size in bytes, written as 1048576, 512KiB, 8MiB,
// 1GiB, or with decimal units (KB, MB, GB).
type byteSize int64

func (b *byteSize) String() string { return formatBytes(int64(*b)) }

func (b *byteSize) Set(s string) error {
	n, err := parseBytes(s)
	if err != nil {
		return err
	}
	*b = byteSize(n)
	return nil
}

var byteUnits = []struct {
	suffix string
	factor int64
}{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30},
	{"KB", 1000}, {"MB", 1000_000}, {"GB", 1000_000_000},
	{"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30},
	{"B", 1},
}

func parseBytes(s string) (int64, error) {
	s = strings.TrimSpace(s)
	factor := int64(1)
	for _, u := range byteUnits {
		if rest, ok := strings.CutSuffix(s, u.suffix); ok {
			s, factor = strings.TrimSpace(rest), u.factor
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/factor {
		return 0, fmt.Errorf("%q is not a size: write e.g. 1048576, 512KiB, 8MiB or 1GiB", s)
	}
	return n * factor, nil
}

// formatBytes writes n in the largest binary unit that divides it, so defaults read
// as "256MiB" rather than 268435456.
func formatBytes(n int64) string {
	for _, u := range []struct {
		suffix string
		factor int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n >= u.factor && n%u.factor == 0 {
			return fmt.Sprintf("%d%s", n/u.factor, u.suffix)
		}
	}
	return strconv.FormatInt(n, 10)
}

// serverFlags are the settings every long-running subcommand takes: its logs,
// and how long a stop waits for the work in flight.
type serverFlags struct {
	logFlags
	grace time.Duration
}

// register adds the flags; inFlight names the work that --grace waits for.
func (s *serverFlags) register(fs *flag.FlagSet, inFlight string) {
	s.logFlags.register(fs)
	fs.DurationVar(&s.grace, "grace", defaultGrace, "on SIGTERM, how long "+inFlight+" in flight may take to finish")
}

// parse parses args, which may hold flags only, and returns the logger they
// ask for, with tier on every line unless it is "" (up, whose tiers name
// themselves).
func (s *serverFlags) parse(fs *flag.FlagSet, args []string, stderr io.Writer, tier string) (*slog.Logger, error) {
	if err := parseNoOperands(fs, args); err != nil {
		return nil, err
	}
	log, err := s.logger(stderr)
	if err != nil || tier == "" {
		return log, err
	}
	return log.With("tier", tier), nil
}

// logFlags are the logging settings every long-running subcommand takes.
type logFlags struct {
	level  string
	format string
}

func (l *logFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&l.level, "log-level", "info", "least severe level logged: debug, info, warn or error")
	fs.StringVar(&l.format, "log-format", "text", "log line format: text or json")
}

func (l *logFlags) logger(w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(l.level)); err != nil {
		return nil, fmt.Errorf("%w: --log-level %q: use debug, info, warn or error", errUsage, l.level)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch l.format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("%w: --log-format %q: use text or json", errUsage, l.format)
}

// flagGiven reports whether the command line set the flag called name.
func flagGiven(fs *flag.FlagSet, name string) bool {
	given := false
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == name })
	return given
}
